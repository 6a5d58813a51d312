//! One safetensors file outside a checkpoint directory (model exports): the same header builder
//! and streaming writer as checkpoint shards, written under a temporary name, fsync'd and
//! renamed into place so a reader never sees a half-written file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::fsutil::{ensure_free_space, fsync_dir};
use super::safetensors::build_header;
use super::source::TensorSource;
use super::stream::{write_shards, ShardWrite, DEFAULT_WINDOW_BYTES};
use crate::TensorSpec;
use crate::{Error, Result};

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
    let written = fill(&temporary, source, &header.bytes);
    if let Err(e) = written {
        let _ = fs::remove_file(&temporary);
        return Err(e);
    }
    fs::rename(&temporary, path).map_err(|e| Error::io("cannot rename into place", path, e))?;
    fsync_dir(dir)?;
    Ok(len)
}

fn fill(path: &Path, source: &dyn TensorSource, header: &[u8]) -> Result<()> {
    let tensors: Vec<usize> = (0..source.specs().len()).collect();
    let shard = ShardWrite {
        path: path.to_path_buf(),
        header,
        tensors: &tensors,
        source,
    };
    write_shards(&[shard], &[], DEFAULT_WINDOW_BYTES, true).map(drop)
}
