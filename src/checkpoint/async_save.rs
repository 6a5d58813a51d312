//! Checkpoint saves off the training loop.
//!
//! The trainer hands a [`SaveJob`] holding the device buffers of one step *by move*; it runs its
//! next step with those buffers borrowed (never donated), so they stay intact on the device while
//! a background thread streams them into the shards (see `stream.rs`), fsyncs, commits, applies
//! retention and runs the `--on-save` command. No host copy of the state is ever made.
//!
//! At most one save is in flight: a new save first waits for the previous one. A failed save is
//! never lost: its error is returned by the next [`CheckpointWriter::save`] or by
//! [`CheckpointWriter::finish`], which the trainer calls before it exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::device::DeviceTensors;
use super::retention::{apply_retention, RetentionPolicy};
use super::save::{save_checkpoint, CheckpointContents, SaveOptions, SavedCheckpoint};
use super::source::TensorSource;
use super::state::TrainerState;
use crate::{Error, Result};

/// Everything one checkpoint holds. A source that owns its buffers (the default, device buffers
/// by move) can go to the writer thread; one that borrows them is written by
/// [`CheckpointWriter::save_blocking`].
pub struct SaveJob<S: TensorSource = DeviceTensors> {
    pub step: u64,
    pub model: S,
    /// `None` with `--save-only-model`.
    pub optimizer: Option<S>,
    pub trainer_state: TrainerState,
    pub training_args: Value,
    pub config: Value,
    /// What retention must keep once this checkpoint is committed.
    pub retention: RetentionPolicy,
    /// Time the training loop already spent preparing this save (snapshotting the progress,
    /// handing over the buffers); counted in [`SaveReport::stall`].
    pub prepare_time: Duration,
    /// When the training loop reached this save point (the start of "time to durable").
    pub requested_at: Instant,
}

/// How the writer saves.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub output_dir: PathBuf,
    pub save: SaveOptions,
    /// Write on a background thread (`--async-save`, the default) or in the training loop.
    pub async_save: bool,
    /// Shell command run after each commit, with the checkpoint path as `$1` and in
    /// `$XLATRAIN_CHECKPOINT`.
    pub on_save: Option<String>,
}

/// What one save did and cost.
#[derive(Debug, Clone, PartialEq)]
pub struct SaveReport {
    pub saved: SavedCheckpoint,
    /// Bytes of tensor data written.
    pub tensor_bytes: u64,
    /// Checkpoints deleted by retention after the commit.
    pub deleted: Vec<PathBuf>,
    /// Time the training loop spent on this save: preparing it, waiting for the previous save
    /// inside [`CheckpointWriter::save`], and for a synchronous save the whole write.
    pub stall: Duration,
    /// From the save point ([`SaveJob::requested_at`]) to the checkpoint being committed and
    /// fsync'd.
    pub to_durable: Duration,
    /// Why the `--on-save` command failed, if it did (the checkpoint itself is fine).
    pub on_save_failure: Option<String>,
}

impl SaveReport {
    /// Tensor bytes per second from request to durable commit.
    pub fn bytes_per_second(&self) -> f64 {
        self.tensor_bytes as f64 / self.to_durable.as_secs_f64().max(1e-9)
    }

    /// The one-line log message.
    pub fn describe(&self) -> String {
        format!(
            "saved {} ({} of tensors): durable after {:.3} s ({}/s), training stalled {:.1} ms{}",
            self.saved.path.display(),
            decimal_bytes(self.tensor_bytes as f64),
            self.to_durable.as_secs_f64(),
            decimal_bytes(self.bytes_per_second()),
            self.stall.as_secs_f64() * 1e3,
            if self.deleted.is_empty() {
                String::new()
            } else {
                let names: Vec<String> = self
                    .deleted
                    .iter()
                    .map(|p| {
                        p.file_name()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned()
                    })
                    .collect();
                format!("; retention deleted {}", names.join(", "))
            }
        )
    }
}

/// `"12.3 MB"`-style (powers of 1000).
fn decimal_bytes(bytes: f64) -> String {
    let (value, unit) = [(1e9, "GB"), (1e6, "MB"), (1e3, "kB")]
        .into_iter()
        .find(|(scale, _)| bytes >= *scale)
        .map_or((bytes, "B"), |(scale, unit)| (bytes / scale, unit));
    format!("{value:.2} {unit}")
}

struct InFlight {
    step: u64,
    handle: JoinHandle<Result<SaveReport>>,
}

/// Runs saves, one at a time, on a background thread or inline.
pub struct CheckpointWriter {
    options: WriterOptions,
    in_flight: Option<InFlight>,
}

impl CheckpointWriter {
    pub fn new(options: WriterOptions) -> Self {
        CheckpointWriter {
            options,
            in_flight: None,
        }
    }

    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// The step of the save still being written, if any.
    pub fn in_flight_step(&self) -> Option<u64> {
        self.in_flight.as_ref().map(|f| f.step)
    }

    /// Whether a background save is still being written right now.
    pub fn is_busy(&self) -> bool {
        self.in_flight
            .as_ref()
            .is_some_and(|f| !f.handle.is_finished())
    }

