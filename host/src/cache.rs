//! Artifacts on disk that the host made and will trust again, above all compiled
//! components, so a restart loads a known module without compiling it again.
//!
//! Whatever the host loads from its cache it runs as machine code, so an entry is
//! only used if it proves it was written by this host's key for exactly what is
//! asked. The key ([`crate::key_file`]) lives outside the cache folder: whoever can
//! write the folder, but not read the key, can delete entries (they are compiled
//! again) but cannot make the host run anything else.
//!
//! An entry is two files. `NAME.entry` holds the artifact's bytes exactly as they
//! were made, so a compiled component can be mapped straight from the file instead
//! of copied into fresh memory (a third of a restart's time, measured). `NAME.mac`
//! holds a magic string, a MAC, and a header naming the entry's kind and key parts
//! (for a component: the module's SHA-256 and a digest of the engine's
//! compatibility settings). The MAC is keyed BLAKE3 (fast: it runs on every load)
//! over the header and the bytes. Loading checks the MAC and then that the header
//! names what was asked for: an entry copied over another's name, edited,
//! truncated or re-digested is refused, never run. Each file is written to a
//! temporary file and renamed into place; a load that sees one file new and the
//! other old fails the MAC and compiles again.
//!
//! The bytes that are checked are read from an open file, and a component is
//! mapped from that same open file (`/proc/self/fd`), so replacing the entry's
//! file between the check and the mapping changes nothing. The mapping follows the
//! file for as long as the component lives: entries are only ever replaced by
//! rename, never rewritten in place, and only the host's user can write them (mode
//! 0600 in a folder others may not write).
//!
//! A cache folder that group or others may write is refused when the cache is
//! opened, as is a key file they may read or write.
//!
//! [`ArtifactCache`] stores any kind of artifact by kind and key parts;
//! [`ComponentCache`] is its wrapper for compiled components.

use std::fs::File;
use std::hash::{Hash as _, Hasher};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::key_file::{self, KeyFileError};

/// Where an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Compiled now (no cache, or no usable entry).
    Compiled,
    /// Loaded from the cache.
    Cache,
    /// Already compiled in this host for another org or version: the code is shared.
    Shared,
}

/// The first bytes of every entry's MAC file: what the file is, and its format's
/// version (1 held the bytes in the same file; such entries are compiled again).
const MAGIC: &[u8; 16] = b"crm-rules cache2";
const MAC_LEN: usize = 32;

/// The folder of compiled modules the program uses when told nothing else:
/// `$XDG_CACHE_HOME/crm-rules`, else `$HOME/.cache/crm-rules`; `None` when neither
/// variable is set. The language bindings share it, so a module the program
/// compiled once loads from the cache in every binding too.
pub fn default_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("crm-rules"))
}

/// The default file of the cache key: `cache.key` in [`key_file::default_dir`].
pub fn default_key_file() -> Result<PathBuf, KeyFileError> {
    key_file::default_file("cache")
}

