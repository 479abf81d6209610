//! What makes an audit log's lines a chain that only the key's holder can extend:
//! each line's hash, its MAC, and the signed checkpoints.
//!
//! - `hash`: SHA-256 of the previous line's `hash` (64 zeros for the first), a
//!   newline, and the line's JSON without `hash` and `mac`. Anyone can recompute
//!   it; it ties every line to all before it.
//! - `mac`: keyed BLAKE3 of the `hash`, under a key derived from the audit key.
//!   Only the holder of the audit key can make one, so a line appended or edited
//!   by anyone else fails it, even with a correct `hash`.
//! - Checkpoints: lines of kind `checkpoint` carrying `entries` (how many lines
//!   precede it) and `head` (the `hash` of the line before it), signed with the
//!   audit key's ed25519 key. Whoever has only the public key can check the chain
//!   up to the last checkpoint; whoever saved a checkpoint elsewhere can check that
//!   the log still reaches it (nothing was cut off the end).

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::integrity::hex;
use crate::key_file::{self, KeyFileError};

/// The `prev` of the first line.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const MAC_CONTEXT: &str = "crm-rules 2026-11 audit log line MAC";
const CHECKPOINT_DOMAIN: &[u8] = b"crm-rules audit checkpoint v1\n";

/// The key that extends and signs audit logs: an ed25519 key, and a MAC key
/// derived from it.
#[derive(Clone)]
pub struct AuditKey {
    signing: SigningKey,
    mac: [u8; 32],
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        write!(f, "AuditKey({})", self.public_hex())
    }
}

/// The default file of the audit key: `audit.key` in
/// [`key_file::default_dir`], beside the cache key and away from the logs.
pub fn default_key_file() -> Result<std::path::PathBuf, KeyFileError> {
    key_file::default_file("audit")
}

impl AuditKey {
    /// The key in `path`, created on first use (see [`crate::key_file`]).
    pub fn load_or_create(path: &std::path::Path) -> Result<AuditKey, KeyFileError> {
        key_file::load_or_create(path).map(AuditKey::from_secret)
    }

    /// The key in `path`, which must exist.
    pub fn load(path: &std::path::Path) -> Result<AuditKey, KeyFileError> {
        key_file::load(path).map(AuditKey::from_secret)
    }

    /// The key made of 32 secret bytes.
    pub fn from_secret(secret: [u8; 32]) -> AuditKey {
        AuditKey {
            mac: blake3::derive_key(MAC_CONTEXT, &secret),
            signing: SigningKey::from_bytes(&secret),
        }
    }

    /// The public key that checks this key's checkpoints, in hex.
    pub fn public_hex(&self) -> String {
        hex(self.signing.verifying_key().as_bytes())
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    pub(crate) fn mac(&self, hash: &str) -> String {
        blake3::keyed_hash(&self.mac, hash.as_bytes())
            .to_hex()
            .to_string()
    }

    pub(crate) fn sign_checkpoint(&self, entries: u64, head: &str) -> String {
        hex(&self
            .signing
            .sign(&checkpoint_message(entries, head))
            .to_bytes())
    }
}

fn checkpoint_message(entries: u64, head: &str) -> Vec<u8> {
    let mut message = CHECKPOINT_DOMAIN.to_vec();
    message.extend_from_slice(format!("{entries}\n{head}").as_bytes());
    message
}

/// Whether `signature` (hex) is `key`'s signature of a checkpoint.
pub(crate) fn checkpoint_signed(
    key: &VerifyingKey,
    entries: u64,
    head: &str,
    signature: &str,
) -> bool {
    let Some(bytes) = unhex64(signature) else {
        return false;
    };
    key.verify_strict(
        &checkpoint_message(entries, head),
        &Signature::from_bytes(&bytes),
    )
    .is_ok()
}

fn unhex64(text: &str) -> Option<[u8; 64]> {
    if text.len() != 128 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 64];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The `hash` of a line: see the module's documentation. `line` holds neither
/// `hash` nor `mac`.
pub(crate) fn line_hash(prev: &str, line: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(line.to_string().as_bytes());
    hex(&hasher.finalize())
}

/// Refuses JSON with a key twice in one object, at any depth: a reader that keeps
/// the first and one that keeps the last would see different entries under one
/// hash.
pub(crate) fn check_no_duplicate_keys(line: &[u8]) -> Result<(), String> {
    serde_json::from_slice::<NoDuplicates>(line)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

struct NoDuplicates;

impl<'de> Deserialize<'de> for NoDuplicates {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NoDuplicatesVisitor)
    }
}

struct NoDuplicatesVisitor;

impl<'de> Visitor<'de> for NoDuplicatesVisitor {
    type Value = NoDuplicates;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_i64<E>(self, _: i64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_u64<E>(self, _: u64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_f64<E>(self, _: f64) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_str<E>(self, _: &str) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_unit<E>(self) -> Result<NoDuplicates, E> {
        Ok(NoDuplicates)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NoDuplicates, A::Error> {
        while seq.next_element::<NoDuplicates>()?.is_some() {}
        Ok(NoDuplicates)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NoDuplicates, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<NoDuplicates>()?;
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("the key `{key}` appears twice")));
            }
        }
        Ok(NoDuplicates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_twice_in_an_object_at_any_depth_is_refused() {
        assert!(check_no_duplicate_keys(br#"{"a":1,"b":{"c":[1,{"d":2}]}}"#).is_ok());
        let error = check_no_duplicate_keys(br#"{"a":1,"b":{"c":1,"c":2}}"#).unwrap_err();
        assert!(error.contains("`c` appears twice"), "{error}");
    }

    #[test]
    fn a_checkpoint_verifies_only_for_its_count_head_and_key() {
        let key = AuditKey::from_secret([7; 32]);
        let head = "ab".repeat(32);
        let signature = key.sign_checkpoint(12, &head);
        let public = key.verifying_key();
        assert!(checkpoint_signed(&public, 12, &head, &signature));
        assert!(!checkpoint_signed(&public, 11, &head, &signature));
        assert!(!checkpoint_signed(&public, 12, GENESIS, &signature));
        let other = AuditKey::from_secret([8; 32]).verifying_key();
        assert!(!checkpoint_signed(&other, 12, &head, &signature));
    }
}
