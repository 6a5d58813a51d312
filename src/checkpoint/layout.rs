//! File and directory names inside an output directory, in the HF Trainer scheme, plus the small
//! JSON documents (shard index, checksum manifest) that describe the tensor files.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const MODEL_PREFIX: &str = "model";
pub const OPTIMIZER_PREFIX: &str = "optimizer";
pub const CONFIG_FILE: &str = "config.json";
pub const TRAINING_ARGS_FILE: &str = "training_args.json";
pub const TRAINER_STATE_FILE: &str = "trainer_state.json";
/// Written last inside the checkpoint; its presence and checksums make a checkpoint complete.
pub const MANIFEST_FILE: &str = "checkpoint_manifest.json";
pub const MANIFEST_FORMAT: &str = "xlatrain-checkpoint";
pub const FORMAT_VERSION: u32 = 1;

const CHECKPOINT_PREFIX: &str = "checkpoint-";
/// Staging directories: `.tmp-checkpoint-<step>-<pid>`; never picked by discovery.
pub const STAGING_PREFIX: &str = ".tmp-checkpoint-";
/// Directories on their way out (replaced or retired checkpoints); never picked by discovery.
pub const RETIRED_PREFIX: &str = ".old-checkpoint-";

/// `model.safetensors` for one shard, `model-00002-of-00005.safetensors` for several (1-based).
pub fn shard_file_name(prefix: &str, index: usize, count: usize) -> String {
    if count == 1 {
        format!("{prefix}.safetensors")
    } else {
        format!("{prefix}-{:05}-of-{count:05}.safetensors", index + 1)
    }
}

pub fn single_file_name(prefix: &str) -> String {
    format!("{prefix}.safetensors")
}

pub fn index_file_name(prefix: &str) -> String {
    format!("{prefix}.safetensors.index.json")
}

pub fn checkpoint_dir_name(step: u64) -> String {
    format!("{CHECKPOINT_PREFIX}{step}")
}

/// The step of a committed checkpoint directory name (`checkpoint-<digits>`), else `None`.
pub fn parse_checkpoint_dir_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(CHECKPOINT_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The HF index file: `{"metadata": {"total_size": N}, "weight_map": {tensor: shard file}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardIndex {
    pub metadata: IndexMetadata,
    pub weight_map: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexMetadata {
    /// Sum of the tensors' data bytes (headers excluded), as HF writes it.
    pub total_size: u64,
}

/// Checksums and sizes of every other file in the checkpoint, written last.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub step: u64,
    /// Seconds since the Unix epoch when the checkpoint was staged.
    pub created_unix_s: u64,
    pub files: BTreeMap<String, FileRecord>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub size: u64,
    /// xxh3-64 of the whole file, 16 lower-case hex digits.
    pub xxh3: String,
}

pub fn xxh3_hex(bytes: &[u8]) -> String {
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes))
}

/// A file name an index may point at: a plain name, no separators, not `.`/`..`, not absolute.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0'])
}
