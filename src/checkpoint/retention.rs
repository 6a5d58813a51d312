//! `--save-total-limit N`: which checkpoints to delete after a save. The decision is a pure
//! function so its rules can be tested alone: keep the newest N, and never delete the best
//! checkpoint, the one this run resumed from, or the one just committed, even when that keeps
//! more than N. Deletion needs a [`SavedCheckpoint`], i.e. only happens after a commit.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::discover::list_checkpoints;
use super::fsutil::fsync_dir;
use super::layout::{checkpoint_dir_name, RETIRED_PREFIX};
use super::load::Verify;
use super::save::SavedCheckpoint;
use crate::{Error, Result};

/// What must survive retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Keep at most this many of the newest checkpoints (`None`: keep all). `Some(0)` is treated
    /// as 1: the checkpoint just committed is always kept.
    pub save_total_limit: Option<usize>,
    /// Step of the best checkpoint so far (by the tracked metric).
    pub best_step: Option<u64>,
    /// Step this run resumed from.
    pub resumed_from_step: Option<u64>,
}

/// Steps to delete among `existing` (valid committed checkpoints) after committing `just_saved`.
pub fn steps_to_delete(existing: &[u64], just_saved: u64, policy: &RetentionPolicy) -> Vec<u64> {
    let Some(limit) = policy.save_total_limit else {
        return Vec::new();
    };
    let mut steps: BTreeSet<u64> = existing.iter().copied().collect();
    steps.insert(just_saved);
    let mut keep: BTreeSet<u64> = steps.iter().rev().take(limit.max(1)).copied().collect();
    keep.insert(just_saved);
    keep.extend(policy.best_step);
    keep.extend(policy.resumed_from_step);
    steps.into_iter().filter(|s| !keep.contains(s)).collect()
}

/// Applies the policy in `output_dir` after `just_saved` was committed. Only checkpoints that pass
/// a quick check count and can be deleted; invalid ones are left for a person to look at. Each
/// victim is first renamed to `.old-checkpoint-*` (so it leaves discovery atomically), then
/// removed. Returns the deleted checkpoint paths.
pub fn apply_retention(
    output_dir: &Path,
    just_saved: &SavedCheckpoint,
    policy: &RetentionPolicy,
) -> Result<Vec<PathBuf>> {
    let valid: Vec<u64> = list_checkpoints(output_dir, Verify::Quick)?
        .into_iter()
        .filter(|e| e.is_valid())
        .map(|e| e.step)
        .collect();
    let mut deleted = Vec::new();
    for step in steps_to_delete(&valid, just_saved.step, policy) {
        let path = output_dir.join(checkpoint_dir_name(step));
        let aside = output_dir.join(format!("{RETIRED_PREFIX}{step}-{}", std::process::id()));
        fs::rename(&path, &aside).map_err(|e| Error::io("cannot retire checkpoint", &path, e))?;
        fsync_dir(output_dir)?;
        fs::remove_dir_all(&aside)
            .map_err(|e| Error::io("cannot delete retired checkpoint", &aside, e))?;
        deleted.push(path);
    }
    Ok(deleted)
}
