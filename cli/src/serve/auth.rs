//! Who is calling: the request's `Authorization: Bearer` key looked up in the keys
//! file. Without a key a request is refused with 401; a key that does not reach
//! the org asked for gets 403, whether or not that org exists, so a key cannot be
//! used to learn which orgs are served. Without `--keys` (loopback only) every
//! caller is let in.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use axum::http::{header, HeaderMap, StatusCode};

use super::error::ApiError;
use super::keys::{Grant, KeyFile, KeyRing};

/// The keys file and the keys it held when last read.
pub struct KeyStore {
    path: PathBuf,
    ring: RwLock<Arc<KeyRing>>,
    /// The SHA-256 of the file's bytes when last read: a reload that finds the
    /// same bytes changes nothing and says nothing.
    read: Mutex<[u8; 32]>,
}

impl KeyStore {
    /// Reads the keys file; it must exist.
    pub fn open(path: PathBuf) -> anyhow::Result<KeyStore> {
        let digest = file_digest(&path);
        let ring = KeyRing::of(&KeyFile::read(&path, false)?);
        if ring.len() == 0 {
            tracing::warn!(
                "{} holds no keys: every request will be refused (crm-rules keys add)",
                path.display()
            );
        }
        Ok(KeyStore {
            path,
            ring: RwLock::new(Arc::new(ring)),
            read: Mutex::new(digest),
        })
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Reads the file again when its bytes changed; a file that cannot be read
    /// leaves the keys as they were. Returns whether the keys were replaced.
    pub fn reload(&self) -> bool {
        let digest = file_digest(&self.path);
        let mut read = match self.read.lock() {
            Ok(read) => read,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *read == digest {
            return false;
        }
        match KeyFile::read(&self.path, false) {
            Ok(file) => {
                let ring = KeyRing::of(&file);
                tracing::info!("{}: {} keys", self.path.display(), ring.len());
                if let Ok(mut current) = self.ring.write() {
                    *current = Arc::new(ring);
                }
                *read = digest;
                true
            }
            Err(e) => {
                tracing::warn!("keys not reloaded, the previous ones stay: {e:#}");
                false
            }
        }
    }

    fn ring(&self) -> Arc<KeyRing> {
        match self.ring.read() {
            Ok(ring) => ring.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// The SHA-256 of a file's bytes; of nothing when it cannot be read (then a
/// reload reads it and says why).
fn file_digest(path: &std::path::Path) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(std::fs::read(path).unwrap_or_default()).into()
}

/// Who calls: the key's id (for the audit log and logs) and what it reaches.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The id of the key presented (never the key); `None` without keys.
    pub key_id: Option<Arc<str>>,
    reach: Reach,
}

/// What the caller may reach.
#[derive(Debug, Clone)]
enum Reach {
    /// No keys are configured: everything.
    Open,
    /// An admin key: every org and the management routes.
    Admin,
    /// A key of some orgs.
    Orgs(Arc<[String]>),
}

fn unauthorized(message: &str) -> ApiError {
    let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message);
    error.challenge = true;
    error
}

impl Caller {
    /// The caller of a request.
    pub fn of(keys: Option<&KeyStore>, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(keys) = keys else {
            return Ok(Caller {
                key_id: None,
                reach: Reach::Open,
            });
        };
        let value = headers
            .get(header::AUTHORIZATION)
            .ok_or_else(|| unauthorized("send the org's API key as `Authorization: Bearer KEY`"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then_some(token)
            })
            .ok_or_else(|| unauthorized("the Authorization header is not `Bearer KEY`"))?;
        let ring = keys.ring();
        let (id, grant) = ring
            .grant(token)
            .ok_or_else(|| unauthorized("the API key is not valid here"))?;
        let reach = match grant {
            Grant::Admin => Reach::Admin,
            Grant::Orgs(orgs) => Reach::Orgs(orgs.clone()),
        };
        Ok(Caller {
            key_id: Some(Arc::from(id)),
            reach,
        })
    }

    /// Whether the caller may ask this org's decisions.
    pub fn reaches(&self, org: &str) -> bool {
        match &self.reach {
            Reach::Open | Reach::Admin => true,
            Reach::Orgs(orgs) => orgs.iter().any(|o| o == org),
        }
    }

    /// Refuses with 403 when the caller may not ask this org's decisions.
    pub fn check_org(&self, org: &str) -> Result<(), ApiError> {
        if self.reaches(org) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this API key does not reach org `{org}`"),
            ))
        }
    }

    /// Refuses with 403 unless the caller may manage the service.
    pub fn check_admin(&self) -> Result<(), ApiError> {
        match &self.reach {
            Reach::Open | Reach::Admin => Ok(()),
            Reach::Orgs(_) => Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the management routes need an admin key (crm-rules keys add --admin)",
            )),
        }
    }
}