/// Why the cache cannot be used, or an entry was refused.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The key file is missing a place, exposed or unreadable.
    #[error("the cache key cannot be used")]
    Key(#[source] KeyFileError),
    /// The cache folder cannot be created or read, or others may write it.
    #[error("the cache folder cannot be used")]
    Folder(#[source] KeyFileError),
    /// An entry failed its check; it is not used.
    #[error("cache entry {path} is refused: {why}")]
    Refused {
        /// The entry's file.
        path: String,
        /// What failed.
        why: &'static str,
    },
    /// Reading or writing an entry failed.
    #[error("cannot {action} cache entry {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The entry's file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A folder of authenticated artifacts, each found by a kind (e.g. `component`)
/// and key parts (e.g. a module's SHA-256 and the engine's settings).
#[derive(Clone)]
pub struct ArtifactCache {
    dir: PathBuf,
    key: [u8; 32],
}

impl std::fmt::Debug for ArtifactCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("ArtifactCache")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// An entry's bytes, after its MAC and header matched, and the open file they
/// were read from.
pub struct Verified {
    bytes: Vec<u8>,
    file: File,
}

impl Verified {
    /// The open file the bytes were read from: mapping it gives exactly the
    /// bytes that were checked, whatever happens to the entry's name since.
    pub fn file(&self) -> &File {
        &self.file
    }
}

impl std::ops::Deref for Verified {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl ArtifactCache {
    /// The cache in `dir` (created with mode 0700 if missing), authenticated with
    /// the key in `key_file` (created on first use). Refuses a folder others may
    /// write and a key file others may read or write.
    pub fn open(dir: impl Into<PathBuf>, key_file: &Path) -> Result<ArtifactCache, CacheError> {
        let dir = dir.into();
        let key = key_file::load_or_create(key_file).map_err(CacheError::Key)?;
        key_file::create_private_dir(&dir)
            .map_err(|source| KeyFileError::Io {
                action: "create",
                path: dir.display().to_string(),
                source,
            })
            .map_err(CacheError::Folder)?;
        key_file::check_mode(&dir, 0o022, "a folder writable by group or others", 0o700)
            .map_err(CacheError::Folder)?;
        Ok(ArtifactCache { dir, key })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of the entry for `kind` and `key_parts`: its bytes. Its MAC is
    /// beside it, with the extension `mac`.
    pub fn entry(&self, kind: &str, key_parts: &[&[u8]]) -> PathBuf {
        let name = blake3::hash(&header(kind, key_parts)).to_hex();
        self.dir.join(format!("{kind}-{}.entry", &name[..32]))
    }

    /// Stores `bytes` as the entry for `kind` and `key_parts`, replacing any.
    pub fn store(&self, kind: &str, key_parts: &[&[u8]], bytes: &[u8]) -> Result<(), CacheError> {
        let path = self.entry(kind, key_parts);
        let header = header(kind, key_parts);
        let header_len = u32::try_from(header.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes();
        let mac = self.mac(&[&header_len, &header, bytes]);
        write_by_rename(&path, &[bytes])?;
        write_by_rename(
            &path.with_extension("mac"),
            &[MAGIC.as_slice(), mac.as_bytes(), &header_len, &header],
        )
    }

    /// The bytes stored for `kind` and `key_parts`: `Ok(None)` when there is no
    /// entry, an error when there is one that fails its check.
    pub fn load(&self, kind: &str, key_parts: &[&[u8]]) -> Result<Option<Verified>, CacheError> {
        let path = self.entry(kind, key_parts);
        let mac_path = path.with_extension("mac");
        let io = |action, path: &Path| {
            let path = path.display().to_string();
            move |source| CacheError::Io {
                action,
                path,
                source,
            }
        };
        let (mut file, stamp) = match File::open(&path) {
            Ok(file) => match std::fs::read(&mac_path) {
                Ok(stamp) => (file, stamp),
                // Bytes without a MAC (an entry of the older one-file format, or
                // one whose MAC was deleted) are an entry to make again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(source) => return Err(io("read", &mac_path)(source)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(io("read", &path)(source)),
        };
        // Sized up front: growing the buffer while reading costs a copy and fresh
        // pages per doubling.
        let size = file.metadata().map_or(0, |m| m.len());
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(io("read", &path))?;
        let refused = |why| CacheError::Refused {
            path: path.display().to_string(),
            why,
        };
        let fixed = MAGIC.len() + MAC_LEN + 4;
        if stamp.len() < fixed {
            return Err(refused("its MAC file is truncated"));
        }
        if &stamp[..MAGIC.len()] != MAGIC {
            return Err(refused("its MAC file is not of this cache format"));
        }
        let (stated, described) = stamp[MAGIC.len()..].split_at(MAC_LEN);
        let stated: [u8; MAC_LEN] = stated
            .try_into()
            .map_err(|_| refused("its MAC file is truncated"))?;
        // `blake3::Hash` compares in constant time.
        if self.mac(&[described, &bytes]) != blake3::Hash::from_bytes(stated) {
            return Err(refused(
                "its MAC does not match: it was not written with this host's cache key, \
                 or it was altered",
            ));
        }
        let (len, rest) = described.split_at(4);
        let len = u32::from_le_bytes(len.try_into().map_err(|_| refused("it is truncated"))?);
        let len = usize::try_from(len).map_err(|_| refused("its header is malformed"))?;
        if rest.len() != len || rest != header(kind, key_parts) {
            return Err(refused(
                "it was written for another artifact (another module or engine settings)",
            ));
        }
        Ok(Some(Verified { bytes, file }))
    }

    fn mac(&self, parts: &[&[u8]]) -> blake3::Hash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(MAGIC);
        for part in parts {
            hasher.update(part);
        }
        hasher.finalize()
    }
}

/// Writes `parts` to a private temporary file beside `path` and renames it into
/// place: a reader sees the old file or the new one, never a mix, and a mapping
/// of the old one keeps its bytes.
fn write_by_rename(path: &Path, parts: &[&[u8]]) -> Result<(), CacheError> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options.open(&tmp).and_then(|file| {
        let mut out = std::io::BufWriter::new(file);
        for part in parts {
            out.write_all(part)?;
        }
        out.flush()
    });
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
        .map_err(|source| CacheError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        })
}

/// The authenticated description of an entry: its kind and key parts, each with
/// its length, so no two different lists read the same.
fn header(kind: &str, key_parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in std::iter::once(kind.as_bytes()).chain(key_parts.iter().copied()) {
        out.extend_from_slice(&(part.len() as u64).to_le_bytes());
        out.extend_from_slice(part);
    }
    out
}

/// Compiled components in an [`ArtifactCache`], each bound to its module's SHA-256
/// and the engine's compatibility settings.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    artifacts: ArtifactCache,
}

/// The kind of component entries.
const COMPONENT: &str = "component";

impl ComponentCache {
    /// The cache in `dir`, keyed with `key_file`: see [`ArtifactCache::open`].
    pub fn open(dir: impl Into<PathBuf>, key_file: &Path) -> Result<ComponentCache, CacheError> {
        Ok(ComponentCache {
            artifacts: ArtifactCache::open(dir, key_file)?,
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        self.artifacts.dir()
    }

    /// The cache underneath, for other kinds of artifacts.
    pub fn artifacts(&self) -> &ArtifactCache {
        &self.artifacts
    }

    /// The entry's path for a module.
    pub fn entry(&self, engine: &Engine, module_sha256: &str) -> PathBuf {
        let settings = engine_settings_digest(engine);
        self.artifacts
            .entry(COMPONENT, &[module_sha256.as_bytes(), settings.as_bytes()])
    }

    /// The compiled component of `wasm`: from the cache when an entry for this
    /// module and engine proves itself, else compiled and written to the cache.
    /// `module_sha256` must be the SHA-256 of `wasm`: it is what binds the entry
    /// to the module whose pin and signature were checked.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        module_sha256: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        self.compiled(engine, COMPONENT, &[module_sha256.as_bytes()], || {
            Ok(wasm.to_vec())
        })
    }

    /// The compiled component an entry of `kind` holds for `key_parts` (and this
    /// engine's settings), else the component of the bytes `make` returns,
    /// compiled and written to the cache. Other kinds than modules (pre-initialised
    /// snapshots) name in `key_parts` everything their bytes follow from.
    pub fn compiled(
        &self,
        engine: &Engine,
        kind: &str,
        key_parts: &[&[u8]],
        make: impl FnOnce() -> wasmtime::Result<Vec<u8>>,
    ) -> wasmtime::Result<(Component, Origin)> {
        let settings = engine_settings_digest(engine);
        let mut parts: Vec<&[u8]> = key_parts.to_vec();
        parts.push(settings.as_bytes());
        let what = format!("{kind} {}", hex_prefix(key_parts));
        match self.artifacts.load(kind, &parts) {
            Ok(Some(code)) => match deserialize(engine, &code) {
                Ok(component) => {
                    tracing::info!("{what} loaded from the cache");
                    return Ok((component, Origin::Cache));
                }
                Err(e) => tracing::warn!(
                    "the engine refused the cached code of {what} ({e}); compiling again"
                ),
            },
            Ok(None) => {}
            Err(why) => tracing::warn!("{why}; compiling again"),
        }
        let component = Component::new(engine, make()?)?;
        tracing::info!("{what} compiled");
        let stored = component
            .serialize()
            .map_err(|e| CacheError::Io {
                action: "serialize",
                path: what.clone(),
                source: std::io::Error::other(e.to_string()),
            })
            .and_then(|code| self.artifacts.store(kind, &parts, &code));
        match stored {
            Ok(()) => tracing::info!("{what} cached in {}", self.artifacts.dir().display()),
            Err(e) => tracing::warn!("{e}"),
        }
        Ok((component, Origin::Compiled))
    }
}

/// How a cache entry is named in the log: its first key part (a module's
/// SHA-256), as given.
fn hex_prefix(key_parts: &[&[u8]]) -> String {
    key_parts
        .first()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

/// A digest of everything that makes compiled code fit an engine: wasmtime's
/// version, the target, the compiler's and the runtime's settings.
fn engine_settings_digest(engine: &Engine) -> blake3::Hash {
    struct Blake3(blake3::Hasher);
    impl Hasher for Blake3 {
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
        fn finish(&self) -> u64 {
            let mut word = [0; 8];
            word.copy_from_slice(&self.0.finalize().as_bytes()[..8]);
            u64::from_le_bytes(word)
        }
    }
    let mut hasher = Blake3(blake3::Hasher::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher.0.finalize()
}

/// Loads code this host compiled and wrote itself.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, code: &Verified) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` runs the machine code it is given. These
    // bytes passed a MAC under the host's cache key, which the cache folder does
    // not hold, over a header naming this module's SHA-256 and this engine's
    // compatibility digest: they are exactly what `Component::serialize` produced
    // in a host holding the key, for this module and these settings. (wasmtime also
    // checks its own header: version and settings.) Mapped, they are read from the
    // same open file the checked bytes were read from (see the module's docs for
    // why its contents stay those bytes).
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        let same_file = format!("/proc/self/fd/{}", code.file().as_raw_fd());
        match unsafe { Component::deserialize_file(engine, &same_file) } {
            Ok(component) => return Ok(component),
            // No /proc (a minimal container): copy the checked bytes instead.
            Err(e) => tracing::debug!("cannot map the cache entry ({e:#}); copying it"),
        }
    }
    unsafe { Component::deserialize(engine, &code[..]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_loads_only_under_its_own_kind_and_key_parts() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys").join("cache.key");
        let cache = ArtifactCache::open(dir.path().join("cache"), &key).unwrap();
        cache
            .store("snapshot", &[b"module", b"policy"], b"bytes")
            .unwrap();
        let loaded = cache.load("snapshot", &[b"module", b"policy"]).unwrap();
        assert_eq!(&*loaded.unwrap(), b"bytes");
        assert!(cache
            .load("snapshot", &[b"module", b"other"])
            .unwrap()
            .is_none());
        // Another entry's bytes copied over this one's are refused by the MAC;
        // its bytes and MAC both, by the header the MAC covers.
        cache
            .store("snapshot", &[b"module", b"other"], b"evil")
            .unwrap();
        let (other, approved) = (
            cache.entry("snapshot", &[b"module", b"other"]),
            cache.entry("snapshot", &[b"module", b"policy"]),
        );
        std::fs::copy(&other, &approved).unwrap();
        let error = cache
            .load("snapshot", &[b"module", b"policy"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("MAC does not match"), "{error}");
        std::fs::copy(other.with_extension("mac"), approved.with_extension("mac")).unwrap();
        let error = cache
            .load("snapshot", &[b"module", b"policy"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("another artifact"), "{error}");
    }

    #[test]
    fn bytes_without_their_mac_are_no_entry_and_are_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys").join("cache.key");
        let cache = ArtifactCache::open(dir.path().join("cache"), &key).unwrap();
        cache.store("component", &[b"module"], b"code").unwrap();
        std::fs::remove_file(cache.entry("component", &[b"module"]).with_extension("mac")).unwrap();
        assert!(cache.load("component", &[b"module"]).unwrap().is_none());
        cache.store("component", &[b"module"], b"code").unwrap();
        let loaded = cache.load("component", &[b"module"]).unwrap().unwrap();
        assert_eq!(&*loaded, b"code");
    }
}
