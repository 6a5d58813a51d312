//! Parsing a checkpoint's JSON documents from bytes: the checksum manifest, the shard index and
//! `trainer_state.json`. Each function applies every check that needs only the document itself
//! (format and version, safe file names), so the loader and the fuzz targets run the same code;
//! checks that need other files (index against shards) stay in the loader.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::layout::{
    is_plain_file_name, Manifest, ShardIndex, FORMAT_VERSION, MANIFEST_FILE, MANIFEST_FORMAT,
};
use super::state::TrainerState;
use crate::{Error, Result};

/// Deserializes `bytes` (the content of `path`) as JSON. serde_json limits nesting depth, so a
/// hostile document fails with an error instead of exhausting the stack.
pub(crate) fn parse_json_bytes<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::CheckpointJson {
        path: path.to_path_buf(),
        source: e,
    })
}

/// Parses `checkpoint_manifest.json` read from `path`: a known format, a version this program
/// reads, and only plain file names (never the manifest itself).
pub fn parse_manifest_bytes(path: &Path, bytes: &[u8]) -> Result<Manifest> {
    let manifest: Manifest = parse_json_bytes(path, bytes)?;
    let invalid = |reason: String| Error::ManifestInvalid {
        path: path.to_path_buf(),
        reason,
    };
    if manifest.format != MANIFEST_FORMAT {
        return Err(invalid(format!(
            "format is {:?}, expected {MANIFEST_FORMAT:?}",
            manifest.format
        )));
    }
    if manifest.format_version > FORMAT_VERSION {
        return Err(invalid(format!(
            "format version {} is newer than this program's {FORMAT_VERSION}",
            manifest.format_version
        )));
    }
    if let Some(name) = manifest
        .files
        .keys()
        .find(|n| !is_plain_file_name(n) || *n == MANIFEST_FILE)
    {
        return Err(invalid(format!("lists an invalid file name {name:?}")));
    }
    Ok(manifest)
}

/// Parses a `<prefix>.safetensors.index.json` read from `path`; every shard it names must be a
/// plain file name, so the index cannot point outside the checkpoint directory.
pub fn parse_index_bytes(path: &Path, bytes: &[u8]) -> Result<ShardIndex> {
    let index: ShardIndex = parse_json_bytes(path, bytes)?;
    if let Some((tensor, file)) = index
        .weight_map
        .iter()
        .find(|(_, file)| !is_plain_file_name(file))
    {
        return Err(Error::IndexUnsafePath {
            index: path.to_path_buf(),
            tensor: tensor.clone(),
            file: file.clone(),
        });
    }
    Ok(index)
}

/// Parses `trainer_state.json` read from `path` (HF's own files included).
pub fn parse_trainer_state_bytes(path: &Path, bytes: &[u8]) -> Result<TrainerState> {
    parse_json_bytes(path, bytes)
}