    /// Saves `job`: first waits for the previous save, then writes `job` in the background (or
    /// right here when not async). Returns the reports of the saves that completed during this
    /// call (the previous one and, when synchronous, this one). If the previous save failed, its
    /// error is returned and `job` is not written.
    pub fn save<S: TensorSource + Send + 'static>(
        &mut self,
        job: SaveJob<S>,
    ) -> Result<Vec<SaveReport>> {
        let requested = Instant::now();
        let busy = self.in_flight_step().filter(|_| self.is_busy());
        let mut reports: Vec<SaveReport> = self.wait()?.into_iter().collect();
        if let Some(previous) = busy {
            log::info!(
                "checkpoint-{}: training waited {:.1} ms for checkpoint-{previous} to be written \
                 (--save-on-busy wait; `skip` skips such saves)",
                job.step,
                requested.elapsed().as_secs_f64() * 1e3
            );
        }
        if self.options.async_save {
            let options = self.options.clone();
            let step = job.step;
            let stall = requested.elapsed() + job.prepare_time;
            let handle = std::thread::Builder::new()
                .name(format!("xlatrain-save-{step}"))
                .spawn(move || {
                    let report = write_job(&options, job, stall)?;
                    log::info!("{}", report.describe());
                    Ok(report)
                })
                .map_err(|e| Error::SaveFailed {
                    step,
                    output_dir: self.options.output_dir.clone(),
                    source: Box::new(Error::io(
                        "cannot start the checkpoint writer thread for",
                        &self.options.output_dir,
                        e,
                    )),
                })?;
            self.in_flight = Some(InFlight { step, handle });
        } else {
            reports.push(self.write_now(job, requested)?);
        }
        Ok(reports)
    }

    /// Waits for the previous save, then writes `job` in the calling thread (e.g. the final save,
    /// with the buffers borrowed from the live state). Returns the reports of both.
    pub fn save_blocking<S: TensorSource>(&mut self, job: SaveJob<S>) -> Result<Vec<SaveReport>> {
        let requested = Instant::now();
        let mut reports: Vec<SaveReport> = self.wait()?.into_iter().collect();
        reports.push(self.write_now(job, requested)?);
        Ok(reports)
    }

    fn write_now<S: TensorSource>(
        &mut self,
        job: SaveJob<S>,
        requested: Instant,
    ) -> Result<SaveReport> {
        let prepare_time = job.prepare_time;
        let mut report = write_job(&self.options, job, Duration::ZERO)?;
        report.stall = requested.elapsed() + prepare_time;
        log::info!("{}", report.describe());
        Ok(report)
    }

    /// Waits for the save in flight (if any) and returns its report or its error.
    pub fn wait(&mut self) -> Result<Option<SaveReport>> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(None);
        };
        match in_flight.handle.join() {
            Ok(result) => result.map(Some),
            Err(_) => Err(Error::WriterPanicked {
                step: in_flight.step,
            }),
        }
    }

    /// Waits for the last save; call before the process exits so no save is lost or unreported.
    pub fn finish(mut self) -> Result<Option<SaveReport>> {
        self.wait()
    }
}

impl Drop for CheckpointWriter {
    fn drop(&mut self) {
        // A writer dropped on an error path still lets its save complete (a half-written staging
        // directory would be cleaned up anyway, but a nearly finished checkpoint is worth keeping).
        if let Some(in_flight) = self.in_flight.take() {
            if let Ok(Err(e)) = in_flight.handle.join() {
                log::error!("checkpoint-{} was not saved: {e}", in_flight.step);
            }
        }
    }
}

fn write_job<S: TensorSource>(
    options: &WriterOptions,
    job: SaveJob<S>,
    stall: Duration,
) -> Result<SaveReport> {
    let failed = |source: Error| Error::SaveFailed {
        step: job.step,
        output_dir: options.output_dir.clone(),
        source: Box::new(source),
    };
    let bytes_of = |source: &S| -> u64 {
        source
            .specs()
            .iter()
            .filter_map(|s| s.byte_len().map(|n| n as u64))
            .sum()
    };
    let tensor_bytes = bytes_of(&job.model) + job.optimizer.as_ref().map_or(0, bytes_of);
    let contents = CheckpointContents {
        step: job.step,
        model: &job.model,
        optimizer: job.optimizer.as_ref().map(|o| o as &dyn TensorSource),
        trainer_state: &job.trainer_state,
        training_args: &job.training_args,
        config: &job.config,
    };
    let saved = save_checkpoint(&options.output_dir, &contents, &options.save).map_err(failed)?;
    let to_durable = job.requested_at.elapsed();
    // Release the device memory of the saved state as soon as it is on disk.
    drop(job.model);
    drop(job.optimizer);
    let deleted = apply_retention(&options.output_dir, &saved, &job.retention).map_err(failed)?;
    let on_save_failure = options
        .on_save
        .as_deref()
        .and_then(|command| run_on_save(command, &saved.path).err());
    if let Some(why) = &on_save_failure {
        log::warn!("--on-save command for {}: {why}", saved.path.display());
    }
    Ok(SaveReport {
        saved,
        tensor_bytes,
        deleted,
        stall,
        to_durable,
        on_save_failure,
    })
}

/// Runs `sh -c COMMAND xlatrain-on-save PATH`, waiting for it.
fn run_on_save(command: &str, checkpoint: &Path) -> std::result::Result<(), String> {
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .arg("xlatrain-on-save")
        .arg(checkpoint)
        .env("XLATRAIN_CHECKPOINT", checkpoint)
        .status()
        .map_err(|e| format!("cannot run sh: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{command}` exited with {status}"))
    }
}
