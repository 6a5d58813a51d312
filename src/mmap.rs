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

/// Maps `len` bytes of anonymous, page-aligned memory (a reusable I/O window), asks for huge
/// pages (fewer page faults) and touches every page now, so that streaming through it later
/// takes no faults.
pub fn map_window(len: usize) -> Result<MmapMut> {
    let mut map = MmapMut::map_anon(len)
        .map_err(|e| Error::io("cannot allocate an I/O window", Path::new("[anon]"), e))?;
    // Advice is only a hint: where huge pages are off, the window still works with small pages.
    let _ = map.advise(memmap2::Advice::HugePage);
    for page in map.chunks_mut(4096) {
        page[0] = 0;
    }
    Ok(map)
}
