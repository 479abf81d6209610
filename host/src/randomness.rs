//! What `wasi:random` gives a rule module: bytes that are the same every time the
//! same call is made, so a module cannot decide differently on the same input.
//!
//! Each call's bytes come from one stream: BLAKE3 in extendable-output mode, keyed
//! by the version's scope (org, version label, module SHA-256) and fed with the
//! call's inputs (which decision, and the ids of its records in order; for `init`,
//! none). The same org, version and records give the same bytes in any process,
//! instance or isolation mode; another record gives others. `insecure-seed`, which
//! std uses to key its `HashMap`s, is fixed per version.
//!
//! Nothing is derived until a call asks: starting a call only copies its record
//! ids, so decisions of modules that never read randomness pay almost nothing.
//!
//! This is not secret randomness, and a rule module needs none: a module that keeps
//! state between calls (`isolation: reuse`) can still make its answers depend on
//! the order of calls; `per_call` isolation rules that out too.

use wasmtime_wasi::p2::bindings::random::{insecure, insecure_seed, random};

/// The randomness of one store: its version's key and the current call's inputs.
/// A version derives its key once and clones it into each store it makes.
#[derive(Clone)]
pub(crate) struct DecisionRandom {
    scope: [u8; 32],
    inputs: Vec<u8>,
    stream: Option<blake3::OutputReader>,
    max_bytes: u64,
}

/// Context strings of the key derivations, so no other use of BLAKE3 in the host
/// can produce the same keys.
const SCOPE_CONTEXT: &str = "crm-rules 2026-11 wasi:random scope of an org version";
const SEED_CONTEXT: &[u8] = b"crm-rules 2026-11 wasi:random insecure-seed";

impl DecisionRandom {
    /// The randomness of a store running `module_sha256` as version `version` of
    /// `org`; one request may ask for at most `max_bytes` (the module could not hold
    /// more in its memory anyway).
    pub(crate) fn new(org: &str, version: &str, module_sha256: &str, max_bytes: u64) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key(SCOPE_CONTEXT);
        for part in [org, version, module_sha256] {
            hasher.update(&(part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        DecisionRandom {
            scope: *hasher.finalize().as_bytes(),
            inputs: Vec::new(),
            stream: None,
            max_bytes,
        }
    }

    /// Starts a call: from now on, the module reads the stream of `decision` on
    /// `records` (ids, in the order the call passes them).
    pub(crate) fn start_call(&mut self, decision: &str, records: &[&str]) {
        self.inputs.clear();
        self.stream = None;
        for part in std::iter::once(decision).chain(records.iter().copied()) {
            self.inputs
                .extend_from_slice(&(part.len() as u64).to_le_bytes());
            self.inputs.extend_from_slice(part.as_bytes());
        }
    }

    fn stream(&mut self) -> &mut blake3::OutputReader {
        let (scope, inputs) = (&self.scope, &self.inputs);
        self.stream.get_or_insert_with(|| {
            blake3::Hasher::new_keyed(scope)
                .update(inputs)
                .finalize_xof()
        })
    }

    fn bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        if len > self.max_bytes {
            wasmtime::bail!(
                "the rule module asked for {len} random bytes, more than its memory \
                 limit of {} bytes",
                self.max_bytes
            );
        }
        let mut bytes = vec![0; len as usize];
        self.stream().fill(&mut bytes);
        Ok(bytes)
    }

    fn u64(&mut self) -> u64 {
        let mut bytes = [0; 8];
        self.stream().fill(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}

impl random::Host for &mut DecisionRandom {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.u64())
    }
}

impl insecure::Host for &mut DecisionRandom {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        self.bytes(len)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.u64())
    }
}

impl insecure_seed::Host for &mut DecisionRandom {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        let seed = blake3::keyed_hash(&self.scope, SEED_CONTEXT);
        let (low, high) = seed.as_bytes().split_at(8);
        let word = |b: &[u8]| {
            let mut w = [0; 8];
            w.copy_from_slice(&b[..8]);
            u64::from_le_bytes(w)
        };
        Ok((word(low), word(high)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime_wasi::p2::bindings::random::random::Host as _;

    #[test]
    fn the_same_call_reads_the_same_bytes_and_another_record_reads_others() {
        let mut a = DecisionRandom::new("acme", "v1", "ab", 1 << 20);
        let mut b = DecisionRandom::new("acme", "v1", "ab", 1 << 20);
        a.start_call("qualify", &["L-1"]);
        b.start_call("qualify", &["L-1"]);
        let first = (&mut a).get_random_bytes(32).unwrap();
        assert_eq!(first, (&mut b).get_random_bytes(32).unwrap());
        a.start_call("qualify", &["L-1"]);
        assert_eq!((&mut a).get_random_bytes(32).unwrap(), first, "reseeded");
        a.start_call("qualify", &["L-2"]);
        assert_ne!((&mut a).get_random_bytes(32).unwrap(), first);
        // Length prefixes keep ["L-1", "2"] apart from ["L-12"].
        a.start_call("qualify", &["L-1", "2"]);
        b.start_call("qualify", &["L-12"]);
        assert_ne!(
            (&mut a).get_random_bytes(8).unwrap(),
            (&mut b).get_random_bytes(8).unwrap()
        );
        assert!((&mut a).get_random_bytes(2 << 20).is_err());
    }
}
