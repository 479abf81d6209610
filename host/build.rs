//! Builds the reference rule module, which the host embeds, and the example custom
//! module, which the end-to-end tests load.

fn main() {
    let root = crm_rules_build::workspace_root();
    let built = crm_rules_build::build_components(
        &root,
        &["guest-rules", "acme-rules"],
        &[
            "wit",
            "model/src",
            "model/Cargo.toml",
            "guest-rules/src",
            "guest-rules/Cargo.toml",
            "examples/acme-rules/src",
            "examples/acme-rules/Cargo.toml",
        ],
    );
    println!(
        "cargo:rustc-env=CRM_RULES_REFERENCE_WASM={}",
        built[0].display()
    );
    println!("cargo:rustc-env=CRM_RULES_ACME_WASM={}", built[1].display());
}
