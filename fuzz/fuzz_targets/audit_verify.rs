//! Fuzz target `audit_verify`: see `crm_rules_fuzz::audit_verify`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| crm_rules_fuzz::audit_verify(data));
