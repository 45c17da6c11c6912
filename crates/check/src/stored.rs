//! Parsed modules kept in importgate's cache between runs: a re-check after a change to the
//! application layer parses only the files whose bytes changed, not again the hundreds of
//! installed modules on the startup path.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use importgate_image::LayerCache;
use importgate_source::{ParseStore, ParsedModule};

/// The cache's entry kind for parsed modules.
const KIND: &str = "parsed";

/// A [`ParseStore`] in the layer cache's directory, under the same salt (this binary), so a
/// parser change never reads an older parse; in front of it, the parses made while the layers
/// were read ([`crate::ParseAhead`]), which are stored there like fresh ones.
pub(crate) struct StoredParses {
    cache: Option<Arc<LayerCache>>,
    ahead: Option<Arc<dyn ParseStore>>,
    hits: AtomicUsize,
    stored: AtomicUsize,
}

impl std::fmt::Debug for StoredParses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredParses")
            .field("cache", &self.cache)
            .finish_non_exhaustive()
    }
}

impl StoredParses {
    /// `None` when there is neither a cache nor parses made ahead.
    pub(crate) fn new(
        cache: Option<Arc<LayerCache>>,
        ahead: Option<Arc<dyn ParseStore>>,
    ) -> Option<Self> {
        (cache.is_some() || ahead.is_some()).then(|| StoredParses {
            cache,
            ahead,
            hits: AtomicUsize::new(0),
            stored: AtomicUsize::new(0),
        })
    }

    /// Says (debug log) how many parses came from the cache and how many were stored.
    pub(crate) fn report(&self) {
        tracing::debug!(
            "parse cache: {} modules from the cache, {} stored",
            self.hits.load(Ordering::Relaxed),
            self.stored.load(Ordering::Relaxed)
        );
    }
}

impl ParseStore for StoredParses {
    fn load(&self, key: &str) -> Option<ParsedModule> {
        if let Some(module) = self.ahead.as_ref().and_then(|a| a.load(key)) {
            self.store(key, &module);
            return Some(module);
        }
        let body = self.cache.as_ref()?.get_entry(KIND, key)?;
        match postcard::from_bytes(&body) {
            Ok(module) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(module)
            }
            Err(error) => {
                tracing::debug!(%key, %error, "cached parse unreadable");
                None
            }
        }
    }

    fn store(&self, key: &str, module: &ParsedModule) {
        if let Some(cache) = &self.cache
            && let Ok(body) = postcard::to_stdvec(module)
        {
            cache.put_entry(KIND, key, &body);
            self.stored.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sources that exercise every part of a [`ParsedModule`]: guarded, conditional and
    /// function-level imports, bindings, ctypes loads, finders, fallbacks, syntax errors.
    const SOURCES: &[&str] = &[
        "import os\nfrom . import sibling\nfrom .pkg import name as alias, other\n\
         try:\n    import yaml\nexcept ImportError:\n    yaml = None\n\
         if sys.version_info >= (3, 11):\n    import tomllib\nelse:\n    import tomli as tomllib\n\
         if TYPE_CHECKING:\n    import typing_extensions\n\
         def f():\n    import json\n    return json\n\
         __all__ = ['f']\nX: int = 1\nclass C: pass\n\
         importlib.import_module('pkg.mod')\n",
        "import ctypes, ctypes.util\n\
         def find_lib():\n    return ctypes.util.find_library('pq')\n\
         lib = ctypes.CDLL(find_lib())\nother = ctypes.cdll.LoadLibrary('libfoo.so.1')\n\
         try:\n    from ._speed import fast\nexcept ImportError:\n    try:\n        from ._pure import fast\n    except ImportError:\n        raise ImportError('no implementation')\n\
         globals().update({'A': 1})\n",
        "def broken(:\n    pass\nprint 'python 2'\n",
        "# -*- coding: latin-1 -*-\ns = '\u{e9}'\nimport sys\n",
    ];

    #[test]
    fn a_stored_parse_is_the_parse() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(LayerCache::new(dir.path(), "test", u64::MAX));
        let store = StoredParses::new(Some(cache.clone()), None).unwrap();
        for (i, src) in SOURCES.iter().enumerate() {
            let path = format!("/app/m{i}.py");
            let fresh = importgate_source::parse_bytes(src.as_bytes(), Some(&path));
            let first =
                importgate_source::parse_bytes_stored(src.as_bytes(), Some(&path), Some(&store));
            assert_eq!(first, fresh);
            let key = importgate_source::parse_key(src.as_bytes(), Some(&path));
            let loaded = store.load(&key).expect("stored");
            assert_eq!(loaded, fresh, "{src}");
        }
    }

    #[test]
    fn another_name_or_other_bytes_is_another_key() {
        let a = importgate_source::parse_key(b"import x\n", Some("/a.py"));
        assert_ne!(
            a,
            importgate_source::parse_key(b"import x\n", Some("/b.py"))
        );
        assert_ne!(
            a,
            importgate_source::parse_key(b"import y\n", Some("/a.py"))
        );
    }

    #[test]
    fn a_corrupt_entry_is_parsed_again_and_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(LayerCache::new(dir.path(), "test", u64::MAX));
        let store = StoredParses::new(Some(cache.clone()), None).unwrap();
        let src = b"import os\n";
        let module = importgate_source::parse_bytes_stored(src, Some("/m.py"), Some(&store));
        let key = importgate_source::parse_key(src, Some("/m.py"));
        let file = walk(dir.path())
            .into_iter()
            .find(|p| p.ends_with(&key))
            .expect("entry written");
        let mut bytes = std::fs::read(&file).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x40;
        std::fs::write(&file, bytes).unwrap();
        assert!(store.load(&key).is_none(), "a flipped byte is refused");
        assert!(!file.exists(), "and the entry removed");
        let again = importgate_source::parse_bytes_stored(src, Some("/m.py"), Some(&store));
        assert_eq!(again, module);
        assert!(file.exists(), "rebuilt");
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }
}
