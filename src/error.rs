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

    #[error("PJRT plugin {path} failed its integrity check: sha256 {actual}, expected {expected}")]
    PluginIntegrity {
        path: PathBuf,
        expected: String,
        actual: String,
    },

    #[error("provisioning PJRT plugin {package} failed while {step}: {message}")]
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
    // ---- checkpoint ----
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
            | Error::DataCursor { .. } => 2,
            _ => 1,
        }
    }
}
