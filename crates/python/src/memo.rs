//! [`Memo`]: a string-keyed cache filled on demand and shared between threads, for the lookups
//! the resolver and the native checks repeat from thousands of import sites (directory listings,
//! resolutions, ELF dependency walks).

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Values computed once per key. The computation runs without the lock held, so it may use the
/// same memo again (a resolution that resolves its parent); two threads racing on one key both
/// compute it, and the value is the same either way. A poisoned lock only turns caching off.
#[derive(Debug)]
pub struct Memo<V> {
    map: Mutex<BTreeMap<String, V>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo {
            map: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<V: Clone> Memo<V> {
    /// The value for `key`, computed by `compute` the first time.
    pub fn get_or_compute(&self, key: &str, compute: impl FnOnce() -> V) -> V {
        if let Ok(map) = self.map.lock()
            && let Some(hit) = map.get(key)
        {
            return hit.clone();
        }
        let value = compute();
        if let Ok(mut map) = self.map.lock() {
            map.insert(key.to_string(), value.clone());
        }
        value
    }

    /// Records a value computed elsewhere unless the key has one.
    pub fn insert_if_absent(&self, key: &str, value: V) {
        if let Ok(mut map) = self.map.lock() {
            map.entry(key.to_string()).or_insert(value);
        }
    }

    /// How many keys have a value.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn computes_once_per_key_and_allows_reentry() {
        let memo: Memo<usize> = Memo::default();
        let calls = std::cell::Cell::new(0);
        let outer = memo.get_or_compute("a", || {
            calls.set(calls.get() + 1);
            // Re-entering for another key while computing must not deadlock.
            memo.get_or_compute("b", || 2) + 1
        });
        assert_eq!(outer, 3);
        assert_eq!(memo.get_or_compute("a", || unreachable!()), 3);
        assert_eq!(calls.get(), 1);
        memo.insert_if_absent("a", 9);
        memo.insert_if_absent("c", 4);
        assert_eq!(memo.get_or_compute("a", || 0), 3);
        assert_eq!(memo.get_or_compute("c", || 0), 4);
        assert_eq!(memo.len(), 3);
    }
}
