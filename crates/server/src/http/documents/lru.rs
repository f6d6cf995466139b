//! A least-recently-used map bounded twice: by its number of entries, and by the bytes of
//! document text its entries stand for. Both caches of documents hold what clients send,
//! so neither may grow with what a client chooses to send: many small documents fill the
//! entries, a few large ones the bytes, and the least recently used go first.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};

use lru::LruCache;

/// The map, behind a lock held only for a look-up or an insert.
pub struct Lru<K: Hash + Eq, V> {
    inner: Mutex<Bounded<K, V>>,
}

struct Bounded<K: Hash + Eq, V> {
    map: LruCache<K, (V, usize)>,
    bytes: usize,
    max_bytes: usize,
}

impl<K: Hash + Eq, V: Clone> Lru<K, V> {
    /// At most `max_entries` entries weighing at most `max_bytes` together.
    pub fn new(max_entries: NonZeroUsize, max_bytes: usize) -> Self {
        Lru {
            inner: Mutex::new(Bounded {
                map: LruCache::new(max_entries),
                bytes: 0,
                max_bytes,
            }),
        }
    }

    /// The value under `key`, now the most recently used.
    pub fn get(&self, key: &K) -> Option<V> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.map.get(key).map(|(value, _)| value.clone())
    }

    /// Keep `value` under `key`, weighing `weight` bytes; a value heavier than the whole
    /// budget is not kept at all.
    pub fn put(&self, key: K, value: V, weight: usize) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if weight > inner.max_bytes {
            return;
        }
        inner.bytes += weight;
        // The entry it replaced, or the one it pushed out of the entry budget.
        if let Some((_, (_, gone))) = inner.map.push(key, (value, weight)) {
            inner.bytes -= gone;
        }
        while inner.bytes > inner.max_bytes {
            match inner.map.pop_lru() {
                Some((_, (_, gone))) => inner.bytes -= gone,
                None => break,
            }
        }
    }

    /// How many entries it holds, and their weight.
    #[cfg(test)]
    fn usage(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounded_by_entries_and_by_bytes() {
        let lru = Lru::new(NonZeroUsize::new(3).unwrap(), 100);
        for key in 0..5 {
            lru.put(key, key, 10);
        }
        assert_eq!(lru.usage(), (3, 30), "the entry budget");
        assert_eq!(lru.get(&0), None);
        assert_eq!(lru.get(&4), Some(4));

        lru.put(9, 9, 90);
        assert_eq!(
            lru.usage(),
            (2, 100),
            "the byte budget pushed out the oldest"
        );
        assert_eq!(lru.get(&4), Some(4), "the most recently used stays");
        assert_eq!(lru.get(&3), None);

        lru.put(10, 10, 101);
        assert_eq!(
            lru.get(&10),
            None,
            "heavier than the whole budget: not kept"
        );
        lru.put(4, 40, 5);
        assert_eq!(
            lru.usage(),
            (2, 95),
            "a replaced entry gives back its weight"
        );
        assert_eq!(lru.get(&4), Some(40));
    }
}
