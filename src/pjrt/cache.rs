//! The on-disk cache of compiled executables, so each program is compiled once per plugin build
//! rather than once per run (a train step compiles in ~0.5 s; loading a cached one takes ~10 ms).
//!
//! Key: sha256 of (program text, compile-options bytes, plugin identity). Entry file:
//! `MAGIC || sha256(payload) || payload`, written to a temporary file and renamed into place, so
//! readers never see a partial entry. An entry whose checksum does not match, or that the plugin
//! refuses to load, is discarded and the program is compiled again: the cache can make things
//! faster, never make them fail. Corrupt bytes never reach the plugin's deserializer, because the
//! checksum is verified first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

const MAGIC: &[u8] = b"xlatrain-executable-v1\n";

/// Counters of one client's cache, for tests and `run-hlo`'s report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Compiles answered from the cache.
    pub hits: u64,
    /// Compiles that had to run the compiler.
    pub misses: u64,
    /// Entries discarded as corrupt or unloadable.
    pub discarded: u64,
    /// Entries written.
    pub stored: u64,
}

pub(crate) struct ExecutableCache {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
    discarded: AtomicU64,
    stored: AtomicU64,
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl ExecutableCache {
    pub(crate) fn new(dir: PathBuf) -> Self {
        ExecutableCache {
            dir,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            stored: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            discarded: self.discarded.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn key(&self, program: &str, options: &[u8], plugin_identity: &str) -> String {
        let mut hasher = Sha256::new();
        // Length prefixes keep the three parts from running into each other.
        for part in [program.as_bytes(), options, plugin_identity.as_bytes()] {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        hex(&hasher.finalize())
    }

    /// The entry file of a key.
    pub(crate) fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.xlaexe"))
    }

    /// The verified payload of an entry, or `None` (missing or corrupt; corrupt ones are removed).
    pub(crate) fn lookup(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.entry_path(key);
        let bytes = std::fs::read(&path).ok()?;
        match verified_payload(&bytes) {
            Some(payload) => Some(payload.to_vec()),
            None => {
                log::warn!(
                    "executable cache entry {} is corrupt; compiling again",
                    path.display()
                );
                self.discard(&path);
                None
            }
        }
    }

    pub(crate) fn record_hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn record_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// An entry passed its checksum but the plugin would not load it (e.g. another build).
    pub(crate) fn record_unloadable(&self, key: &str, error: &crate::Error) {
        let path = self.entry_path(key);
        log::warn!(
            "cannot load cached executable {} ({error}); compiling again",
            path.display()
        );
        self.discard(&path);
    }

    fn discard(&self, path: &Path) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
        let _ = std::fs::remove_file(path);
    }

    /// Writes an entry atomically; failures only warn (the cache is an optimisation).
    pub(crate) fn store(&self, key: &str, payload: &[u8]) {
        match self.try_store(key, payload) {
            Ok(()) => {
                self.stored.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => log::warn!(
                "cannot write executable cache in {}: {e}",
                self.dir.display()
            ),
        }
    }

    fn try_store(&self, key: &str, payload: &[u8]) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let final_path = self.entry_path(key);
        let temp_path = self.dir.join(format!(
            ".{key}.{}.{}.tmp",
            std::process::id(),
            unique_suffix()
        ));
        let mut contents = Vec::with_capacity(MAGIC.len() + 32 + payload.len());
        contents.extend_from_slice(MAGIC);
        contents.extend_from_slice(&Sha256::digest(payload));
        contents.extend_from_slice(payload);
        let written = std::fs::write(&temp_path, &contents)
            .and_then(|()| std::fs::rename(&temp_path, &final_path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp_path);
        }
        written
    }
}

/// A per-process counter so concurrent writers in one process never share a temp name.
pub(crate) fn unique_suffix() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

fn verified_payload(bytes: &[u8]) -> Option<&[u8]> {
    let rest = bytes.strip_prefix(MAGIC)?;
    if rest.len() < 32 {
        return None;
    }
    let (checksum, payload) = rest.split_at(32);
    (Sha256::digest(payload).as_slice() == checksum).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_corruption_is_detected() {
        let dir = std::env::temp_dir().join(format!("xlatrain-cache-unit-{}", std::process::id()));
        let cache = ExecutableCache::new(dir.clone());
        let key = cache.key("module {}", &[1, 2], "plugin");
        assert_ne!(key, cache.key("module {}", &[1, 2, 3], "plugin"));
        assert_eq!(cache.lookup(&key), None);
        cache.store(&key, b"payload bytes");
        assert_eq!(cache.lookup(&key).as_deref(), Some(&b"payload bytes"[..]));

        let path = cache.entry_path(&key);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(cache.lookup(&key), None);
        assert_eq!(cache.stats().discarded, 1);
        assert!(!path.exists(), "a corrupt entry is removed");
        let _ = std::fs::remove_dir_all(dir);
    }
}
