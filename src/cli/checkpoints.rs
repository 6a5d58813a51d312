//! `xlatrain checkpoints list|verify|inspect`: what is in an output directory, whether a
//! checkpoint is intact (every checksum), and what one holds.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};

use crate::checkpoint::{
    inspect, list_checkpoints, parse_checkpoint_dir_name, verify, CheckpointEntry, Verify,
    MANIFEST_FILE,
};
use crate::{Error, Result};

#[derive(Debug, Subcommand)]
pub enum CheckpointsCommand {
    /// List the checkpoints of an output directory: step, time, size, validity, best marker.
    List(ListArgs),
    /// Check a checkpoint (or every checkpoint of an output directory) byte for byte against its
    /// manifest; exits 1 naming the first bad file or tensor.
    Verify(PathArgs),
    /// Show a checkpoint's tensors, shard metadata and trainer state.
    Inspect(PathArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// The run's output directory.
    pub output_dir: PathBuf,
    /// Also check every file's checksum (reads every byte).
    #[arg(long)]
    pub full: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PathArgs {
    /// A `checkpoint-<step>` directory.
    pub path: PathBuf,
}

pub fn run(command: &CheckpointsCommand) -> Result<()> {
    match command {
        CheckpointsCommand::List(args) => list(args),
        CheckpointsCommand::Verify(args) => verify_command(&args.path),
        CheckpointsCommand::Inspect(args) => inspect_command(&args.path),
    }
}

fn list(args: &ListArgs) -> Result<()> {
    if !args.output_dir.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            args.output_dir.display()
        )));
    }
    let level = if args.full {
        Verify::Full
    } else {
        Verify::Structure
    };
    let entries = list_checkpoints(&args.output_dir, level)?;
    if entries.is_empty() {
        say!("no checkpoints in {}", args.output_dir.display());
        return Ok(());
    }
    let best = best_checkpoint(&entries);
    say!(
        "{:>10}  {:<20}  {:>10}  {:<7}  {}",
        "step",
        "time (UTC)",
        "size",
        "status",
        "checkpoint"
    );
    for entry in &entries {
        let status = if entry.is_valid() { "valid" } else { "INVALID" };
        let marker = if best.as_deref() == Some(entry.path.as_path()) {
            "  * best"
        } else {
            ""
        };
        say!(
            "{:>10}  {:<20}  {:>10}  {:<7}  {}{marker}",
            entry.step,
            entry.modified.map(utc_time).unwrap_or_else(|| "-".into()),
            human_bytes(entry.size_bytes),
            status,
            entry.path.file_name().unwrap_or_default().to_string_lossy(),
        );
        if let Some(reason) = &entry.invalid_reason {
            say!("{:>10}  reason: {reason}", "");
        }
    }
    let valid = entries.iter().filter(|e| e.is_valid()).count();
    say!(
        "{} checkpoints, {valid} valid{}",
        entries.len(),
        if args.full {
            " (checksums verified)"
        } else {
            " (structure checked; --full also verifies checksums)"
        }
    );
    Ok(())
}

/// The best checkpoint as the newest valid checkpoint's trainer state records it.
fn best_checkpoint(entries: &[CheckpointEntry]) -> Option<PathBuf> {
    let newest = entries.iter().rev().find(|e| e.is_valid())?;
    let state = inspect(&newest.path).ok()?.trainer_state;
    let recorded = PathBuf::from(state.best_model_checkpoint?);
    let name = recorded.file_name()?;
    entries
        .iter()
        .find(|e| e.path.file_name() == Some(name))
        .map(|e| e.path.clone())
}

fn verify_command(path: &Path) -> Result<()> {
    if !path.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    if path.join(MANIFEST_FILE).exists() || is_checkpoint_dir(path) {
        let manifest = verify(path)?;
        let bytes: u64 = manifest.files.values().map(|f| f.size).sum();
        say!(
            "OK {}: step {}, {} files, {}, every checksum matches",
            path.display(),
            manifest.step,
            manifest.files.len() + 1,
            human_bytes(bytes as u64)
        );
        return Ok(());
    }
    let entries = list_checkpoints(path, Verify::Full)?;
    if entries.is_empty() {
        return Err(Error::CheckpointInvalid {
            path: path.to_path_buf(),
            reason: format!("neither a checkpoint (no {MANIFEST_FILE}) nor an output directory with checkpoints"),
        });
    }
    let mut first_bad = None;
    for entry in &entries {
        match &entry.invalid_reason {
            None => say!("OK      {}", entry.path.display()),
            Some(reason) => {
                say!("INVALID {}: {reason}", entry.path.display());
                first_bad.get_or_insert_with(|| (entry.path.clone(), reason.clone()));
            }
        }
    }
    match first_bad {
        None => Ok(()),
        Some((path, reason)) => Err(Error::CheckpointInvalid { path, reason }),
    }
}

