//! Builds the reference rule module, which the host embeds, the example custom
//! module, and the hostile and attack modules of the sandbox tests.

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
            // Attacks on the WASI surface, written against the frozen 0.1.0 contract.
            ("attack-rules", Wasip2),
            // Answers outside the 0.2.0 contract (indices that do not exist).
            ("contract-attack-rules", ImportFree),
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
            "tests/attack-rules/src",
            "tests/attack-rules/Cargo.toml",
            "tests/contract-attack-rules/src",
            "tests/contract-attack-rules/Cargo.toml",
        ],
    );
    println!(
        "cargo:rustc-env=CRM_RULES_REFERENCE_WASM={}",
        built[0].display()
    );
    println!("cargo:rustc-env=CRM_RULES_ACME_WASM={}", built[1].display());
    // The example org folder holds its module, as a consultant ships it: paths in
    // org.json never lead outside the org folder.
    copy_if_changed(&built[1], &root.join("examples/acme/acme_rules.wasm"));
    println!(
        "cargo:rustc-env=CRM_RULES_HOSTILE_WASM={}",
        built[2].display()
    );
    println!(
        "cargo:rustc-env=CRM_RULES_ATTACK_WASM={}",
        built[3].display()
    );
    println!(
        "cargo:rustc-env=CRM_RULES_CONTRACT_ATTACK_WASM={}",
        built[4].display()
    );
}

fn copy_if_changed(from: &std::path::Path, to: &std::path::Path) {
    let bytes = std::fs::read(from)
        .unwrap_or_else(|e| panic!("cannot read the built module {}: {e}", from.display()));
    if std::fs::read(to).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(to, &bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
    }
}
