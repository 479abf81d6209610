//! Fuzz target `hubspot`: see `crm_rules_fuzz::hubspot`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::hubspot(data));
