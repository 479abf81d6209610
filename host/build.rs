//! Builds the reference rule module, which the library embeds. The modules the
//! tests load are built by `tests/modules`, for the tests only.

fn main() {
    let root = crm_rules_build::workspace_root();
    let built = crm_rules_build::build_components(
        &root,
        &[("guest-rules", crm_rules_build::Target::ImportFree)],
        &[
            "wit",
            "model/src",
            "model/Cargo.toml",
            "guest-rules/src",
            "guest-rules/Cargo.toml",
        ],
    );
    println!(
        "cargo:rustc-env=CRM_RULES_REFERENCE_WASM={}",
        built[0].display()
    );
}
