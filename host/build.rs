//! Builds the reference rule module so the host can embed it.

fn main() {
    let root = crm_rules_build::workspace_root();
    let wasm = crm_rules_build::build_component(
        &root,
        "guest-rules",
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
        wasm.display()
    );
}
