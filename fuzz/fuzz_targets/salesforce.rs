//! Fuzz target `salesforce`: see `crm_rules_fuzz::salesforce`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::salesforce(data));
