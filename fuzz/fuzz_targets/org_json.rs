//! Fuzz target `org_json`: see `crm_rules_fuzz::org_json`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::org_json(data));
