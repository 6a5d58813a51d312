//! Saving a checkpoint with a crash-safe commit.
//!
//! Everything is written into a staging directory `<output_dir>/.tmp-checkpoint-<step>-<pid>`:
//! shards first (streamed through reused aligned windows with `O_DIRECT`, hashed on the way and
//! `fdatasync`ed in parallel together with the index files and JSON documents: see
//! `stream.rs`), then the checksum manifest
//! last; the staging directory is fsync'd, renamed to `checkpoint-<step>` and the output
//! directory fsync'd. A crash at any instant leaves either no `checkpoint-<step>` or a complete
//! one; discovery never looks at staging directories and [`cleanup_stale`] removes them.
//!
//! Re-saving an existing step swaps the new directory in atomically (`renameat2(RENAME_EXCHANGE)`)
//! and then deletes the old one; where the file system cannot exchange, the old directory is
//! renamed aside to `.old-checkpoint-<step>-<pid>` first, so a crash between the two renames
//! leaves that step missing (earlier checkpoints intact) and never a mix of old and new files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

use super::fsutil::{ensure_free_space, fsync_dir, write_durable};
use super::layout::*;
use super::plan::{plan_shards, ShardPlan};
use super::source::TensorSource;
use super::state::TrainerState;
use super::stream::{write_shards, ShardWrite, DEFAULT_WINDOW_BYTES};
use crate::{Error, Result};

/// How to lay out the tensor files.
#[derive(Debug, Clone)]
pub struct SaveOptions {
    /// Largest sum of tensor bytes per shard (default 5 GB, as HF); see [`super::parse_size`].
    pub max_shard_size: u64,
    /// `__metadata__` written into model shards. Defaults to `{"format": "pt"}`, which HF
    /// `from_pretrained` requires of safetensors files.
    pub model_metadata: BTreeMap<String, String>,
    /// Size of each of the streaming writer's two I/O windows (rounded up to 4 KiB; default
    /// 64 MiB). The extra host memory of a save is two windows.
    pub window_bytes: usize,
    /// Write shards with `O_DIRECT` where the file system allows it (default); `false` writes
    /// the same whole-page windows through the page cache.
    pub direct_io: bool,
    /// More files written into every checkpoint as they are, e.g. the tokenizer files of the
    /// Hugging Face model a run started from: `(plain file name, bytes)`, covered by the manifest.
    pub extra_documents: Vec<(String, Vec<u8>)>,
}

impl Default for SaveOptions {
    fn default() -> Self {
        SaveOptions {
            max_shard_size: 5_000_000_000,
            model_metadata: BTreeMap::from([("format".to_string(), "pt".to_string())]),
            window_bytes: DEFAULT_WINDOW_BYTES,
            direct_io: true,
            extra_documents: Vec::new(),
        }
    }
}

/// Everything one checkpoint holds; the JSON documents' content comes from the caller.
pub struct CheckpointContents<'a> {
    pub step: u64,
    pub model: &'a dyn TensorSource,
    pub optimizer: Option<&'a dyn TensorSource>,
    pub trainer_state: &'a TrainerState,
    pub training_args: &'a Value,
    pub config: &'a Value,
}

/// A committed checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct SavedCheckpoint {
    pub step: u64,
    pub path: PathBuf,
    /// Bytes of all files written.
    pub bytes: u64,
    /// Whether an earlier checkpoint of the same step was replaced.
    pub replaced: bool,
    /// Whether every shard was written with `O_DIRECT` (else through the page cache).
    pub direct_io: bool,
}

/// Stages and commits a checkpoint; see the module documentation for the protocol.
///
/// Out of disk space, it fails with [`Error::InsufficientSpace`] when the free-space check before
/// writing already sees too little, or with [`Error::Io`] (ENOSPC, naming the file) when space
/// runs out while writing. Either way the staging directory is removed, no `checkpoint-<step>`
/// appears and earlier checkpoints are untouched (tests/hostile_disk_full.rs). Like every
/// runtime error, both map to exit code 1 in the binary ([`Error::exit_code`]).
pub fn save_checkpoint(
    output_dir: &Path,
    contents: &CheckpointContents,
    options: &SaveOptions,
) -> Result<SavedCheckpoint> {
    stage_checkpoint(output_dir, contents, options)?.commit()
}

/// Bytes the checkpoint will occupy (tensor files exactly, JSON documents exactly, manifest and
/// per-file block rounding estimated), as checked against free space before writing.
pub fn required_bytes(contents: &CheckpointContents, options: &SaveOptions) -> Result<u64> {
    Ok(Prepared::new(contents, options)?.required_bytes())
}

/// A fully written, not yet committed checkpoint in its staging directory. Dropping it removes
/// the staging directory; `std::mem::forget` leaves it behind as a crash would.
pub struct StagedCheckpoint {
    output_dir: PathBuf,
    staging: PathBuf,
    step: u64,
    bytes: u64,
    direct_io: bool,
}

