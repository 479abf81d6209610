//! Builds the reference rule module, which the host embeds, the example custom
//! module, and the hostile module of the sandbox tests.

fn main() {
    let root = crm_rules_build::workspace_root();
    use crm_rules_build::Target::{ImportFree, Wasip2};
    let built = crm_rules_build::build_components(
        &root,
        &[
            ("guest-rules", ImportFree),
            ("acme-rules", ImportFree),
            // The hostile module probes what WASI would give it: built with WASI.
            ("hostile-rules", Wasip2),
        ],
        &[
            "wit",
            "model/src",
            "model/Cargo.toml",
            "guest-rules/src",
            "guest-rules/Cargo.toml",
            "examples/acme-rules/src",
            "examples/acme-rules/Cargo.toml",
            "tests/hostile-rules/src",
            "tests/hostile-rules/Cargo.toml",
        ],
    );
    println!(
        "cargo:rustc-env=CRM_RULES_REFERENCE_WASM={}",
        built[0].display()
    );
    println!("cargo:rustc-env=CRM_RULES_ACME_WASM={}", built[1].display());
    println!(
        "cargo:rustc-env=CRM_RULES_HOSTILE_WASM={}",
        built[2].display()
    );
}
