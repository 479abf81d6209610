//! Build-script helper: builds a rule-module crate of this workspace into a
//! WebAssembly component, so that `cargo build` and `cargo test` need no separate
//! step.
//!
//! The component is built by a nested `cargo` with its own target directory
//! (`target/components/<package>`): sharing the outer build's directory would wait forever on
//! the lock the outer build holds.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The target every rule module is built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Builds `packages` (crates of the workspace rooted at `workspace`) for
/// `wasm32-wasip2` in release mode and returns the components' paths in the same
/// order.
///
/// Each package gets a cargo run of its own: built together, cargo would unify the
/// features of their shared dependencies, and a custom module would then export the
/// reference module too.
///
/// `watch` lists the directories (relative to the workspace) whose changes must
/// rebuild them.
pub fn build_components(workspace: &Path, packages: &[&str], watch: &[&str]) -> Vec<PathBuf> {
    for dir in watch {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    // One target directory per package too: a library with a `cdylib` crate type is
    // linked as a component even when it is only a dependency, and would overwrite
    // the real one of the same name.
    packages
        .iter()
        .map(|package| {
            let target_dir = workspace.join("target").join("components").join(package);
            build_one(workspace, &target_dir, package)
        })
        .collect()
}

fn build_one(workspace: &Path, target_dir: &Path, package: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--release", "--package", package])
        .args(["--target", TARGET])
        .arg("--target-dir")
        .arg(target_dir);
    // The outer build's settings are for the host's target, not for the guest's.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let outer = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key.starts_with("RUSTDOC")
            || matches!(
                &*key,
                "RUSTFLAGS"
                    | "TARGET"
                    | "HOST"
                    | "PROFILE"
                    | "OPT_LEVEL"
                    | "DEBUG"
                    | "OUT_DIR"
                    | "NUM_JOBS"
            );
        if outer {
            command.env_remove(&*key);
        }
    }
    // Rule modules are small and run on every decision: optimise them whole
    // (link-time optimisation, one code unit). Only the guests' build sees this.
    command
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1");
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build the rule module {package}: {e}"));
    if !status.success() {
        panic!(
            "building the rule module {package} for {TARGET} failed ({status}); \
             is the target installed? `rustup target add {TARGET}`"
        );
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    target_dir.join(TARGET).join("release").join(file)
}

/// The workspace root, seen from a build script of a crate one level below it.
pub fn workspace_root() -> PathBuf {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut dir = PathBuf::from(manifest);
    while !dir.join("wit").is_dir() {
        if !dir.pop() {
            panic!("no workspace with a wit/ folder above the crate");
        }
    }
    dir
}
