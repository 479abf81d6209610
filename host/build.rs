//! Builds the reference rule module, which the host embeds, the example custom
//! module, and the hostile and attack modules of the sandbox tests.

fn main() {
    let root = crm_rules_build::workspace_root();
    let built = crm_rules_build::build_components(
        &root,
        &["guest-rules", "acme-rules", "hostile-rules", "attack-rules"],
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
            "tests/attack-rules/src",
            "tests/attack-rules/Cargo.toml",
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
    println!(
        "cargo:rustc-env=CRM_RULES_ATTACK_WASM={}",
        built[3].display()
    );
}
