//! Verified keys cached in the gateway: bounded, short-lived, and dropped at once when a
//! revocation is announced. Unknown keys are cached too (briefly), so a flood of bad keys does not
//! become a flood of database queries. A lookup that was under way when keys were dropped does
//! not put back what it read: that may be the key just revoked.

use foldhash::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::Identity;
use super::catalog::KeyRecord;
use super::keys::KeyHash;

/// A key as the catalog has it, and the identity its requests get, made once (`None` when its
/// tier is unknown).
#[derive(Debug, PartialEq)]
pub struct CachedKey {
    pub record: KeyRecord,
    pub identity: Option<Arc<Identity>>,
}

/// Most entries held; a full cache drops its expired entries, then everything if still full.
const CAPACITY: usize = 100_000;
/// How long a key is trusted while revocations arrive by pub/sub.
const TTL_SUBSCRIBED: Duration = Duration::from_secs(60);
/// How long without pub/sub (no Redis, or its connection is down): a revocation then reaches
/// this gateway by expiry within this time.
const TTL_UNSUBSCRIBED: Duration = Duration::from_secs(2);
/// How long an unknown key stays unknown.
const TTL_UNKNOWN: Duration = Duration::from_secs(2);

type Found = Option<Arc<CachedKey>>;
type Entry = (Found, Instant);

#[derive(Default)]
pub struct KeyCache {
    entries: RwLock<HashMap<KeyHash, Entry>>,
    /// Bumped whenever entries are dropped (under the write lock).
    generation: AtomicU64,
}

impl KeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Some(found)` on a hit (`found` itself `None` for a known-unknown key), `None` on a miss.
    pub fn get(&self, hash: &KeyHash) -> Option<Found> {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match entries.get(hash) {
            Some((found, expires)) if *expires > Instant::now() => Some(found.clone()),
            _ => None,
        }
    }

    /// What to pass to [`KeyCache::insert`] for a lookup starting now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches what a lookup found, unless entries were dropped since it started (`generation`).
    pub fn insert(&self, hash: KeyHash, found: Found, subscribed: bool, generation: u64) {
        let ttl = match (&found, subscribed) {
            (None, _) => TTL_UNKNOWN,
            (Some(_), true) => TTL_SUBSCRIBED,
            (Some(_), false) => TTL_UNSUBSCRIBED,
        };
        let now = Instant::now();
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, expires)| *expires > now);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(hash, (found, now + ttl));
    }

    pub fn remove(&self, hash: &KeyHash) {
        let mut entries = self.write_dropping();
        entries.remove(hash);
    }

    pub fn clear(&self) {
        self.write_dropping().clear();
    }

    /// The entries, to drop some: lookups under way from now on will not be cached.
    fn write_dropping(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<KeyHash, Entry>> {
        let entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(consumer_id: &str) -> Found {
        Some(Arc::new(CachedKey {
            record: KeyRecord {
                key_id: "k".into(),
                consumer_id: consumer_id.into(),
                tier: "free".into(),
                scopes: vec![],
                expires_at: None,
                revoked: false,
                consumer_disabled: false,
            },
            identity: None,
        }))
    }

    #[test]
    fn hits_misses_and_removal() {
        let cache = KeyCache::new();
        let (known, unknown) = (KeyHash::of("a"), KeyHash::of("b"));
        assert_eq!(cache.get(&known), None);
        cache.insert(known, found("c"), true, cache.generation());
        cache.insert(unknown, None, true, cache.generation());
        assert_eq!(cache.get(&known), Some(found("c")));
        assert_eq!(cache.get(&unknown), Some(None));
        cache.remove(&known);
        assert_eq!(cache.get(&known), None);
        cache.clear();
        assert_eq!(cache.get(&unknown), None);
    }

    #[test]
    fn a_lookup_under_way_when_keys_are_dropped_is_not_cached() {
        let cache = KeyCache::new();
        let (revoked, other) = (KeyHash::of("revoked"), KeyHash::of("other"));
        // A lookup reads the key as still valid; the revocation lands before it finishes.
        let started = cache.generation();
        cache.remove(&revoked);
        cache.insert(revoked, found("c"), true, started);
        assert_eq!(cache.get(&revoked), None);
        let started = cache.generation();
        cache.clear();
        cache.insert(other, found("c"), true, started);
        assert_eq!(cache.get(&other), None);
        // One that starts after is cached.
        cache.insert(revoked, found("c"), true, cache.generation());
        assert_eq!(cache.get(&revoked), Some(found("c")));
    }
}
