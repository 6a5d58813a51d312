//! The disk's own rates, measured on the checkpoint directory in the same run: a sequential
//! O_DIRECT write (no page cache; buffered where the file system refuses O_DIRECT), a buffered
//! write plus fsync (what `dd bs=1M` + fsync and an mmap writer do), and a cold sequential read
//! after the file's pages were dropped with `posix_fadvise(DONTNEED)`.
//!
//! Cold means the guest page cache only: the global `drop_caches` knob is left alone because it
//! would slow every other process on the machine, and the peer benchmark uses fadvise too.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use crate::{Error, Result};

/// Bytes per write or read call (and the size of the random pattern that is written).
pub const CHUNK: usize = 16 << 20;
const DIRECT_ALIGN: usize = 4096;

/// A page-aligned buffer of incompressible bytes, written over and over.
pub struct Pattern {
    storage: Vec<u8>,
    offset: usize,
}

impl Pattern {
    /// `CHUNK` pseudo-random bytes from SplitMix64 (never all-zero pages a device could elide).
    pub fn new(seed: u64) -> Pattern {
        let mut storage = vec![0u8; CHUNK + DIRECT_ALIGN];
        let offset = storage.as_ptr().align_offset(DIRECT_ALIGN);
        let mut stream = crate::rng::stream_from(seed, 0);
        for word in storage[offset..offset + CHUNK].chunks_exact_mut(8) {
            let z = stream.next().unwrap_or(0x9e37_79b9_7f4a_7c15);
            word.copy_from_slice(&z.to_le_bytes());
        }
        Pattern { storage, offset }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.storage[self.offset..self.offset + CHUNK]
    }
}

/// One measurement of the three rates for `bytes` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DiskSample {
    /// Seconds to write (O_DIRECT when `direct`) and fsync.
    pub direct_write_s: f64,
    /// Whether the file system accepted O_DIRECT.
    pub direct: bool,
    /// Seconds to write through the page cache and fsync.
    pub buffered_write_s: f64,
    /// Seconds to read the fsync'd file back after dropping its cached pages.
    pub cold_read_s: f64,
}

/// Measures the disk under `dir` with a file of `bytes` bytes (rounded up to 4 KiB).
pub fn measure(dir: &Path, bytes: u64, pattern: &Pattern) -> Result<DiskSample> {
    let bytes = bytes.div_ceil(DIRECT_ALIGN as u64) * DIRECT_ALIGN as u64;
    let direct_path = dir.join("disk-probe-direct.bin");
    let started = Instant::now();
    let direct = write_file(&direct_path, bytes, pattern, true)?;
    let direct_write_s = started.elapsed().as_secs_f64();
    remove_and_settle(&direct_path)?;

    let buffered_path = dir.join("disk-probe-buffered.bin");
    let started = Instant::now();
    write_file(&buffered_path, bytes, pattern, false)?;
    let buffered_write_s = started.elapsed().as_secs_f64();
    drop_file_cache(&buffered_path)?;
    let started = Instant::now();
    let read = read_file(&buffered_path)?;
    let cold_read_s = started.elapsed().as_secs_f64();
    remove_and_settle(&buffered_path)?;
    if read != bytes {
        return Err(Error::io(
            format!("read back {read} of {bytes} bytes from"),
            &buffered_path,
            std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
        ));
    }
    Ok(DiskSample {
        direct_write_s,
        direct,
        buffered_write_s,
        cold_read_s,
    })
}

/// Writes `bytes` (a multiple of 4 KiB) of the pattern and fsyncs; returns whether O_DIRECT was
/// used (asked for with `direct`, and accepted by the file system).
fn write_file(path: &Path, bytes: u64, pattern: &Pattern, direct: bool) -> Result<bool> {
    let (mut file, direct) = crate::checkpoint::create_for_streaming(path, direct)?;
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        file.write_all(&pattern.bytes()[..n])
            .map_err(|e| Error::io("cannot write", path, e))?;
        left -= n as u64;
    }
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))?;
    Ok(direct)
}

/// Reads the whole file sequentially; returns the byte count.
fn read_file(path: &Path) -> Result<u64> {
    let mut file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .map_err(|e| Error::io("cannot read", path, e))?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
    }
}

/// Drops a file's pages from the page cache (after making them clean with fsync).
pub fn drop_file_cache(path: &Path) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))?;
    rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)
        .map_err(|e| Error::io("cannot drop cached pages of", path, e.into()))
}

/// Drops the cached pages of every file below `dir`.
pub fn drop_tree_cache(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list", dir, e))?;
    for entry in entries {
        let path = entry.map_err(|e| Error::io("cannot list", dir, e))?.path();
        if path.is_dir() {
            drop_tree_cache(&path)?;
        } else {
            drop_file_cache(&path)?;
        }
    }
    Ok(())
}

/// Removes a file or directory tree and waits for the file system to settle (ext4's online
/// discard of the freed blocks must not land inside the next timed write).
pub fn remove_and_settle(path: &Path) -> Result<()> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("cannot remove", path, e)),
    }
    rustix::fs::sync();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_aligned_and_not_constant() {
        let p = Pattern::new(7);
        assert_eq!(p.bytes().len(), CHUNK);
        assert_eq!(p.bytes().as_ptr() as usize % DIRECT_ALIGN, 0);
        assert_ne!(p.bytes()[..8], p.bytes()[8..16]);
    }

    #[test]
    fn a_measurement_writes_and_reads_back_every_byte_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let sample = measure(dir.path(), 3 * CHUNK as u64 + 100, &Pattern::new(1)).unwrap();
        assert!(sample.direct_write_s > 0.0 && sample.buffered_write_s > 0.0);
        assert!(sample.cold_read_s > 0.0);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
