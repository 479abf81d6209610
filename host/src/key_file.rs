//! Secret keys on disk: the cache key that authenticates compiled code and the
//! audit key that signs the audit log.
//!
//! A key file holds 32 random bytes as 64 hex digits. It is created on first use
//! with mode 0600 in a folder of mode 0700, by writing a temporary file and
//! linking it into place, so two processes starting at once agree on one key. A
//! key file that group or others may read or write, or that sits in a folder they
//! may write, is refused with [`KeyFileError::Exposed`]: whoever can read the key
//! can forge what it authenticates, and whoever can replace it can make the host
//! trust their own. (Owners are not checked, only permission bits; on systems
//! other than Unix, neither is.)
//!
//! The default folder is `$XDG_CONFIG_HOME/crm-rules`, else `~/.config/crm-rules`:
//! beside the configuration, never in the cache folder or beside the audit log,
//! whose writers the keys guard against.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::integrity::hex;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Group or others may read or write the key, or write its folder.
    #[error(
        "{path} is {what} (mode {mode:04o}); a key must be private to its owner: \
         `chmod {fix:o} {path}`"
    )]
    Exposed {
        /// The key file or its folder.
        path: String,
        /// What is wrong, e.g. `readable by group or others`.
        what: &'static str,
        /// Its permission bits.
        mode: u32,
        /// The mode it should have.
        fix: u32,
    },
    /// The key file does not hold 64 hex digits.
    #[error("{path} is not a key (64 hex digits)")]
    Malformed {
        /// The key file.
        path: String,
    },
    /// No key file was named and there is no default place for one.
    #[error("no place for the {name} key: neither XDG_CONFIG_HOME nor HOME is set")]
    NoDefault {
        /// Which key, e.g. `cache`.
        name: &'static str,
    },
    /// Reading or creating the key failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done, e.g. `read`.
        action: &'static str,
        /// The file or folder.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The folder where keys live by default: `$XDG_CONFIG_HOME/crm-rules`, else
/// `~/.config/crm-rules`.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })?;
    Some(base.join("crm-rules"))
}

/// The default file of the key called `name` (`cache`, `audit`): `name.key` in
/// [`default_dir`].
pub fn default_file(name: &'static str) -> Result<PathBuf, KeyFileError> {
    default_dir()
        .map(|dir| dir.join(format!("{name}.key")))
        .ok_or(KeyFileError::NoDefault { name })
}

/// The key in `path`, created (with its folder) if it does not exist yet.
pub fn load_or_create(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.display().to_string();
        move |source| KeyFileError::Io {
            action,
            path,
            source,
        }
    };
    if !path.exists() {
        let dir = parent(path);
        create_private_dir(dir).map_err(io("create the folder", dir))?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| KeyFileError::Io {
            action: "make a random key for",
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        create_if_absent(path, format!("{}\n", hex(&secret)).as_bytes())
            .map_err(io("create", path))?;
    }
    load(path)
}

/// The key in `path`, which must exist.
pub fn load(path: &Path) -> Result<[u8; 32], KeyFileError> {
    check_private(path, parent(path))?;
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Io {
        action: "read",
        path: path.display().to_string(),
        source,
    })?;
    parse(text.trim()).ok_or_else(|| KeyFileError::Malformed {
        path: path.display().to_string(),
    })
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn parse(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Creates `dir` (and its parents) if needed; the folder itself gets mode 0700.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

/// Writes `bytes` to `path` unless it exists: a private temporary file, linked
/// into place, so no reader ever sees half a key and a concurrent creator wins
/// or loses whole.
fn create_if_absent(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    let _ = std::fs::remove_file(&tmp);
    linked
}

/// Refuses a file that group or others may read or write, in a folder they may
/// write.
pub(crate) fn check_private(file: &Path, dir: &Path) -> Result<(), KeyFileError> {
    check_mode(dir, 0o022, "a folder writable by group or others", 0o700)?;
    check_mode(
        file,
        0o077,
        "readable or writable by group or others",
        0o600,
    )
}

/// Refuses `path` when any bit of `forbidden` is set in its mode.
#[cfg(unix)]
pub(crate) fn check_mode(
    path: &Path,
    forbidden: u32,
    what: &'static str,
    fix: u32,
) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = std::fs::metadata(path).map_err(|source| KeyFileError::Io {
        action: "read the permissions of",
        path: path.display().to_string(),
        source,
    })?;
    let mode = metadata.permissions().mode() & 0o7777;
    // A sticky folder (like /tmp) lets others add files but not replace ours;
    // it is still no place for a key or a cache.
    if mode & forbidden != 0 {
        return Err(KeyFileError::Exposed {
            path: path.display().to_string(),
            what,
            mode,
            fix,
        });
    }
    Ok(())
}

/// Permission bits are a Unix notion: elsewhere nothing is checked.
#[cfg(not(unix))]
pub(crate) fn check_mode(
    _path: &Path,
    _forbidden: u32,
    _what: &'static str,
    _fix: u32,
) -> Result<(), KeyFileError> {
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_key_is_made_private_on_first_use_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("cache.key");
        let key = load_or_create(&path).unwrap();
        assert_eq!(load_or_create(&path).unwrap(), key);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }

    #[test]
    fn a_key_others_can_read_or_in_a_folder_others_can_write_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("audit.key");
        load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.contains("readable or writable by group or others"),
            "{error}"
        );
        assert!(error.contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let folder = path.parent().unwrap();
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = load(&path).unwrap_err().to_string();
        assert!(
            error.contains("a folder writable by group or others"),
            "{error}"
        );
    }
}