impl StagedCheckpoint {
    pub fn staging_path(&self) -> &Path {
        &self.staging
    }

    /// Renames the staging directory to `checkpoint-<step>` and makes the rename durable.
    pub fn commit(mut self) -> Result<SavedCheckpoint> {
        let target = self.output_dir.join(checkpoint_dir_name(self.step));
        let replaced = target.exists();
        if replaced {
            replace_existing(&self.output_dir, &self.staging, &target, self.step)?;
        } else {
            fs::rename(&self.staging, &target)
                .map_err(|e| Error::io("cannot commit checkpoint by renaming to", &target, e))?;
            fsync_dir(&self.output_dir)?;
        }
        // Committed: the staging path no longer exists and Drop must not touch it.
        self.staging = PathBuf::new();
        Ok(SavedCheckpoint {
            step: self.step,
            path: target,
            bytes: self.bytes,
            replaced,
            direct_io: self.direct_io,
        })
    }
}

impl Drop for StagedCheckpoint {
    fn drop(&mut self) {
        if !self.staging.as_os_str().is_empty() {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Writes the whole checkpoint into a staging directory without committing it.
pub fn stage_checkpoint(
    output_dir: &Path,
    contents: &CheckpointContents,
    options: &SaveOptions,
) -> Result<StagedCheckpoint> {
    let prepared = Prepared::new(contents, options)?;
    ensure_free_space(output_dir, prepared.required_bytes())?;

    let created = !output_dir.exists();
    fs::create_dir_all(output_dir)
        .map_err(|e| Error::io("cannot create output directory", output_dir, e))?;
    if created {
        // Make the new output directory's own entry durable before checkpoints appear in it.
        if let Some(parent) = output_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            fsync_dir(parent)?;
        }
    }
    let staging = output_dir.join(format!(
        "{STAGING_PREFIX}{}-{}",
        contents.step,
        std::process::id()
    ));
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| Error::io("cannot remove stale staging directory", &staging, e))?;
    }
    fs::create_dir(&staging)
        .map_err(|e| Error::io("cannot create staging directory", &staging, e))?;
    // From here on, any error drops `staged` and removes the staging directory.
    let staged = StagedCheckpoint {
        output_dir: output_dir.to_path_buf(),
        staging,
        step: contents.step,
        bytes: 0,
        direct_io: false,
    };
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let mut shards = Vec::new();
    for (plans, source) in [
        (&prepared.model, Some(contents.model)),
        (&prepared.optimizer, contents.optimizer),
    ] {
        let Some(source) = source else { continue };
        shards.extend(plans.iter().map(|plan| {
            (
                plan.file_name.clone(),
                ShardWrite {
                    path: staged.staging.join(&plan.file_name),
                    header: &plan.header.bytes,
                    tensors: &plan.tensors,
                    source,
                },
            )
        }));
    }
    let (names, writes): (Vec<String>, Vec<ShardWrite>) = shards.into_iter().unzip();
    // Index files and JSON documents are made durable in the same parallel fdatasync round.
    let documents: Vec<(PathBuf, &[u8])> = prepared
        .documents
        .iter()
        .map(|(name, bytes)| (staged.staging.join(name), bytes.as_slice()))
        .collect();
    let streamed = write_shards(&writes, &documents, options.window_bytes, options.direct_io)?;
    for (name, record) in names.into_iter().zip(streamed.records) {
        total += record.size;
        files.insert(name, record);
    }
    let mut staged = staged;
    staged.direct_io = streamed.direct;
    for (name, bytes) in &prepared.documents {
        total += bytes.len() as u64;
        files.insert(
            name.clone(),
            FileRecord {
                size: bytes.len() as u64,
                xxh3: xxh3_hex(bytes),
            },
        );
    }
    let manifest = Manifest {
        format: MANIFEST_FORMAT.into(),
        format_version: FORMAT_VERSION,
        step: contents.step,
        created_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        files,
    };
    let manifest_bytes = to_json(&manifest, MANIFEST_FILE)?;
    write_durable(&staged.staging.join(MANIFEST_FILE), &manifest_bytes)?;
    total += manifest_bytes.len() as u64;
    fsync_dir(&staged.staging)?;
    staged.bytes = total;
    Ok(staged)
}

/// Plans and serialized documents, computed before anything touches the disk.
struct Prepared {
    model: Vec<ShardPlan>,
    optimizer: Vec<ShardPlan>,
    /// (file name, bytes) of index files and JSON documents, in write order.
    documents: Vec<(String, Vec<u8>)>,
}

