//! Verified keys cached in the gateway: bounded, short-lived, and dropped at once when a
//! revocation is announced. Unknown keys are cached too (briefly), so a flood of bad keys does not
//! become a flood of database queries.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use super::catalog::KeyRecord;
use super::keys::KeyHash;

/// Most entries held; a full cache drops its expired entries, then everything if still full.
const CAPACITY: usize = 100_000;
/// How long a key is trusted while revocations arrive by pub/sub.
const TTL_SUBSCRIBED: Duration = Duration::from_secs(60);
/// How long without pub/sub (no Redis, or its connection is down): a revocation then reaches
/// this gateway by expiry within this time.
const TTL_UNSUBSCRIBED: Duration = Duration::from_secs(2);
/// How long an unknown key stays unknown.
const TTL_UNKNOWN: Duration = Duration::from_secs(2);

type Entry = (Option<KeyRecord>, Instant);

#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<KeyHash, Entry>>,
}

impl KeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(record)` on a hit (the record itself `None` for a known-unknown key), `None` on a miss.
    pub fn get(&self, hash: &KeyHash) -> Option<Option<KeyRecord>> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(hash) {
            Some((record, expires)) if *expires > Instant::now() => Some(record.clone()),
            _ => None,
        }
    }

    pub fn insert(&self, hash: KeyHash, record: Option<KeyRecord>, subscribed: bool) {
        let ttl = match (&record, subscribed) {
            (None, _) => TTL_UNKNOWN,
            (Some(_), true) => TTL_SUBSCRIBED,
            (Some(_), false) => TTL_UNSUBSCRIBED,
        };
        let now = Instant::now();
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash, (record, now + ttl));
    }

    pub fn remove(&self, hash: &KeyHash) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(hash);
    }

    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hits_misses_and_removal() {
        let cache = KeyCache::new();
        let (known, unknown) = (KeyHash::of("a"), KeyHash::of("b"));
        assert_eq!(cache.get(&known), None);
        let record = KeyRecord {
            key_id: "k".into(),
            consumer_id: "c".into(),
            tier: "free".into(),
            scopes: vec![],
            expires_at: None,
            revoked: false,
            consumer_disabled: false,
        };
        cache.insert(known, Some(record.clone()), true);
        cache.insert(unknown, None, true);
        assert_eq!(cache.get(&known), Some(Some(record)));
        assert_eq!(cache.get(&unknown), Some(None));
        cache.remove(&known);
        assert_eq!(cache.get(&known), None);
        cache.clear();
        assert_eq!(cache.get(&unknown), None);
    }
}
