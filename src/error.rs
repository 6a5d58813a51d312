//! The library's one error type. Variants carry structured fields (paths, names, shapes) so that a
//! message names exactly what went wrong; the binary prints the chain and maps it to an exit code.
//!
//! Each module owns a section below; add variants to your own section only.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- usage (exit code 2) ----
    #[error("invalid usage: {0}")]
    Usage(String),

    #[error("{context}: {path}")]
    Io {
        context: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // ---- pjrt ----
    // ---- graph / lower ----
    // ---- checkpoint ----
    #[error("invalid size {text:?}: {reason} (examples: \"5GB\", \"500MB\", \"1.5GB\", \"100KiB\", \"4096\")")]
    InvalidSize { text: String, reason: String },

    #[error("tensor {tensor:?}: {reason}")]
    InvalidTensor { tensor: String, reason: String },

    #[error("tensor {tensor:?}: source wrote {found} bytes where {expected} were expected")]
    TensorByteCount {
        tensor: String,
        expected: u64,
        found: u64,
    },

    #[error(
        "not enough free space in {path}: checkpoint needs {needed} bytes, {available} available"
    )]
    InsufficientSpace {
        path: PathBuf,
        needed: u64,
        available: u64,
    },

    #[error("checkpoint file missing: {path}")]
    CheckpointFileMissing { path: PathBuf },

    #[error("invalid JSON in {path}: {source}")]
    CheckpointJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error(
        "safetensors header length {header_len} in {path} exceeds {limit} (file length {file_len})"
    )]
    SafetensorsHeaderTooLarge {
        path: PathBuf,
        header_len: u64,
        limit: u64,
        file_len: u64,
    },

    #[error("invalid safetensors header in {path}: {reason}")]
    SafetensorsHeader { path: PathBuf, reason: String },

    #[error("invalid safetensors entry for tensor {tensor:?} in {path}: {reason}")]
    SafetensorsTensor {
        path: PathBuf,
        tensor: String,
        reason: String,
    },

    #[error("{path} is {found} bytes but its header describes {expected} bytes (truncated or trailing data)")]
    SafetensorsLength {
        path: PathBuf,
        expected: u64,
        found: u64,
    },

    #[error("checksum mismatch in {path}: manifest records xxh3 {expected}, file has {found}")]
    ChecksumMismatch {
        path: PathBuf,
        expected: String,
        found: String,
    },

    #[error("invalid checkpoint manifest {path}: {reason}")]
    ManifestInvalid { path: PathBuf, reason: String },

    #[error("index {index} maps tensor {tensor:?} to unsafe file name {file:?} (must be a plain file name inside the checkpoint)")]
    IndexUnsafePath {
        index: PathBuf,
        tensor: String,
        file: String,
    },

    #[error("index {index} lists tensor {tensor:?} in {shard}, which does not contain it")]
    IndexTensorMissing {
        index: PathBuf,
        tensor: String,
        shard: PathBuf,
    },

    #[error("shard {shard} contains tensor {tensor:?}, which index {index} does not map to it")]
    IndexTensorUnlisted {
        index: PathBuf,
        tensor: String,
        shard: PathBuf,
    },

    #[error("invalid index {index}: {reason}")]
    IndexInvalid { index: PathBuf, reason: String },

    #[error("checkpoint {path}: tensor {tensor:?} expected {expected}, found {found}")]
    TensorSpecMismatch {
        path: PathBuf,
        tensor: String,
        expected: String,
        found: String,
    },

    #[error("checkpoint {path} is not usable: {reason}")]
    CheckpointInvalid { path: PathBuf, reason: String },

    #[error("no valid checkpoint in {dir}{skipped}")]
    NoValidCheckpoint { dir: PathBuf, skipped: String },
    // ---- data / models / rng ----
}

impl Error {
    /// Wraps an I/O error with what we were doing and the file involved.
    pub fn io(
        context: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Error::Io {
            context: context.into(),
            path: path.into(),
            source,
        }
    }

    /// The process exit code this error maps to: 2 for bad usage or bad input, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
