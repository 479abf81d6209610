//! `crm-rules module`: a module's hash, signing keys, signatures.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use super::flags::ModuleCommand;

/// Runs a `module` command.
pub fn run(command: &ModuleCommand) -> anyhow::Result<ExitCode> {
    use crm_rules::integrity;
    let read = |path: &Path| {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
    };
    match command {
        ModuleCommand::Hash { module } => {
            println!("{}", integrity::module_hash(&read(module)?));
        }
        ModuleCommand::Keygen { secret } => {
            let (secret_hex, public_hex) = integrity::generate_key().map_err(anyhow::Error::msg)?;
            // Only its owner may read a secret key: it is created so, never
            // widened afterwards.
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(secret)
                .with_context(|| format!("cannot create {}", secret.display()))?;
            writeln!(file, "{secret_hex}")?;
            println!("{public_hex}");
        }
        ModuleCommand::Sign { module, key, out } => {
            let secret = std::fs::read_to_string(key)
                .with_context(|| format!("cannot read {}", key.display()))?;
            let signature =
                integrity::sign(secret.trim(), &read(module)?).map_err(anyhow::Error::msg)?;
            let out = out
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.sig", module.display())));
            std::fs::write(&out, format!("{signature}\n"))
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", out.display());
        }
        ModuleCommand::Verify {
            module,
            public_key,
            signature,
        } => {
            let key = integrity::parse_public_key(public_key).map_err(anyhow::Error::msg)?;
            let sig_path = signature
                .clone()
                .unwrap_or_else(|| PathBuf::from(format!("{}.sig", module.display())));
            let sig = std::fs::read_to_string(&sig_path)
                .with_context(|| format!("cannot read {}", sig_path.display()))?;
            return Ok(match integrity::verify(&key, &read(module)?, sig.trim()) {
                Ok(()) => {
                    println!("ok: {} is signed by {public_key}", module.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    println!("FAILED: {}: {e}", module.display());
                    ExitCode::from(1)
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
