//! Fuzz target `mapping`: see `crm_rules_fuzz::mapping`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::mapping(data));
