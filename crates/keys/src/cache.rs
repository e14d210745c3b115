//! The RAM cache of unwrapped keys: a TTL and a size bound, and nothing lingers in it.
//!
//! Entries expire a fixed time after insertion (a hit does not extend it), so a key is never
//! held longer than the TTL however hot it is. With one TTL for all entries, insertion order is
//! expiry order, so one FIFO queue serves both purposes: the front is what expires first, and
//! what is evicted first when the cache is full.
//!
//! Values are `Arc`s to keys that wipe themselves on drop. Eviction drops the cache's reference;
//! the bytes are wiped as soon as no caller holds the key either.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long an unwrapped key stays cached by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
/// How many unwrapped data keys are cached at most by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// TTL and size bound of the key caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheConfig {
    /// How long an entry lives after it is inserted. `Duration::ZERO` disables caching.
    pub ttl: Duration,
    /// Most entries held; the oldest is evicted to make room. `0` disables caching.
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl: DEFAULT_TTL,
            capacity: DEFAULT_CAPACITY,
        }
    }
}

impl CacheConfig {
    /// The defaults: 5 minutes, 100,000 entries.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the TTL.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Sets the size bound.
    #[must_use]
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }
}

/// Counters of one cache since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that were not (absent or expired).
    pub misses: u64,
    /// Entries removed because the cache was full.
    pub evictions: u64,
    /// Entries removed because their TTL passed.
    pub expirations: u64,
    /// Entries held now (expired ones not yet noticed included).
    pub entries: usize,
}

/// The map's own hasher: keys are already SipHash outputs, hashing them again is waste.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

struct Slot<K, V> {
    key: K,
    value: V,
    expires: Instant,
    seq: u64,
}

struct Slots<K, V> {
    map: HashMap<u64, Slot<K, V>, BuildHasherDefault<PassThrough>>,
    /// `(hash, seq)` in insertion order; entries whose slot was replaced or removed are stale
    /// and skipped.
    order: VecDeque<(u64, u64)>,
    next_seq: u64,
}

/// A TTL + size-bounded map from a SipHash of a key to the key and a value.
///
/// Lookups compare the full key after the hash matches, so a hash collision is a miss, never a
/// wrong answer; the SipHash keys are random per process, so collisions cannot be aimed.
pub(crate) struct TtlCache<K, V> {
    config: CacheConfig,
    hasher: RandomState,
    slots: Mutex<Slots<K, V>>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
}

