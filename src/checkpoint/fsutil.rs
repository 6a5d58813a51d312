//! File-system helpers for durable writes: fsync of files and directories and free-space queries
//! (a full disk is refused before a save starts, and otherwise shows up as ENOSPC from the
//! streaming writer's `write`, naming the file).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::{Error, Result};

/// fsyncs a directory so that entries created or renamed in it survive a power loss.
pub fn fsync_dir(path: &Path) -> Result<()> {
    let dir =
        File::open(path).map_err(|e| Error::io("cannot open directory for fsync", path, e))?;
    dir.sync_all()
        .map_err(|e| Error::io("cannot fsync directory", path, e))
}

/// Bytes available to this user on the file system holding `path` (or its nearest existing
/// ancestor, so an output directory that does not exist yet can be checked before creating it).
pub fn free_space(path: &Path) -> Result<u64> {
    let mut probe = path;
    while !probe.exists() {
        match probe.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => probe = parent,
            _ => {
                probe = Path::new(".");
                break;
            }
        }
    }
    let stats = rustix::fs::statvfs(probe)
        .map_err(|e| Error::io("cannot query free space", probe, e.into()))?;
    Ok(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// Fails with [`Error::InsufficientSpace`] unless `needed` bytes are free under `path`.
pub fn ensure_free_space(path: &Path, needed: u64) -> Result<()> {
    let available = free_space(path)?;
    if needed > available {
        return Err(Error::InsufficientSpace {
            path: path.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Creates `path`, writes `bytes` and fsyncs it.
pub fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io("cannot write", path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))
}
