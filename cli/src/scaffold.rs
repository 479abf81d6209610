//! `crm-rules new NAME` and `crm-rules build`: a consultant's rule module from
//! nothing to a tested `.wasm` in an org folder.
//!
//! `new` writes a crate that depends on the kit (`guest-rules`) by path, an org
//! folder beside it (org.json naming the module the build will put there, a
//! policy, one fixture), so `crm-rules build && crm-rules test org` passes as
//! written. `build` compiles the crate into a component (adding the Rust target
//! when missing) and copies it into the org folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use crm_rules_build::Target;

/// Where the kit was when this program was built: a clone of crm-rules holds
/// `guest-rules/` beside the host crate.
const BUILT_KIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-rules");

const CARGO_TOML: &str = include_str!("new_module/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("new_module/lib.rs.tmpl");
const ORG_JSON: &str = include_str!("new_module/org.json.tmpl");
const POLICY_JSON: &str = include_str!("new_module/policy.json.tmpl");
const FIXTURE_JSON: &str = include_str!("new_module/fixture.json.tmpl");

/// A crate name: lowercase letters, digits, `-` and `_`, starting with a letter.
fn check_name(name: &str) -> anyhow::Result<()> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
    {
        bail!(
            "`{name}` cannot name a rule module: use lowercase letters, digits, `-` and `_`, \
             starting with a letter (e.g. `acme-rules`)"
        );
    }
    Ok(())
}

/// The kit to depend on: `--kit`, else the one this program was built from.
fn kit_path(kit: Option<&Path>) -> anyhow::Result<PathBuf> {
    let path = kit
        .map(Path::to_owned)
        .unwrap_or_else(|| PathBuf::from(BUILT_KIT));
    let manifest = path.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "the rule-module kit is not at {} (pass --kit with the guest-rules folder of a \
             crm-rules checkout)",
            path.display()
        )
    })?;
    if !text.contains("name = \"guest-rules\"") {
        bail!("{} is not the guest-rules kit", path.display());
    }
    path.canonicalize()
        .with_context(|| format!("cannot resolve {}", path.display()))
}

/// A readable title from a crate name: `acme-rules` gives "Acme rules".
fn title(name: &str) -> String {
    let words = name.replace(['-', '_'], " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `crm-rules new NAME`.
pub fn new(name: &str, dir: Option<&Path>, kit: Option<&Path>) -> anyhow::Result<ExitCode> {
    check_name(name)?;
    let root = dir.map_or_else(|| PathBuf::from(name), Path::to_owned);
    if root.exists() {
        bail!(
            "{} already exists; choose another name or folder",
            root.display()
        );
    }
    let kit = kit_path(kit)?;
    let crate_name = name.replace('-', "_");
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &crate_name)
            .replace("{{title}}", &title(name))
            .replace("{{kit}}", &kit.display().to_string())
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("org/org.json", fill(ORG_JSON)),
        ("org/policy.json", fill(POLICY_JSON)),
        (
            "org/fixtures/01-public-sector-lead.json",
            fill(FIXTURE_JSON),
        ),
        (".gitignore", "/target\n/org/*.wasm\n".to_owned()),
    ];
    for (path, text) in files {
        let path = root.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!(
        "created {} (a rule module and its org folder)",
        root.display()
    );
    println!(
        "next: cd {} && crm-rules build && crm-rules test org",
        root.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The package name in a crate's Cargo.toml.
fn package_name(manifest: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(manifest)
        .with_context(|| format!("cannot read {}", manifest.display()))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
            continue;
        }
        if let Some(value) = in_package
            .then(|| line.strip_prefix("name"))
            .flatten()
            .and_then(|rest| rest.trim_start().strip_prefix('='))
        {
            return Ok(value.trim().trim_matches('"').to_owned());
        }
    }
    bail!("{} names no [package]", manifest.display())
}

/// `crm-rules build`.
pub fn build(dir: &Path, wasip2: bool, org: Option<&Path>) -> anyhow::Result<ExitCode> {
    let manifest = dir.join("Cargo.toml");
    let package = package_name(&manifest)?;
    let target = if wasip2 {
        Target::Wasip2
    } else {
        Target::ImportFree
    };
    let target_dir = dir.join("target").join("components");
    let built = crm_rules_build::build(dir, &target_dir, &package, target, false)
        .with_context(|| format!("cannot build {package}"))?;
    println!("built {}", built.display());
    let org = org.map_or_else(|| dir.join("org"), Path::to_owned);
    if org.join("org.json").is_file() {
        let file = format!("{}.wasm", package.replace('-', "_"));
        let into = org.join(&file);
        std::fs::copy(&built, &into)
            .with_context(|| format!("cannot copy the module to {}", into.display()))?;
        println!("copied to {}", into.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_crate_names() {
        assert!(check_name("acme-rules").is_ok());
        assert!(check_name("Acme").is_err());
        assert!(check_name("1rules").is_err());
        assert!(check_name("my rules").is_err());
        assert_eq!(title("acme-rules"), "Acme rules");
    }
}
