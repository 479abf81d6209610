//! `crm-rules keys add|list|remove`: the service's API keys file. A new key is
//! printed once, on the last line of the output, and only its hash is stored.

use std::process::ExitCode;

use super::flags::KeysCommand;
use super::serve::keys::KeyFile;

/// Runs a keys command.
pub fn run(command: &KeysCommand) -> anyhow::Result<ExitCode> {
    match command {
        KeysCommand::Add {
            orgs,
            keys,
            admin,
            note,
        } => {
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
