//! Which replica serves a request.
//!
//! Least outstanding requests with the power of two choices (Mitzenmacher): sample two healthy
//! replicas, send to the less loaded. Prompts with a long common prefix (a system prompt, an
//! earlier turn) go to the replica that rendezvous hashing assigns that prefix, where its KV
//! entries are likely cached, as long as that replica is not more than `slack` requests busier
//! than the least loaded one. Rendezvous hashing needs no shared table: every gateway replica
//! maps a prefix to the same model replica, and adding or removing one replica moves only the
//! prefixes that hashed to it.

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

/// A prompt shares a prefix with another when their first `PREFIX_BYTES` bytes are equal;
/// shorter prompts have no affinity (their prefill is cheap anyway).
pub const PREFIX_BYTES: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplicaLoad {
    /// Stable identity of the replica (its task id).
    pub id: u64,
    /// Requests sent to it and not finished.
    pub outstanding: u32,
    pub healthy: bool,
}

/// The affinity key of a prompt: a hash of its first `PREFIX_BYTES` bytes.
pub fn prefix_key(prompt: &[u8]) -> Option<u64> {
    (prompt.len() >= PREFIX_BYTES).then(|| xxh3_64(&prompt[..PREFIX_BYTES]))
}

/// The index of the replica to use, or `None` when no replica is healthy. `random` is any
/// random number (the caller's RNG, so tests are deterministic).
pub fn choose_replica(replicas: &[ReplicaLoad], prefix: Option<u64>, random: u64, slack: u32) -> Option<usize> {
    let healthy: Vec<usize> = (0..replicas.len()).filter(|&i| replicas[i].healthy).collect();
    let least = healthy.iter().map(|&i| replicas[i].outstanding).min()?;
    if let Some(key) = prefix {
        let owner =
            healthy.iter().copied().max_by_key(|&i| (xxh3_64_with_seed(&key.to_le_bytes(), replicas[i].id), i))?;
        if replicas[owner].outstanding <= least.saturating_add(slack) {
            return Some(owner);
        }
    }
    let n = healthy.len() as u64;
    let first = healthy[(random % n) as usize];
    if n == 1 {
        return Some(first);
    }
    // A second, distinct sample from the remaining n-1.
    let offset = 1 + (random / n) % (n - 1);
    let second = healthy[(((random % n) + offset) % n) as usize];
    Some(if replicas[second].outstanding < replicas[first].outstanding { second } else { first })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(id: u64, outstanding: u32) -> ReplicaLoad {
        ReplicaLoad { id, outstanding, healthy: true }
    }

    #[test]
    fn none_without_healthy_replicas() {
        assert_eq!(choose_replica(&[], None, 1, 4), None);
        assert_eq!(choose_replica(&[ReplicaLoad { id: 1, outstanding: 0, healthy: false }], None, 1, 4), None);
    }

    #[test]
    fn two_choices_pick_the_less_loaded() {
        let replicas = [r(1, 5), r(2, 0)];
        for random in 0..50 {
            assert_eq!(choose_replica(&replicas, None, random, 4), Some(1));
        }
    }

    #[test]
    fn unhealthy_replicas_are_never_chosen() {
        let replicas = [r(1, 9), ReplicaLoad { id: 2, outstanding: 0, healthy: false }, r(3, 9)];
        for random in 0..50 {
            assert_ne!(choose_replica(&replicas, None, random, 4), Some(1));
        }
    }

    #[test]
    fn a_prefix_sticks_to_one_replica_while_load_allows() {
        let replicas = [r(10, 0), r(11, 0), r(12, 0)];
        let key = prefix_key(&[b'x'; PREFIX_BYTES]);
        let owner = choose_replica(&replicas, key, 0, 4).unwrap();
        for random in 0..50 {
            assert_eq!(choose_replica(&replicas, key, random, 4), Some(owner));
        }
        // Overloaded owner: the request goes elsewhere.
        let mut busy = replicas;
        busy[owner].outstanding = 5;
        assert_ne!(choose_replica(&busy, key, 0, 4), Some(owner));
    }

    #[test]
    fn short_prompts_have_no_prefix() {
        assert_eq!(prefix_key(b"hello"), None);
    }
}
