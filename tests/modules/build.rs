//! Builds the modules the tests load. Only the tests depend on this crate (as a
//! dev-dependency), so a build of the library or the program never compiles them.

fn main() {
    let root = crm_rules_build::workspace_root();
    use crm_rules_build::Target::{ImportFree, Wasip2};
    let built = crm_rules_build::build_components(
        &root,
        &[
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
    for (name, path) in ["ACME", "HOSTILE", "ATTACK", "CONTRACT_ATTACK"]
        .iter()
        .zip(&built)
    {
        println!("cargo:rustc-env=CRM_RULES_{name}_WASM={}", path.display());
    }
}
