//! File-system helpers for durable writes: fsync of files and directories, free-space queries and
//! block reservation (so a full disk shows up as ENOSPC from a call we can report, not as SIGBUS
//! when a mapped page of a sparse file is written back).

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

/// Gives `file` its final length with blocks allocated where the file system supports it.
pub fn reserve(file: &File, path: &Path, len: u64) -> Result<()> {
    if len > 0 {
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::empty(), 0, len) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {}
            Err(e) => return Err(Error::io("cannot reserve space for", path, e.into())),
        }
    }
    file.set_len(len)
        .map_err(|e| Error::io("cannot set length of", path, e))
}

/// Creates `path`, writes `bytes` and fsyncs it.
pub fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io("cannot create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| Error::io("cannot write", path, e))?;
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))
}