impl<K, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(config: CacheConfig) -> Self {
        TtlCache {
            config,
            hasher: RandomState::new(),
            slots: Mutex::new(Slots {
                map: HashMap::default(),
                order: VecDeque::new(),
                next_seq: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
        }
    }

    /// The hash a key is filed under.
    pub(crate) fn hash_of<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    fn lock(&self) -> MutexGuard<'_, Slots<K, V>> {
        // Every mutation below leaves the map consistent at each step, so a panic elsewhere
        // while the lock was held cannot have left it half-changed.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value filed under `hash` whose key satisfies `matches`, if not expired at `now`.
    pub(crate) fn get(
        &self,
        hash: u64,
        matches: impl FnOnce(&K) -> bool,
        now: Instant,
    ) -> Option<V> {
        let mut slots = self.lock();
        let found = match slots.map.get(&hash) {
            Some(slot) if slot.expires > now && matches(&slot.key) => Some(slot.value.clone()),
            Some(slot) if slot.expires <= now => {
                slots.map.remove(&hash);
                self.expirations.fetch_add(1, Ordering::Relaxed);
                None
            }
            _ => None,
        };
        drop(slots);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Files `value` under `hash`, replacing what was there; drops expired entries from the
    /// front and evicts the oldest while full.
    pub(crate) fn insert(&self, hash: u64, key: K, value: V, now: Instant) {
        if self.config.capacity == 0 || self.config.ttl.is_zero() {
            return;
        }
        let Some(expires) = now.checked_add(self.config.ttl) else {
            return;
        };
        let mut slots = self.lock();
        self.expire_front(&mut slots, now);
        while slots.map.len() >= self.config.capacity && !slots.map.contains_key(&hash) {
            if !self.pop_front(&mut slots) {
                break;
            }
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        let seq = slots.next_seq;
        slots.next_seq += 1;
        slots.map.insert(
            hash,
            Slot {
                key,
                value,
                expires,
                seq,
            },
        );
        slots.order.push_back((hash, seq));
        // Replaced and removed entries leave stale queue items; keep the queue proportional.
        if slots.order.len() > 2 * slots.map.len() + 64 {
            let Slots { map, order, .. } = &mut *slots;
            order.retain(|(h, s)| map.get(h).is_some_and(|slot| slot.seq == *s));
        }
    }

    /// Removes live entries from the front while they are expired.
    fn expire_front(&self, slots: &mut Slots<K, V>, now: Instant) {
        while let Some(&(hash, seq)) = slots.order.front() {
            match slots.map.get(&hash) {
                Some(slot) if slot.seq == seq => {
                    if slot.expires > now {
                        return;
                    }
                    slots.map.remove(&hash);
                    self.expirations.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            slots.order.pop_front();
        }
    }

    /// Removes the oldest live entry; false if there is none.
    fn pop_front(&self, slots: &mut Slots<K, V>) -> bool {
        while let Some((hash, seq)) = slots.order.pop_front() {
            if slots.map.get(&hash).is_some_and(|slot| slot.seq == seq) {
                slots.map.remove(&hash);
                return true;
            }
        }
        false
    }

    /// Removes every entry whose key fails `keep`.
    pub(crate) fn retain(&self, mut keep: impl FnMut(&K) -> bool) {
        self.lock().map.retain(|_, slot| keep(&slot.key));
    }

    /// Removes everything.
    pub(crate) fn clear(&self) {
        let mut slots = self.lock();
        slots.map.clear();
        slots.order.clear();
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            expirations: self.expirations.load(Ordering::Relaxed),
            entries: self.lock().map.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Weak};

    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn cache(ttl_secs: u64, capacity: usize) -> TtlCache<String, Arc<[u8; 32]>> {
        TtlCache::new(
            CacheConfig::new()
                .with_ttl(Duration::from_secs(ttl_secs))
                .with_capacity(capacity),
        )
    }

    fn put(
        c: &TtlCache<String, Arc<[u8; 32]>>,
        key: &str,
        byte: u8,
        clock: &ManualClock,
    ) -> Weak<[u8; 32]> {
        let value = Arc::new([byte; 32]);
        let weak = Arc::downgrade(&value);
        c.insert(c.hash_of(key), key.to_owned(), value, clock.now());
        weak
    }

    fn get(c: &TtlCache<String, Arc<[u8; 32]>>, key: &str, clock: &ManualClock) -> Option<u8> {
        c.get(c.hash_of(key), |k| k == key, clock.now())
            .map(|v| v[0])
    }

    #[test]
    fn entries_expire_after_the_ttl_and_hits_do_not_extend_it() {
        let clock = ManualClock::new(0);
        let c = cache(300, 10);
        let weak = put(&c, "a", 1, &clock);
        clock.advance(Duration::from_secs(299));
        assert_eq!(get(&c, "a", &clock), Some(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(get(&c, "a", &clock), None);
        // The cache held the only reference: the key is gone (and was wiped on drop).
        assert!(weak.upgrade().is_none());
        let stats = c.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.expirations, stats.entries),
            (1, 1, 1, 0)
        );
    }

    #[test]
    fn the_oldest_entry_is_evicted_when_full() {
        let clock = ManualClock::new(0);
        let c = cache(300, 2);
        let a = put(&c, "a", 1, &clock);
        clock.advance(Duration::from_secs(1));
        put(&c, "b", 2, &clock);
        clock.advance(Duration::from_secs(1));
        put(&c, "c", 3, &clock);
        assert!(a.upgrade().is_none(), "evicted entries are dropped at once");
        assert_eq!(get(&c, "a", &clock), None);
        assert_eq!(get(&c, "b", &clock), Some(2));
        assert_eq!(get(&c, "c", &clock), Some(3));
        assert_eq!(c.stats().evictions, 1);
        assert_eq!(c.stats().entries, 2);
    }

    #[test]
    fn expired_entries_make_room_before_live_ones_are_evicted() {
        let clock = ManualClock::new(0);
        let c = cache(10, 2);
        put(&c, "old", 1, &clock);
        clock.advance(Duration::from_secs(5));
        put(&c, "mid", 2, &clock);
        clock.advance(Duration::from_secs(6));
        put(&c, "new", 3, &clock);
        assert_eq!(c.stats().evictions, 0);
        assert_eq!(c.stats().expirations, 1);
        assert_eq!(get(&c, "mid", &clock), Some(2));
    }

    #[test]
    fn replacing_a_key_keeps_one_entry_and_a_bounded_queue() {
        let clock = ManualClock::new(0);
        let c = cache(300, 4);
        for i in 0..1_000_u32 {
            put(&c, "same", (i % 251) as u8, &clock);
        }
        assert_eq!(c.stats().entries, 1);
        assert!(c.lock().order.len() <= 2 + 64);
        assert_eq!(get(&c, "same", &clock), Some((999 % 251) as u8));
    }

    #[test]
    fn a_hash_collision_is_a_miss() {
        let clock = ManualClock::new(0);
        let c = cache(300, 4);
        c.insert(42, "a".to_owned(), Arc::new([1; 32]), clock.now());
        assert!(c.get(42, |k| k == "b", clock.now()).is_none());
        assert!(c.get(42, |k| k == "a", clock.now()).is_some());
    }

    #[test]
    fn retain_clear_and_disabled_caches() {
        let clock = ManualClock::new(0);
        let c = cache(300, 8);
        let a = put(&c, "org1/a", 1, &clock);
        put(&c, "org2/b", 2, &clock);
        c.retain(|k| !k.starts_with("org1/"));
        assert!(a.upgrade().is_none());
        assert_eq!(get(&c, "org2/b", &clock), Some(2));
        c.clear();
        assert_eq!(c.stats().entries, 0);

        let off = cache(0, 8);
        put(&off, "x", 1, &clock);
        assert_eq!(get(&off, "x", &clock), None);
        let off = cache(300, 0);
        put(&off, "x", 1, &clock);
        assert_eq!(get(&off, "x", &clock), None);
    }
}
