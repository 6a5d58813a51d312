//! Finding checkpoints in an output directory: listing with validity, picking the newest valid
//! one for resume (reporting every newer checkpoint it had to skip and why), and describing one
//! checkpoint's contents for `inspect`.

use std::collections::BTreeMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::layout::{parse_checkpoint_dir_name, Manifest};
use super::load::{check_checkpoint, open_checkpoint, Verify};
use super::state::TrainerState;
use crate::TensorSpec;
use crate::{Error, Result};

/// One `checkpoint-<step>` directory and what checking it found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointEntry {
    pub step: u64,
    pub path: PathBuf,
    /// Last modification of the directory (the commit rename), if the file system reports it.
    pub modified: Option<SystemTime>,
    /// Sum of the sizes of the files directly inside the directory.
    pub size_bytes: u64,
    /// `None` if valid, else why not.
    pub invalid_reason: Option<String>,
}

impl CheckpointEntry {
    pub fn is_valid(&self) -> bool {
        self.invalid_reason.is_none()
    }
}

/// Every `checkpoint-<step>` directory in `output_dir`, oldest step first, each checked at
/// `verify`. Staging and retired directories and other names are not listed.
pub fn list_checkpoints(output_dir: &Path, verify: Verify) -> Result<Vec<CheckpointEntry>> {
    let mut found = Vec::new();
    let entries = fs::read_dir(output_dir)
        .map_err(|e| Error::io("cannot list output directory", output_dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list output directory", output_dir, e))?;
        let Some(step) = entry
            .file_name()
            .to_str()
            .and_then(parse_checkpoint_dir_name)
        else {
            continue;
        };
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        found.push((step, path));
    }
    found.sort();
    Ok(found
        .into_iter()
        .map(|(step, path)| describe(step, path, verify))
        .collect())
}

fn describe(step: u64, path: PathBuf, verify: Verify) -> CheckpointEntry {
    let modified = fs::metadata(&path).and_then(|m| m.modified()).ok();
    let size_bytes = fs::read_dir(&path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    let invalid_reason = match check_checkpoint(&path, verify) {
        Ok(manifest) if manifest.step != step => Some(format!(
            "directory name says step {step} but the manifest says {}",
            manifest.step
        )),
        Ok(_) => None,
        Err(e) => Some(e.to_string()),
    };
    CheckpointEntry {
        step,
        path,
        modified,
        size_bytes,
        invalid_reason,
    }
}

/// The newest valid checkpoint and the newer ones that were skipped as invalid.
#[derive(Debug, Clone, PartialEq)]
pub struct NewestValid {
    pub checkpoint: CheckpointEntry,
    pub skipped: Vec<CheckpointEntry>,
}

/// Walks checkpoints from the newest step down, checking each at `verify` until one is valid.
/// Fails with [`Error::NoValidCheckpoint`] (listing every skipped one) if none is.
pub fn newest_valid(output_dir: &Path, verify: Verify) -> Result<NewestValid> {
    let mut candidates = list_checkpoints(output_dir, Verify::Quick)?;
    let mut skipped = Vec::new();
    while let Some(entry) = candidates.pop() {
        let entry = if entry.is_valid() && verify != Verify::Quick {
            describe(entry.step, entry.path, verify)
        } else {
            entry
        };
        if entry.is_valid() {
            return Ok(NewestValid {
                checkpoint: entry,
                skipped,
            });
        }
        skipped.push(entry);
    }
    let skipped = skipped
        .iter()
        .map(|e| {
            format!(
                "\n  skipped {}: {}",
                e.path.display(),
                e.invalid_reason.as_deref().unwrap_or("")
            )
        })
        .collect();
    Err(Error::NoValidCheckpoint {
        dir: output_dir.to_path_buf(),
        skipped,
    })
}

/// Fully verifies one checkpoint (structure and every checksum) and returns its manifest.
pub fn verify(path: &Path) -> Result<Manifest> {
    check_checkpoint(path, Verify::Full)
}

/// A description of one checkpoint's contents.
#[derive(Debug, Clone, PartialEq)]
pub struct Inspection {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub trainer_state: TrainerState,
    pub tensors: Vec<InspectedTensor>,
    /// `__metadata__` of every shard, by file name.
    pub shard_metadata: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InspectedTensor {
    /// `"model"` or `"optimizer"`.
    pub set: &'static str,
    pub spec: TensorSpec,
    pub file: String,
    /// Byte range inside the file (header included in the offsets).
    pub byte_range: Range<usize>,
}

/// Describes a checkpoint after a structural check (no checksums: use [`verify`] for those).
pub fn inspect(path: &Path) -> Result<Inspection> {
    let checkpoint = open_checkpoint(path, Verify::Structure)?;
    let mut tensors = Vec::new();
    let mut shard_metadata = BTreeMap::new();
    let sets = [
        ("model", Some(&checkpoint.model)),
        ("optimizer", checkpoint.optimizer.as_ref()),
    ];
    for (name, set) in sets {
        let Some(set) = set else { continue };
        shard_metadata.extend(set.metadata().clone());
        for index in 0..set.len() {
            if let (Some((spec, _)), Some(file), Some(range)) =
                (set.tensor(index), set.file_of(index), set.byte_range(index))
            {
                tensors.push(InspectedTensor {
                    set: name,
                    spec: spec.clone(),
                    file: file.to_string(),
                    byte_range: range,
                });
            }
        }
    }
    Ok(Inspection {
        path: path.to_path_buf(),
        manifest: checkpoint.manifest,
        trainer_state: checkpoint.trainer_state,
        tensors,
        shard_metadata,
    })
}
