//! Restoring from a checkpoint onto the device: choosing which checkpoint (`--resume-from-checkpoint`
//! with or without a path, falling back past invalid ones), refusing one written for another
//! architecture, and uploading tensors one at a time straight from the read-only shard mappings
//! while their checksums are computed (one read of each byte, no host copy of the state).

use std::collections::HashMap;
use std::path::Path;

use super::discover::{list_checkpoints, CheckpointEntry};
use super::load::{open_checkpoint, Checkpoint, TensorSet, Verify};
use crate::models::ModelConfig;
use crate::pjrt::{Buffer, Client};
use crate::TensorSpec;
use crate::{Error, Result};

/// Which checkpoint a resume used, what restoring it produced, and the newer ones it passed
/// over as invalid.
pub struct ResumeChoice<T> {
    pub checkpoint: Checkpoint,
    pub restored: T,
    /// Newer `checkpoint-<step>` directories that failed verification (newest first), with why.
    pub skipped: Vec<CheckpointEntry>,
}

impl<T> ResumeChoice<T> {
    /// One line per skipped checkpoint, for stderr: `<path> is invalid (<reason>)`.
    pub fn skipped_messages(&self) -> Vec<String> {
        skipped_messages(&self.skipped)
    }
}

fn skipped_messages(skipped: &[CheckpointEntry]) -> Vec<String> {
    skipped
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

/// Opens and restores the checkpoint to resume from: `path` itself when given, else the newest
/// `checkpoint-<step>` in `output_dir` that opens (structure, consistency) and restores. With
/// `verify = Full` every checksum is checked when opening (the file is read twice); with
/// `Structure`, `restore` must read the shards through [`TensorSet::for_each_verified`] (as
/// [`upload_verified`] does), so each byte is read once and hashed on the way, and only the
/// JSON documents are hashed up front. A candidate that fails to open, or whose restore fails
/// with [`Error::ChecksumMismatch`] or [`Error::CheckpointInvalid`], is skipped for the next
/// older one; any other restore error (an architecture mismatch, a device error) stops the
/// resume. Without a path and without a valid checkpoint it
/// fails with [`Error::NoValidCheckpoint`].
pub fn resume_from<T>(
    output_dir: &Path,
    path: Option<&Path>,
    verify: Verify,
    mut restore: impl FnMut(&Checkpoint) -> Result<T>,
) -> Result<ResumeChoice<T>> {
    let mut attempt = |path: &Path| -> std::result::Result<(Checkpoint, T), (bool, Error)> {
        let opened = open_checkpoint(path, verify).and_then(|c| {
            if verify != Verify::Full {
                c.verify_documents()?;
            }
            Ok(c)
        });
        let checkpoint = opened.map_err(|e| (true, e))?;
        match restore(&checkpoint) {
            Ok(restored) => Ok((checkpoint, restored)),
            Err(e @ (Error::ChecksumMismatch { .. } | Error::CheckpointInvalid { .. })) => {
                Err((true, e))
            }
            Err(e) => Err((false, e)),
        }
    };
    if let Some(path) = path {
        let (checkpoint, restored) = attempt(path).map_err(|(_, e)| e)?;
        return Ok(ResumeChoice {
            checkpoint,
            restored,
            skipped: Vec::new(),
        });
    }
    let mut candidates = list_checkpoints(output_dir, Verify::Quick)?;
    let mut skipped = Vec::new();
    while let Some(mut entry) = candidates.pop() {
        if entry.is_valid() {
            match attempt(&entry.path) {
                Ok((checkpoint, restored)) if checkpoint.step() == entry.step => {
                    return Ok(ResumeChoice {
                        checkpoint,
                        restored,
                        skipped,
                    })
                }
                Ok((checkpoint, _)) => {
                    entry.invalid_reason = Some(format!(
                        "directory name says step {} but the manifest says {}",
                        entry.step,
                        checkpoint.step()
                    ))
                }
                Err((true, e)) => entry.invalid_reason = Some(e.to_string()),
                Err((false, e)) => return Err(e),
            }
        }
        skipped.push(entry);
    }
    Err(Error::NoValidCheckpoint {
        dir: output_dir.to_path_buf(),
        skipped: skipped_messages(&skipped)
            .iter()
            .map(|m| format!("\n  {m}"))
            .collect(),
    })
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

/// Uploads the tensors of `set` in the order of `expected` to device `device`, reading the
/// shards once in file order and checking each shard's checksum on the way
/// ([`TensorSet::for_each_verified`]); a damaged shard fails with [`Error::ChecksumMismatch`]
/// and the buffers uploaded so far are dropped. Fails before uploading anything if a tensor is
/// missing, extra, or of another dtype or shape than expected.
pub fn upload_verified(
    client: &Client,
    checkpoint: &Checkpoint,
    set: &TensorSet,
    expected: &[TensorSpec],
    device: usize,
) -> Result<Vec<Buffer>> {
    set.matching(&checkpoint.path, expected)?;
    let position: HashMap<&str, usize> = expected
        .iter()
        .enumerate()
        .map(|(i, s)| (s.name.as_str(), i))
        .collect();
    let mut buffers: Vec<Option<Buffer>> = expected.iter().map(|_| None).collect();
    set.for_each_verified(&checkpoint.path, &checkpoint.manifest, |spec, bytes| {
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
        let buffer = client.buffer_from_bytes(bytes, spec.dtype, &dims, device)?;
        if let Some(slot) = position.get(spec.name.as_str()) {
            buffers[*slot] = Some(buffer);
        }
        Ok(())
    })?;
    buffers
        .into_iter()
        .zip(expected)
        .map(|(b, spec)| {
            b.ok_or_else(|| Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: "not uploaded".into(),
            })
        })
        .collect()
}