impl Prepared {
    fn new(contents: &CheckpointContents, options: &SaveOptions) -> Result<Self> {
        let model = plan_shards(
            MODEL_PREFIX,
            contents.model.specs(),
            options.max_shard_size,
            &options.model_metadata,
        )?;
        let optimizer = match contents.optimizer {
            Some(source) => plan_shards(
                OPTIMIZER_PREFIX,
                source.specs(),
                options.max_shard_size,
                &BTreeMap::new(),
            )?,
            None => Vec::new(),
        };
        let mut documents = Vec::new();
        for (prefix, plans, source) in [
            (MODEL_PREFIX, &model, Some(contents.model)),
            (OPTIMIZER_PREFIX, &optimizer, contents.optimizer),
        ] {
            if let (Some(source), true) = (source, plans.len() > 1) {
                let index = build_index(plans, source)?;
                documents.push((
                    index_file_name(prefix),
                    to_json(&index, &index_file_name(prefix))?,
                ));
            }
        }
        documents.push((CONFIG_FILE.into(), to_json(contents.config, CONFIG_FILE)?));
        documents.push((
            TRAINING_ARGS_FILE.into(),
            to_json(contents.training_args, TRAINING_ARGS_FILE)?,
        ));
        documents.push((
            TRAINER_STATE_FILE.into(),
            to_json(contents.trainer_state, TRAINER_STATE_FILE)?,
        ));
        for (name, bytes) in &options.extra_documents {
            let taken = documents.iter().any(|(n, _)| n == name)
                || name.ends_with(".safetensors")
                || name == MANIFEST_FILE;
            if !is_plain_file_name(name) || taken {
                return Err(Error::InvalidArgument {
                    key: "extra_documents".into(),
                    value: name.clone(),
                    reason: "must be a plain file name the checkpoint does not write itself".into(),
                });
            }
            documents.push((name.clone(), bytes.clone()));
        }
        Ok(Prepared {
            model,
            optimizer,
            documents,
        })
    }

    fn required_bytes(&self) -> u64 {
        const BLOCK: u64 = 4096;
        const MANIFEST_ESTIMATE_PER_FILE: u64 = 128;
        let shards = self
            .model
            .iter()
            .chain(&self.optimizer)
            .map(|p| p.header.file_len());
        let documents = self.documents.iter().map(|(_, b)| b.len() as u64);
        let file_count =
            (self.model.len() + self.optimizer.len() + self.documents.len() + 1) as u64;
        shards
            .chain(documents)
            .fold(0u64, |acc, len| {
                acc.saturating_add(len.div_ceil(BLOCK) * BLOCK)
            })
            .saturating_add(file_count * (MANIFEST_ESTIMATE_PER_FILE + BLOCK))
    }
}

fn build_index(plans: &[ShardPlan], source: &dyn TensorSource) -> Result<ShardIndex> {
    let specs = source.specs();
    let mut weight_map = BTreeMap::new();
    for plan in plans {
        for &t in &plan.tensors {
            weight_map.insert(specs[t].name.clone(), plan.file_name.clone());
        }
    }
    let total_size = plans.iter().map(|p| p.header.data_len).sum();
    Ok(ShardIndex {
        metadata: IndexMetadata { total_size },
        weight_map,
    })
}

fn to_json<T: Serialize + ?Sized>(value: &T, name: &str) -> Result<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::CheckpointJson {
        path: PathBuf::from(name),
        source: e,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Puts `staging` in place of the existing `target` of the same step.
fn replace_existing(output_dir: &Path, staging: &Path, target: &Path, step: u64) -> Result<()> {
    let exchanged = rustix::fs::renameat_with(
        rustix::fs::CWD,
        staging,
        rustix::fs::CWD,
        target,
        rustix::fs::RenameFlags::EXCHANGE,
    );
    let old = match exchanged {
        // `staging` now holds the previous checkpoint.
        Ok(()) => staging.to_path_buf(),
        Err(_) => {
            let aside = output_dir.join(format!("{RETIRED_PREFIX}{step}-{}", std::process::id()));
            fs::rename(target, &aside).map_err(|e| {
                Error::io("cannot move the previous checkpoint aside to", &aside, e)
            })?;
            fs::rename(staging, target)
                .map_err(|e| Error::io("cannot commit checkpoint by renaming to", target, e))?;
            aside
        }
    };
    fsync_dir(output_dir)?;
    // The new checkpoint is committed; failing to delete the old copy must not report the save
    // as failed. A leftover is a staging or retired directory, which `cleanup_stale` removes.
    let _ = fs::remove_dir_all(&old);
    Ok(())
}

/// Removes staging and retired directories left by a crash. Only call this when no other save
/// into `output_dir` is running (one run owns an output directory). Returns what was removed.
pub fn cleanup_stale(output_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs::read_dir(output_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(Error::io("cannot list output directory", output_dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list output directory", output_dir, e))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(STAGING_PREFIX) || name.starts_with(RETIRED_PREFIX) {
            let path = entry.path();
            fs::remove_dir_all(&path)
                .map_err(|e| Error::io("cannot remove stale directory", &path, e))?;
            removed.push(path);
        }
    }
    if !removed.is_empty() {
        fsync_dir(output_dir)?;
    }
    Ok(removed)
}
