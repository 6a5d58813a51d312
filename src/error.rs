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
    #[error("PJRT {function} failed with {code_name} (code {code}): {message}")]
    Pjrt {
        function: &'static str,
        code: i32,
        code_name: &'static str,
        message: String,
    },

    #[error("cannot load PJRT plugin {path}: {message}")]
    PluginLoad { path: PathBuf, message: String },

    #[error("no PJRT plugin for {device}: {message}\n  to fix: {fix}")]
    PluginNotFound {
        device: String,
        message: String,
        fix: String,
    },

    #[error("{path} failed its integrity check: sha256 {actual}, expected {expected}")]
    PluginIntegrity {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("provisioning {package} failed while {step}: {message}")]
    Provision {
        package: String,
        step: String,
        message: String,
    },

    #[error("invalid compile options: {0}")]
    CompileOptions(String),

    #[error("invalid buffer: {0}")]
    BufferShape(String),

    #[error("invalid execute arguments: {0}")]
    ExecuteArgs(String),
    // ---- graph / lower ----
    /// An op was given operands whose shapes do not fit together (caught when the node is built).
    #[error("{op}: incompatible shapes {shapes:?}: {reason}")]
    ShapeMismatch {
        op: &'static str,
        shapes: Vec<Vec<usize>>,
        reason: String,
    },
    /// An op was given operands of element types it does not accept.
    #[error("{op}: unsupported element types {dtypes:?}: {reason}")]
    DTypeMismatch {
        op: &'static str,
        dtypes: Vec<crate::graph::DType>,
        reason: String,
    },
    /// An op argument other than a shape is out of range (an axis, a permutation, a slice bound).
    #[error("{op}: invalid argument for shape {shape:?}: {reason}")]
    InvalidOpArgument {
        op: &'static str,
        shape: Vec<usize>,
        reason: String,
    },
    /// A tensor handle that does not name a node of this graph.
    #[error("tensor handle %{index} belongs to another graph (this one has {len} nodes)")]
    ForeignTensor { index: u32, len: usize },
    /// Reverse-mode differentiation cannot proceed (e.g. the loss is not a float tensor).
    #[error("grad: {reason}")]
    Autodiff { reason: String },
    /// The graph cannot be printed as the requested program (bad outputs, bad donation).
    #[error("lower: {reason}")]
    Lower { reason: String },
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

    #[error("checkpoint {path} was written for another model architecture:{differences}\n  to fix: resume with the model settings it was trained with, or start a fresh run in another output_dir")]
    ArchitectureMismatch { path: PathBuf, differences: String },

    #[error("saving checkpoint-{step} into {output_dir} failed")]
    SaveFailed {
        step: u64,
        output_dir: PathBuf,
        #[source]
        source: Box<Error>,
    },

    #[error("the background checkpoint writer for step {step} panicked")]
    WriterPanicked { step: u64 },

    #[error("cannot export {path}: {reason}")]
    Export { path: PathBuf, reason: String },

    #[error("cannot install the {signal} handler")]
    SignalHandler {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    // ---- data / models / rng ----
    #[error("invalid {model} model config: `{field}` = {value}: {reason}")]
    ModelConfig {
        model: &'static str,
        field: String,
        value: String,
        reason: String,
    },

    #[error("invalid training argument `{key}` = {value}: {reason}")]
    InvalidArgument {
        key: String,
        value: String,
        reason: String,
    },

    #[error("cannot parse config file {path}: {message}")]
    ConfigParse { path: PathBuf, message: String },

    #[error("cannot read config file {path}")]
    ConfigRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("data file {path}: {reason}")]
    DataFile { path: PathBuf, reason: String },

    #[error("data file {path}: {context}")]
    DataFileIo {
        path: PathBuf,
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("data cursor does not fit this dataset: {reason}")]
    DataCursor { reason: String },
    // ---- hf (Hugging Face models) ----
    #[error("model config {path}: `{key}` = {value}: {reason}")]
    HfConfig {
        path: PathBuf,
        key: String,
        value: String,
        reason: String,
    },

    #[error("model {path}: {reason}")]
    HfModelPath { path: PathBuf, reason: String },

    /// The [`crate::train::Model`] given to a trainer and the model its arguments name differ.
    #[error("the model given is {model} but the training arguments name {args}: {hint}")]
    ModelMismatch {
        model: String,
        args: String,
        hint: String,
    },

    #[error("model weights {path}: tensor {tensor:?} {reason}")]
    HfWeights {
        path: PathBuf,
        tensor: String,
        reason: String,
    },
    // ---- tokenizer / text data / gguf ----
    #[error("tokenizer {path}: {reason}")]
    Tokenizer { path: PathBuf, reason: String },

    #[error("GGUF file {path}: {reason}")]
    Gguf { path: PathBuf, reason: String },
    // ---- bench ----
    /// A benchmark's own correctness check failed (e.g. a resumed tensor differs from the saved
    /// one), so its timings would be meaningless.
    #[error("benchmark check failed: {check}: {reason}")]
    BenchCheck { check: String, reason: String },
    // ---- plots ----
    #[error("cannot draw {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
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
            Error::Usage(_)
            | Error::ModelConfig { .. }
            | Error::InvalidArgument { .. }
            | Error::ConfigParse { .. }
            | Error::ConfigRead { .. }
            | Error::DataFile { .. }
            | Error::DataFileIo { .. }
            | Error::DataCursor { .. }
            | Error::HfConfig { .. }
            | Error::HfModelPath { .. }
            | Error::ModelMismatch { .. }
            | Error::HfWeights { .. }
            | Error::Tokenizer { .. }
            | Error::Gguf { .. }
            | Error::InvalidSize { .. } => 2,
            _ => 1,
        }
    }
}
