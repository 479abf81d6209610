//! Fuzz target `policy`: see `crm_rules_fuzz::policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::policy(data));