fn is_checkpoint_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(parse_checkpoint_dir_name)
        .is_some()
}

fn inspect_command(path: &Path) -> Result<()> {
    if !path.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a directory",
            path.display()
        )));
    }
    let inspection = inspect(path)?;
    let manifest = &inspection.manifest;
    say!("checkpoint {}", inspection.path.display());
    say!(
        "  format {} v{}, step {}, created {}",
        manifest.format,
        manifest.format_version,
        manifest.step,
        utc_time(UNIX_EPOCH + std::time::Duration::from_secs(manifest.created_unix_s))
    );
    say!("files:");
    for (name, record) in &manifest.files {
        say!(
            "  {name:<40} {:>12}  xxh3 {}",
            human_bytes(record.size),
            record.xxh3
        );
    }
    for (file, metadata) in &inspection.shard_metadata {
        if !metadata.is_empty() {
            let pairs: Vec<String> = metadata.iter().map(|(k, v)| format!("{k}={v}")).collect();
            say!("  {file} metadata: {}", pairs.join(", "));
        }
    }
    for set in ["model", "optimizer"] {
        let tensors: Vec<_> = inspection.tensors.iter().filter(|t| t.set == set).collect();
        if tensors.is_empty() {
            say!("{set} tensors: none");
            continue;
        }
        let bytes: usize = tensors.iter().filter_map(|t| t.spec.byte_len()).sum();
        let elements: usize = tensors.iter().filter_map(|t| t.spec.numel()).sum();
        say!(
            "{set} tensors: {} ({elements} elements, {})",
            tensors.len(),
            human_bytes(bytes as u64)
        );
        for t in tensors {
            say!("  {:<40} {:<20} {}", t.spec.name, t.spec.describe(), t.file);
        }
    }
    let state = &inspection.trainer_state;
    say!("trainer state:");
    say!(
        "  global_step {}, epoch {}, max_steps {}, tokens/samples seen {}",
        state.global_step,
        state.epoch,
        state.max_steps,
        state.num_input_tokens_seen
    );
    say!(
        "  best_metric {}, best_global_step {}, best_model_checkpoint {}",
        state
            .best_metric
            .map_or_else(|| "-".to_string(), |m| m.to_string()),
        state
            .best_global_step
            .map_or_else(|| "-".to_string(), |s| s.to_string()),
        state.best_model_checkpoint.as_deref().unwrap_or("-")
    );
    say!("  log_history: {} entries", state.log_history.len());
    if let Some(last) = state
        .log_history
        .iter()
        .rev()
        .find(|e| e.contains_key("loss"))
    {
        say!(
            "    last loss entry: {}",
            serde_json::Value::from(last.clone())
        );
    }
    let x = &state.xlatrain;
    say!("  xlatrain format_version {}", x.format_version);
    if x.architecture_fingerprint.is_empty() {
        say!("  architecture (none recorded: not a training run's checkpoint)");
    } else {
        say!("  architecture {}", x.architecture_fingerprint);
    }
    say!("  data_cursor {}", x.data_cursor);
    say!("  prng_keys {}", x.prng_keys);
    say!("  platform {}", x.platform);
    for (name, version) in &x.versions {
        say!("  version {name} {version}");
    }
    Ok(())
}

/// `"1.50 MB"`-style sizes (powers of 1000, as `--max-shard-size`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn utc_time(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Gregorian date of a day count since 1970-01-01 (H. Hinnant's days-to-civil algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates_match_known_instants() {
        assert_eq!(utc_time(UNIX_EPOCH), "1970-01-01 00:00:00");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(951_782_400 + 3661);
        assert_eq!(utc_time(t), "2000-02-29 01:01:01");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_795_000_000);
        assert_eq!(utc_time(t), "2026-11-18 11:06:40");
    }

    #[test]
    fn sizes_use_powers_of_1000() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.50 MB");
    }
}
