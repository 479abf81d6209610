//! Fuzz target `records`: see `crm_rules_fuzz::records`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::records(data));
