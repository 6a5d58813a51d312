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
