//! `crm-rules keys add|list|remove`: the service's API keys file. A new key is
//! printed once, on the last line of the output, and only its hash is stored.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use crm_rules::org::OrgDir;

use super::flags::KeysCommand;
use super::serve::keys::KeyFile;

/// Refuses org ids that no org folder under `dir` names: a key for a typo
/// would reach nothing, silently.
fn check_orgs(orgs: &[String], dir: &Path) -> anyhow::Result<()> {
    let mut served = Vec::new();
    for folder in OrgDir::find(dir)? {
        let path = folder.join("org.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        if let Some(id) = file.get("org_id").and_then(serde_json::Value::as_str) {
            served.push(id.to_owned());
        }
    }
    let unknown: Vec<&str> = orgs
        .iter()
        .filter(|org| !served.contains(org))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        served.sort();
        anyhow::bail!(
            "no org folder under {} is org {}; its orgs are: {}",
            dir.display(),
            unknown.join(", "),
            served.join(", ")
        );
    }
    Ok(())
}

/// Runs a keys command.
pub fn run(command: &KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Add {
            orgs,
            keys,
            admin,
            note,
            orgs_dir,
        } => {
            match orgs_dir {
                Some(dir) => check_orgs(orgs, dir)?,
                None if !orgs.is_empty() => eprintln!(
                    "note: the org ids are not checked against the org folders; give \
                     --orgs DIR to check them"
                ),
                None => {}
            }
            let mut file = KeyFile::read(keys, true)?;
            let (key, entry) = file.add(orgs.clone(), *admin, note.clone())?;
            let reach = if entry.admin {
                "every org and the management routes".to_owned()
            } else {
                entry.orgs.join(", ")
            };
            let id = entry.id.clone();
            file.write(keys)?;
            println!("added key {id} for {reach}; it is shown this once, keep it now:");
            println!("{key}");
        }
        KeysCommand::List { keys } => {
            let file = KeyFile::read(keys, false)?;
            for entry in &file.keys {
                let reach = if entry.admin {
                    "admin".to_owned()
                } else {
                    entry.orgs.join(",")
                };
                let note = entry.note.as_deref().unwrap_or("");
                println!(
                    "{}\t{}\t{}\t{note}",
                    entry.id,
                    entry.created.format("%Y-%m-%dT%H:%M:%SZ"),
                    reach
                );
            }
        }
        KeysCommand::Remove { id, keys } => {
            let mut file = KeyFile::read(keys, false)?;
            if !file.remove(id) {
                anyhow::bail!("{}: no key `{id}`", keys.display());
            }
            file.write(keys)?;
            println!("removed key {id}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
