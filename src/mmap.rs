//! The one memory-map helper. Mapping a file is `unsafe` because another process could change the
//! file under the mapping; every mapping in xlatrain goes through here so that the reasoning lives
//! in one place. Checkpoint shards and token files are opened by us, read or written by us, and a
//! concurrent writer is outside the contract (the checkpoint directory is owned by one run).

use std::fs::File;
use std::path::Path;

use memmap2::{Mmap, MmapMut};

use crate::{Error, Result};

/// Maps a whole file read-only.
pub fn map_read(file: &File, path: &Path) -> Result<Mmap> {
    // SAFETY: the mapping is read-only and the file belongs to this run (a checkpoint we committed
    // or a data file we only read); a truncation by another process is outside the contract and
    // would at worst fault this process, never corrupt memory we hand out as valid.
    unsafe { Mmap::map(file) }.map_err(|e| Error::io("cannot memory-map", path, e))
}

/// Maps a whole file read-write; the file must already have its final length.
pub fn map_write(file: &File, path: &Path) -> Result<MmapMut> {
    // SAFETY: the file was created by this process in a private temporary directory and no other
    // mapping or writer of it exists while the returned map lives.
    unsafe { MmapMut::map_mut(file) }
        .map_err(|e| Error::io("cannot memory-map for writing", path, e))
}
