//! A module is exactly the one that was approved: its SHA-256 can be pinned, and it
//! can be signed with ed25519 by whoever approves modules.
//!
//! The signature covers the module's SHA-256 with a domain prefix
//! (`crm-rules module sha256:` followed by the 32 digest bytes), so a signature made
//! for a module cannot be taken for any other message. Keys and signatures are
//! written as lowercase hex.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const DOMAIN: &[u8] = b"crm-rules module sha256:";

/// SHA-256 of a module, in hex: its identity.
pub fn module_hash(bytes: &[u8]) -> String {
    ModuleDigest::of(bytes).hex()
}

/// A module's SHA-256, computed once per load: the label of a version, the pin,
/// the signature and the cache all need it, and hashing a module costs about a
/// third of a millisecond per 600 KB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleDigest([u8; 32]);

impl ModuleDigest {
    /// The SHA-256 of `wasm`.
    pub fn of(wasm: &[u8]) -> ModuleDigest {
        ModuleDigest(Sha256::digest(wasm).into())
    }

    /// The digest in lowercase hex, as modules are named everywhere.
    pub fn hex(&self) -> String {
        hex(&self.0)
    }
}

/// What an org requires of its module before it is compiled.
#[derive(Debug, Clone, Default)]
pub struct Integrity {
    /// The expected SHA-256 (hex), when pinned.
    pub sha256: Option<String>,
    /// Public keys (hex) the org trusts; when any is given, the module must carry a
    /// valid signature by one of them.
    pub trusted_keys: Vec<String>,
    /// The module's signature (hex), when it has one.
    pub signature: Option<String>,
}

impl Integrity {
    /// Checks `wasm` against the pin and the trusted keys; the error says what did
    /// not match.
    pub fn check(&self, wasm: &[u8]) -> Result<(), String> {
        self.check_digest(&ModuleDigest::of(wasm))
    }

    /// [`Integrity::check`] of a module whose digest is already known.
    pub fn check_digest(&self, digest: &ModuleDigest) -> Result<(), String> {
        if let Some(expected) = &self.sha256 {
            let actual = digest.hex();
            if !expected.trim().eq_ignore_ascii_case(&actual) {
                return Err(format!(
                    "its SHA-256 is {actual}, the org pins {}",
                    expected.trim()
                ));
            }
        }
        if self.trusted_keys.is_empty() {
            return Ok(());
        }
        let Some(signature) = &self.signature else {
            return Err("the module is unsigned and the org trusts only signed modules".into());
        };
        let keys = self
            .trusted_keys
            .iter()
            .map(|k| parse_public_key(k))
            .collect::<Result<Vec<_>, _>>()?;
        if keys
            .iter()
            .any(|k| verify_digest(k, digest, signature).is_ok())
        {
            Ok(())
        } else {
            Err("the signature is not valid for this module under any key the org trusts".into())
        }
    }
}

fn message(digest: &ModuleDigest) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&digest.0);
    message
}

/// A new signing key (hex of its 32 secret bytes) and its public key (hex).
pub fn generate_key() -> Result<(String, String), String> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| format!("no randomness available: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    Ok((hex(&secret), hex(key.verifying_key().as_bytes())))
}

/// The public key (hex) of a secret key (hex).
pub fn public_key_of(secret_hex: &str) -> Result<String, String> {
    Ok(hex(signing_key(secret_hex)?.verifying_key().as_bytes()))
}

/// Signs a module with a secret key (hex); returns the signature (hex).
pub fn sign(secret_hex: &str, wasm: &[u8]) -> Result<String, String> {
    Ok(hex(&signing_key(secret_hex)?
        .sign(&message(&ModuleDigest::of(wasm)))
        .to_bytes()))
}

/// Checks a module's signature (hex) against a public key.
pub fn verify(key: &VerifyingKey, wasm: &[u8], signature_hex: &str) -> Result<(), String> {
    verify_digest(key, &ModuleDigest::of(wasm), signature_hex)
}

/// [`verify`] for a module whose digest is already known.
fn verify_digest(
    key: &VerifyingKey,
    digest: &ModuleDigest,
    signature_hex: &str,
) -> Result<(), String> {
    let bytes: [u8; 64] = unhex(signature_hex)?
        .try_into()
        .map_err(|_| "a signature is 64 bytes (128 hex digits)".to_owned())?;
    key.verify_strict(&message(digest), &Signature::from_bytes(&bytes))
        .map_err(|_| "the signature does not match".to_owned())
}

/// Parses a public key (hex).
pub fn parse_public_key(hex_key: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = unhex(hex_key)?
        .try_into()
        .map_err(|_| "a public key is 32 bytes (64 hex digits)".to_owned())?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an ed25519 public key: {e}"))
}

fn signing_key(secret_hex: &str) -> Result<SigningKey, String> {
    let bytes: [u8; 32] = unhex(secret_hex)?
        .try_into()
        .map_err(|_| "a secret key is 32 bytes (64 hex digits)".to_owned())?;
    Ok(SigningKey::from_bytes(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return Err("hex text has an odd number of digits".into());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(text.get(i..i + 2).unwrap_or("zz"), 16)
                .map_err(|_| format!("`{text}` is not hex"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_module_verifies_and_a_changed_one_does_not() {
        let (secret, public) = generate_key().unwrap();
        let wasm = b"\0asm module bytes".to_vec();
        let signature = sign(&secret, &wasm).unwrap();
        let trust = Integrity {
            sha256: Some(module_hash(&wasm)),
            trusted_keys: vec![public.clone()],
            signature: Some(signature.clone()),
        };
        assert_eq!(trust.check(&wasm), Ok(()));
        let mut changed = wasm.clone();
        changed[5] ^= 1;
        let err = trust.check(&changed).unwrap_err();
        assert!(err.contains("SHA-256"), "{err}");
        let unpinned = Integrity {
            sha256: None,
            ..trust.clone()
        };
        assert!(unpinned.check(&changed).unwrap_err().contains("signature"));
        let mut tampered = signature.into_bytes();
        tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
        let tampered = Integrity {
            signature: Some(String::from_utf8(tampered).unwrap()),
            ..unpinned.clone()
        };
        assert!(tampered.check(&wasm).is_err());
        let unsigned = Integrity {
            signature: None,
            ..unpinned
        };
        assert!(unsigned.check(&wasm).unwrap_err().contains("unsigned"));
        assert_eq!(public_key_of(&secret).unwrap(), public);
    }
}
