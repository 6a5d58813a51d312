//! One safetensors file outside a checkpoint directory (model exports): the same header builder
//! and in-place mapped fill as checkpoint shards, written under a temporary name, fsync'd and
//! renamed into place so a reader never sees a half-written file.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::path::Path;

use super::fsutil::{ensure_free_space, fsync_dir, reserve};
use super::safetensors::build_header;
use super::source::TensorSource;
use super::tensor::TensorSpec;
use crate::{mmap, Error, Result};

/// Writes every tensor of `source`, in order, into the safetensors file `path` with
/// `__metadata__` `metadata`; returns the file length.
pub fn write_safetensors_file(
    path: &Path,
    source: &dyn TensorSource,
    metadata: &BTreeMap<String, String>,
) -> Result<u64> {
    let specs: Vec<&TensorSpec> = source.specs().iter().collect();
    let header = build_header(&specs, metadata)?;
    let len = header.file_len();
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    ensure_free_space(dir, len)?;
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let written = fill(&temporary, source, &header.bytes, &header.data_ranges, len);
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(e);
    }
    fs::rename(&temporary, path).map_err(|e| Error::io("cannot rename into place", path, e))?;
    fsync_dir(dir)?;
    Ok(len)
}

fn fill(
    path: &Path,
    source: &dyn TensorSource,
    header: &[u8],
    ranges: &[std::ops::Range<u64>],
    len: u64,
) -> Result<()> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| Error::io("cannot create", path, e))?;
    reserve(&file, path, len)?;
    let mut map = mmap::map_write(&file, path)?;
    map[..header.len()].copy_from_slice(header);
    for (index, range) in ranges.iter().enumerate() {
        let start = header.len() + range.start as usize;
        let end = header.len() + range.end as usize;
        let dst = map
            .get_mut(start..end)
            .ok_or_else(|| Error::InvalidTensor {
                tensor: source.specs()[index].name.clone(),
                reason: format!("planned range {start}..{end} outside {}", path.display()),
            })?;
        source.copy_tensor(index, dst)?;
    }
    map.flush()
        .map_err(|e| Error::io("cannot flush mapped file", path, e))?;
    drop(map);
    file.sync_all()
        .map_err(|e| Error::io("cannot fsync", path, e))
}
