//! Builds a rule-module crate into a WebAssembly component: what the host's build
//! script does for the workspace's guests and what `crm-rules build` does for a
//! consultant's crate.
//!
//! The default target is an import-free component: the crate is compiled for
//! `wasm32-unknown-unknown` (whose std needs no system interface at all) and wrapped
//! into a component with `wit-component`, from the world wit-bindgen embedded in it.
//! Such a component is one core instance that imports nothing, so a fresh instance
//! costs about half of one built for `wasm32-wasip2`, whose std pulls in thirteen
//! WASI interfaces (for the panic message and the environment) and seventeen core
//! instances. `wasm32-wasip2` remains available for modules that want std's WASI
//! behaviour; the host links WASI for them, granting nothing.
//!
//! The component is built by a nested `cargo` with its own target directory
//! (`target/components/<package>`): sharing the outer build's directory would wait
//! forever on the lock the outer build holds. Paths are remapped, so the same source
//! gives the same module (and the same SHA-256) on every machine.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What to build a module for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `wasm32-unknown-unknown`, wrapped into a component: imports nothing.
    ImportFree,
    /// `wasm32-wasip2`: a component that imports WASI.
    Wasip2,
}

impl Target {
    /// The Rust target triple.
    pub fn triple(self) -> &'static str {
        match self {
            Target::ImportFree => "wasm32-unknown-unknown",
            Target::Wasip2 => "wasm32-wasip2",
        }
    }
}

/// Why a module could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// A tool (cargo, rustup) could not be run.
    Tool(String, std::io::Error),
    /// The target is missing and could not be added.
    Target(String),
    /// Cargo failed to compile the crate.
    Compile(String),
    /// The compiled module could not be turned into a component.
    Wrap(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Tool(tool, e) => write!(f, "cannot run {tool}: {e}"),
            BuildError::Target(message)
            | BuildError::Compile(message)
            | BuildError::Wrap(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Tool(_, e) => Some(e),
            _ => None,
        }
    }
}

/// Builds `packages` (crates of the workspace rooted at `workspace`, each with its
/// target) in release mode and returns the components' paths in the same order.
/// For a build script: prints `rerun-if-changed` for the `watch` directories and
/// panics with the reason when a build fails.
///
/// Each package gets a cargo run and a target directory of its own: built
/// together, cargo would unify the features of their shared dependencies (and a
/// custom module would export the reference module too); sharing a directory, a
/// library with a `cdylib` crate type built as a dependency would overwrite the
/// real one of the same name.
pub fn build_components(
    workspace: &Path,
    packages: &[(&str, Target)],
    watch: &[&str],
) -> Vec<PathBuf> {
    for dir in watch {
        println!("cargo:rerun-if-changed={}", workspace.join(dir).display());
    }
    println!("cargo:rerun-if-env-changed={GUEST_TOOLCHAIN}");
    packages
        .iter()
        .map(|(package, target)| {
            let target_dir = workspace.join("target").join("components").join(package);
            build(workspace, &target_dir, package, *target, true)
                .unwrap_or_else(|e| panic!("building the rule module {package} failed: {e}"))
        })
        .collect()
}

/// The toolchain guests are built with when it is not the outer build's:
/// `CRM_RULES_GUEST_TOOLCHAIN` (e.g. `stable` while the host is built with
/// nightly for fuzzing, whose toolchain may lack the WebAssembly targets).
const GUEST_TOOLCHAIN: &str = "CRM_RULES_GUEST_TOOLCHAIN";

/// A rustup-managed tool, run with the guests' toolchain when one is set.
fn rustup_tool(program: &str) -> Command {
    let mut command = Command::new(program);
    if let Ok(toolchain) = std::env::var(GUEST_TOOLCHAIN) {
        command.env("RUSTUP_TOOLCHAIN", toolchain);
    }
    command
}

/// Adds the Rust target with rustup when it is not installed.
pub fn ensure_target(target: Target) -> Result<(), BuildError> {
    let triple = target.triple();
    let installed = rustup_tool("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| BuildError::Tool("rustup".to_owned(), e))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == triple)
    {
        return Ok(());
    }
    let status = rustup_tool("rustup")
        .args(["target", "add", triple])
        .status()
        .map_err(|e| BuildError::Tool("rustup".to_owned(), e))?;
    if status.success() {
        Ok(())
    } else {
        Err(BuildError::Target(format!(
            "the target {triple} is not installed and `rustup target add {triple}` failed ({status})"
        )))
    }
}

/// Builds one package of the workspace at `workspace` into `target_dir` and
/// returns the component's path. `quiet` keeps cargo's progress off the terminal
/// (a build script's output is captured anyway).
pub fn build(
    workspace: &Path,
    target_dir: &Path,
    package: &str,
    target: Target,
    quiet: bool,
) -> Result<PathBuf, BuildError> {
    ensure_target(target)?;
    // With a guest toolchain set, rustup's `cargo` runs it; otherwise the outer
    // build's own cargo.
    let mut command = if std::env::var_os(GUEST_TOOLCHAIN).is_some() {
        rustup_tool("cargo")
    } else {
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
    };
    command
        .current_dir(workspace)
        .args(["build", "--release", "--package", package])
        .args(["--target", target.triple()])
        .arg("--target-dir")
        .arg(target_dir);
    if quiet {
        command.arg("--quiet");
    }
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
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_ENCODED_RUSTFLAGS", remapped_paths(workspace));
    let status = command
        .status()
        .map_err(|e| BuildError::Tool("cargo".to_owned(), e))?;
    if !status.success() {
        return Err(BuildError::Compile(format!(
            "cargo could not build {package} for {} ({status})",
            target.triple()
        )));
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    let built = target_dir.join(target.triple()).join("release").join(&file);
    match target {
        Target::Wasip2 => Ok(built),
        Target::ImportFree => {
            let core = std::fs::read(&built)
                .map_err(|e| BuildError::Wrap(format!("cannot read {}: {e}", built.display())))?;
            let component = wrap(&core)?;
            let out = target_dir.join(&file);
            std::fs::write(&out, component)
                .map_err(|e| BuildError::Wrap(format!("cannot write {}: {e}", out.display())))?;
            Ok(out)
        }
    }
}

/// Turns a core module built with wit-bindgen into a component: the world is the
/// `component-type` section wit-bindgen embedded, so no WIT files are needed.
pub fn wrap(core: &[u8]) -> Result<Vec<u8>, BuildError> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| {
            BuildError::Wrap(format!(
                "the module cannot become a component (was it built with wit-bindgen's \
                 export macro?): {e:#}"
            ))
        })
}

/// Rust flags that replace machine paths in the module (panic locations name
/// source files) by fixed ones: the build is reproducible and names no machine.
fn remapped_paths(workspace: &Path) -> String {
    let mut flags = vec![format!("--remap-path-prefix={}=/src", workspace.display())];
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    if let Some(rustup) = std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".rustup")))
    {
        flags.push(format!("--remap-path-prefix={}=/rustup", rustup.display()));
    }
    // Cargo's encoded flags are separated by the unit separator character.
    flags.join("\u{1f}")
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
