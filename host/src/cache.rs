//! Compiled components on disk, so a restart loads a known module without compiling
//! it again.
//!
//! An entry is named by the module's SHA-256 and a digest of the engine's
//! compatibility (wasmtime version, target, compiler settings), so an engine never
//! meets code compiled for another. Its file holds a BLAKE3 digest of the compiled
//! code followed by the code (BLAKE3 rather than SHA-256: the check runs on every
//! load, and hashes megabytes of code several times faster): a truncated, corrupted or edited entry fails that check and
//! is compiled again and rewritten, never run. Entries are written to a temporary
//! file and renamed into place, so a crash leaves either the old entry or the new.

use std::hash::{Hash as _, Hasher as _};
use std::path::{Path, PathBuf};

use wasmtime::component::Component;
use wasmtime::Engine;

use crate::integrity::hex;

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

/// A folder of compiled components.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: PathBuf,
}

impl ComponentCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> ComponentCache {
        ComponentCache { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry's path for a module.
    pub fn entry(&self, engine: &Engine, module_sha256: &str) -> PathBuf {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        self.dir
            .join(format!("{module_sha256}-{:016x}.b3.cwasm", hasher.finish()))
    }

    /// The compiled component of `wasm`: from the cache when a sound entry exists,
    /// else compiled and written to the cache.
    pub fn load(
        &self,
        engine: &Engine,
        wasm: &[u8],
        module_sha256: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        let path = self.entry(engine, module_sha256);
        match self.read(engine, &path) {
            Ok(Some(component)) => {
                tracing::info!(
                    "module {module_sha256} loaded from the cache ({})",
                    path.display()
                );
                return Ok((component, Origin::Cache));
            }
            Ok(None) => {}
            Err(why) => tracing::warn!(
                "cache entry {} is unusable ({why}); compiling again",
                path.display()
            ),
        }
        let component = Component::new(engine, wasm)?;
        tracing::info!("module {module_sha256} compiled");
        match self.write(&path, &component) {
            Ok(()) => tracing::info!("module {module_sha256} cached in {}", path.display()),
            Err(e) => tracing::warn!("cannot write cache entry {}: {e}", path.display()),
        }
        Ok((component, Origin::Compiled))
    }

    fn read(&self, engine: &Engine, path: &Path) -> Result<Option<Component>, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if bytes.len() < 32 {
            return Err("entry is truncated".into());
        }
        let (digest, code) = bytes.split_at(32);
        if blake3::hash(code).as_bytes().as_slice() != digest {
            return Err(format!(
                "entry digest {} does not match its contents",
                hex(digest)
            ));
        }
        deserialize(engine, code)
            .map(Some)
            .map_err(|e| format!("engine refused the entry: {e:#}"))
    }

    fn write(&self, path: &Path, component: &Component) -> std::io::Result<()> {
        let code = component.serialize().map_err(std::io::Error::other)?;
        std::fs::create_dir_all(&self.dir)?;
        let mut bytes = blake3::hash(&code).as_bytes().to_vec();
        bytes.extend_from_slice(&code);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, &bytes)?;
        std::fs::rename(&tmp, path)
    }
}

/// Loads code this host compiled and wrote itself.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, code: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` runs the machine code it is given. The bytes
    // come from an entry this cache wrote with `Component::serialize`, keyed by the
    // engine's compatibility hash, and their SHA-256 was checked just before against
    // the digest written with them, so they are exactly what this engine produced.
    // (wasmtime also checks its own header: version and settings.)
    unsafe { Component::deserialize(engine, code) }
}
