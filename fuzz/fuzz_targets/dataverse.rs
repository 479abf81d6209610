//! Fuzz target `dataverse`: see `crm_rules_fuzz::dataverse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::dataverse(data));
