//! The per-instance replay cache of DPoP proofs: each proof's `jti` (under its key) is accepted once while
//! the proof could be accepted at all. Bounded: when it is full of live entries it refuses to answer rather
//! than forget one, so a replay is never accepted for want of room.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};

/// Most proofs remembered at once. At the default five-minute window this is a sustained 300 proofs a second
/// on one instance, more than a Lambda instance serves; about 3 MiB when full.
pub const CAPACITY: usize = 100_000;

/// A proof's entry: SHA-256 of its key's thumbprint and its `jti`, truncated to 128 bits.
pub type ProofId = [u8; 16];

/// The identity of a proof in the cache and the shared store: the same `jti` under two keys is two proofs.
pub fn proof_id(thumbprint: &str, jti: &str) -> ProofId {
    let mut input = Vec::with_capacity(thumbprint.len() + 1 + jti.len());
    input.extend_from_slice(thumbprint.as_bytes());
    input.push(0);
    input.extend_from_slice(jti.as_bytes());
    let mut id = [0; 16];
    id.copy_from_slice(&digest(&SHA256, &input).as_ref()[..16]);
    id
}

/// What the cache says about a proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First use: it is now remembered until it expires.
    First,
    /// Used before, and still live: a replay.
    Again,
    /// The cache is full of live proofs: no answer.
    Full,
}

/// Proofs seen by this instance, each until the last second it could be accepted.
#[derive(Debug, Default)]
pub struct ReplayCache {
    seen: Mutex<HashMap<ProofId, u64>>,
}

impl ReplayCache {
    /// Records `id`, valid until `valid_until`, unless it is live already.
    pub fn record(&self, id: ProofId, valid_until: u64, now: u64) -> Seen {
        // A poisoned lock means a panic mid-insert; the map is still a map.
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.get(&id).is_some_and(|until| *until >= now) {
            return Seen::Again;
        }
        if seen.len() >= CAPACITY {
            seen.retain(|_, until| *until >= now);
            if seen.len() >= CAPACITY {
                return Seen::Full;
            }
        }
        seen.insert(id, valid_until);
        Seen::First
    }

    /// Forgets `id`: its check could not be completed.
    pub fn forget(&self, id: &ProofId) {
        self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
    }

    /// How many proofs are remembered.
    pub fn len(&self) -> usize {
        self.seen.lock().map_or(0, |seen| seen.len())
    }

    /// Whether no proof is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_accepted_once_while_live_and_forgotten_after() {
        let cache = ReplayCache::default();
        let id = proof_id("thumb", "jti-1");
        assert_eq!(cache.record(id, 100, 50), Seen::First);
        assert_eq!(cache.record(id, 100, 60), Seen::Again);
        assert_eq!(cache.record(id, 100, 100), Seen::Again);
        assert_eq!(cache.record(id, 200, 101), Seen::First, "expired entries are replaced");
        assert_eq!(cache.record(proof_id("other", "jti-1"), 100, 50), Seen::First, "another key's jti");
    }

    #[test]
    fn a_full_cache_drops_expired_entries_and_refuses_when_all_are_live() {
        let cache = ReplayCache::default();
        for n in 0..CAPACITY {
            assert_eq!(cache.record(proof_id("k", &n.to_string()), if n % 2 == 0 { 10 } else { 1000 }, 5), Seen::First);
        }
        assert_eq!(cache.record(proof_id("k", "new"), 1000, 20), Seen::First, "expired half dropped");
        assert_eq!(cache.len(), CAPACITY / 2 + 1);
        let live = ReplayCache::default();
        for n in 0..CAPACITY {
            live.record(proof_id("k", &n.to_string()), 1000, 5);
        }
        assert_eq!(live.record(proof_id("k", "new"), 1000, 20), Seen::Full);
        assert_eq!(live.record(proof_id("k", "7"), 1000, 20), Seen::Again, "a replay is still caught when full");
    }
}
