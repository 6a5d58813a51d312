//! Restoring from a checkpoint onto the device: choosing which checkpoint (`--resume-from-checkpoint`
//! with or without a path), refusing one written for another architecture, and uploading tensors
//! one at a time straight from the read-only shard mappings (no host copy of the whole state).

use std::path::Path;

use super::device::element_type_of;
use super::discover::{newest_valid, CheckpointEntry};
use super::load::{open_checkpoint, Checkpoint, TensorSet, Verify};
use super::tensor::TensorSpec;
use crate::models::ModelConfig;
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

/// Which checkpoint a resume uses, and the newer ones it passed over as invalid.
pub struct ResumeChoice {
    pub checkpoint: Checkpoint,
    /// Newer `checkpoint-<step>` directories that failed verification (newest first), with why.
    pub skipped: Vec<CheckpointEntry>,
}

impl ResumeChoice {
    /// One line per skipped checkpoint, for stderr: `<path> is invalid (<reason>)`.
    pub fn skipped_messages(&self) -> Vec<String> {
        self.skipped
            .iter()
            .map(|e| {
                format!(
                    "checkpoint {} is invalid ({}); skipping it",
                    e.path.display(),
                    e.invalid_reason.as_deref().unwrap_or("unknown reason")
                )
            })
            .collect()
    }
}

/// Opens the checkpoint to resume from: `path` itself when given (fully verified: checksums of
/// every file), else the newest fully valid `checkpoint-<step>` in `output_dir`.
pub fn choose_resume(output_dir: &Path, path: Option<&Path>) -> Result<ResumeChoice> {
    match path {
        Some(path) => Ok(ResumeChoice {
            checkpoint: open_checkpoint(path, Verify::Full)?,
            skipped: Vec::new(),
        }),
        None => {
            let newest = newest_valid(output_dir, Verify::Full)?;
            // Verified just now; opening again only needs the structure for the mappings.
            let checkpoint = open_checkpoint(&newest.checkpoint.path, Verify::Structure)?;
            Ok(ResumeChoice {
                checkpoint,
                skipped: newest.skipped,
            })
        }
    }
}

/// Refuses a checkpoint whose architecture fingerprint differs from `now`'s, listing the
/// differences (from the checkpoint's `config.json` when it holds a model config).
pub fn check_architecture(checkpoint: &Checkpoint, now: &ModelConfig) -> Result<()> {
    let now_arch = now.architecture()?;
    let saved_fingerprint = &checkpoint.trainer_state.xlatrain.architecture_fingerprint;
    if *saved_fingerprint == now_arch.fingerprint() {
        return Ok(());
    }
    let saved_config =
        crate::hf::checkpoint::model_config_of(&checkpoint.path, &checkpoint.config).ok();
    let mut differences = match saved_config.and_then(|c| c.architecture().ok()) {
        Some(saved) => saved.describe_mismatch(&now_arch),
        None => Vec::new(),
    };
    if differences.is_empty() {
        differences.push(format!(
            "fingerprint was {}, now {}",
            if saved_fingerprint.is_empty() {
                "(none recorded)"
            } else {
                saved_fingerprint
            },
            now_arch.fingerprint()
        ));
    }
    Err(Error::ArchitectureMismatch {
        path: checkpoint.path.clone(),
        differences: differences.iter().map(|d| format!("\n  {d}")).collect(),
    })
}

/// Uploads the tensors of `set` in the order of `expected` to device `device`, one at a time from
/// the mapping. Fails before uploading anything if a tensor is missing, extra, or of another
/// dtype or shape than expected.
pub fn upload_tensors(
    client: &Client,
    checkpoint: &Path,
    set: &TensorSet,
    expected: &[TensorSpec],
    device: usize,
) -> Result<Vec<Buffer>> {
    let slices = set.matching(checkpoint, expected)?;
    expected
        .iter()
        .zip(slices)
        .map(|(spec, bytes)| {
            let dims = spec
                .shape
                .iter()
                .map(|&d| {
                    i64::try_from(d).map_err(|_| Error::InvalidTensor {
                        tensor: spec.name.clone(),
                        reason: format!("dimension {d} does not fit a device shape"),
                    })
                })
                .collect::<Result<Vec<i64>>>()?;
            client.buffer_from_bytes(bytes, element_type_of(spec.dtype), &dims, device)
        })
        .collect()
}
