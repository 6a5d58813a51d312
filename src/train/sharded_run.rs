//! `xlatrain train --shard-state`: a whole run of the SPMD-sharded [`ShardedTrainer`] with the
//! replicated trainer's logging (console lines, the `report_to` sinks, `loss_curve.png`/`.svg`, the final
//! summary) and checkpoints in the normal layout, so that `checkpoints verify` accepts them and a
//! replicated or single-device run resumes them (and the other way round).
//!
//! Checkpoints are written in the loop (no background writer): each device's row blocks go
//! straight from its buffers into their byte ranges of the streaming writer's window, and a resume
//! uploads each device only its byte ranges. What this path does not do (eval, gradient
//! accumulation, background saves, best-model tracking, model-only saves, time-based saves,
//! `on_save`) is refused up front by [`check_sharded_args`] rather than silently ignored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::checkpoint::{
    apply_retention, check_architecture, checkpoint_dir_name, resume_from, save_checkpoint,
    CheckpointContents, RetentionPolicy, SaveOptions, SavedCheckpoint, Verify,
};
use crate::config::{EvalStrategy, NumDevices, ResumeFrom, SaveStrategy, TrainingArgs};
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

use super::checkpointing::{
    ensure_room_for, progress_of, remove_unfinished, trainer_state_of, RunIdentity,
};
use super::plot::{run_title, LossCurves};
use super::progress::{epoch_of, log_event};
use super::report::{Console, Reporter};
use super::spmd::ShardedTrainer;
use super::trainer::items_unit;
use super::{TrainSummary, TrainerProgress};

/// Refuses, as usage errors naming the setting, what a sharded run does not support.
/// `async_save_requested`: whether `async_save = true` was given explicitly (it is the default
/// of the replicated trainer, so only an explicit request is refused).
pub fn check_sharded_args(args: &TrainingArgs, async_save_requested: bool) -> Result<()> {
    let refuse = |flag: &str, why: &str| {
        Err(Error::Usage(format!(
            "--shard-state does not support {flag}: {why}"
        )))
    };
    match args.num_devices {
        Some(NumDevices::Count(n)) if n >= 2 => {}
        Some(NumDevices::All) => {}
        _ => {
            return Err(Error::Usage(
                "--shard-state needs --num-devices N with N >= 2 (or all)".into(),
            ))
        }
    }
    if args.eval_strategy != EvalStrategy::No {
        return refuse("--eval-strategy", "a sharded run does not evaluate; use no");
    }
    if args.gradient_accumulation_steps != 1 {
        return refuse(
            "--gradient-accumulation-steps > 1",
            "raise --per-device-train-batch-size or --num-devices instead",
        );
    }
    if async_save_requested {
        return refuse(
            "--async-save",
            "sharded checkpoints are written in the loop (use --no-async-save or leave it out)",
        );
    }
    if args.save_strategy == SaveStrategy::Best {
        return refuse("--save-strategy best", "there is no eval metric");
    }
    if args.load_best_model_at_end {
        return refuse("--load-best-model-at-end", "there is no eval metric");
    }
    if args.save_only_model {
        return refuse(
            "--save-only-model",
            "sharded checkpoints always hold the optimizer state",
        );
    }
    if args.save_interval_minutes.is_some() {
        return refuse("--save-interval-minutes", "use --save-steps");
    }
    if args.on_save.is_some() {
        return refuse("--on-save", "no hook runs after sharded saves");
    }
    Ok(())
}

/// What a sharded run did.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardedOutcome {
    pub summary: TrainSummary,
    /// The step resumed from, if any.
    pub resumed_from: Option<u64>,
    /// The checkpoints this run committed, in order.
    pub saved: Vec<SavedCheckpoint>,
}

/// A sharded run: the trainer plus the host progress, logging and saving around it.
struct ShardedRun {
    trainer: ShardedTrainer,
    args: TrainingArgs,
    identity: RunIdentity,
    progress: TrainerProgress,
    reporter: Reporter,
    /// Metric buffers of the steps since the last log: `[loss, grad_norm, learning_rate]`.
    pending: Vec<Vec<Buffer>>,
    step_times: Vec<Duration>,
    items_per_step: u64,
    resumed_from: Option<u64>,
    saved: Vec<SavedCheckpoint>,
    verbose: bool,
}

/// Runs `args` with the state sharded over `args.num_devices` devices of `client`: resume (per
/// `--resume-from-checkpoint`), train with logging and saves at the cadence (and before a stop
/// requested through `stop`), then a final save.
pub fn train_sharded(
    client: Client,
    args: TrainingArgs,
    console: Console,
    stop: Arc<AtomicBool>,
    verbose: bool,
) -> Result<ShardedOutcome> {
    check_sharded_args(&args, false)?;
    let devices = match args.num_devices {
        Some(requested) => requested.resolve(client.device_count())?,
        None => 1,
    };
    remove_unfinished(&args.output_dir, verbose)?;
    let identity = RunIdentity::new(&args, &args.model_config()?, &client)?;
    let trainer = ShardedTrainer::new(client, &args, devices)?;
    if args.save_strategy != SaveStrategy::No {
        ensure_room_for(&args.output_dir, trainer.descriptors())?;
    }
    let max_steps = trainer.max_steps();
    let batch = trainer.dataset().batch_layout();
    let items_per_step = batch.y_shape.iter().product::<usize>() as u64;
    let mut reporter = Reporter::new(console, max_steps, items_unit(trainer.model()));
    reporter.set_items_per_step(items_per_step);
    let progress = TrainerProgress::new(trainer.cursor().clone(), max_steps);
    let mut run = ShardedRun {
        trainer,
        args,
        identity,
        progress,
        reporter,
        pending: Vec::new(),
        step_times: Vec::new(),
        items_per_step,
        resumed_from: None,
        saved: Vec::new(),
        verbose,
    };
    run.resume()?;
    let summary = run.train(&stop)?;
    Ok(ShardedOutcome {
        summary,
        resumed_from: run.resumed_from,
        saved: run.saved,
    })
}

impl ShardedRun {
    fn resume(&mut self) -> Result<()> {
        let (path, auto) = match &self.args.resume_from_checkpoint {
            None | Some(ResumeFrom::Latest(false)) => return Ok(()),
            Some(ResumeFrom::Latest(true)) => (None, false),
            Some(ResumeFrom::Auto(_)) => (None, true),
            Some(ResumeFrom::Path(path)) => (Some(path.clone()), false),
        };
        let started = Instant::now();
        let output_dir = self.args.output_dir.clone();
        let max_steps = self.progress.max_steps;
        let trainer = &mut self.trainer;
        let args = &self.args;
        let mut precision_change = None;
        let chosen = if auto && !output_dir.is_dir() {
            Err(Error::NoValidCheckpoint {
                dir: output_dir.clone(),
                skipped: String::new(),
            })
        } else {
            // The sharded upload reads byte ranges per device, so it verifies every checksum
            // when opening (a second read) instead of while uploading.
            resume_from(&output_dir, path.as_deref(), Verify::Full, |checkpoint| {
                super::checkpointing::require_fingerprint(checkpoint)?;
                check_architecture(checkpoint, trainer.model())?;
                precision_change = super::precision::check_resume(checkpoint, args)?;
                let Some(optimizer) = &checkpoint.optimizer else {
                    return Err(Error::Usage(format!(
                        "--shard-state cannot resume {}: it was saved with --save-only-model \
                         (no optimizer state); resume it without --shard-state",
                        checkpoint.path.display()
                    )));
                };
                let progress = progress_of(checkpoint, max_steps)?;
                trainer.restore(
                    &checkpoint.model,
                    optimizer,
                    checkpoint.step(),
                    progress.cursor.clone(),
                )?;
                Ok(progress)
            })
        };
        let choice = match chosen {
            Err(Error::NoValidCheckpoint { skipped, .. }) if auto => {
                if self.verbose {
                    eprintln!(
                        "--resume-from-checkpoint auto: no valid checkpoint in {}{skipped}; \
                         starting a fresh run",
                        output_dir.display()
                    );
                }
                return Ok(());
            }
            chosen => chosen?,
        };
        if self.verbose {
            for message in choice.skipped_messages() {
                eprintln!("warning: {message}");
            }
        }
        let checkpoint = choice.checkpoint;
        if let (Some(warning), true) = (precision_change, self.verbose) {
            eprintln!("warning: {warning}");
        }
        let progress = choice.restored;
        self.progress = progress;
        self.resumed_from = Some(checkpoint.step());
        if self.verbose {
            eprintln!(
                "resumed from {} (step {}) onto {} devices, sharded, in {:.3} s",
                checkpoint.path.display(),
                checkpoint.step(),
                self.trainer.num_devices(),
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        self.progress.global_step >= self.progress.max_steps
    }

    fn train(&mut self, stop: &AtomicBool) -> Result<TrainSummary> {
        let output_dir = self.args.output_dir.clone();
        std::fs::create_dir_all(&output_dir)
            .map_err(|e| Error::io("cannot create the output directory", &output_dir, e))?;
        self.reporter.open(&self.args, self.progress.global_step)?;
        let started = Instant::now();
        let logging = self.args.logging_steps.max(1);
        let mut stopped_early = false;
        while !self.finished() {
            if stop.load(Ordering::Relaxed) {
                stopped_early = true;
                break;
            }
            let epoch_before = self.progress.cursor.epoch;
            let step_started = Instant::now();
            let metrics = self.trainer.step_metrics()?;
            self.step_times.push(step_started.elapsed());
            self.pending.push(metrics);
            self.progress.global_step = self.trainer.global_step();
            self.progress.cursor = self.trainer.cursor().clone();
            self.progress.num_input_tokens_seen += self.items_per_step;
            self.progress.epoch = self.epoch().unwrap_or(0.0);
            let step = self.progress.global_step;
            if step.is_multiple_of(logging) || self.finished() {
                self.log_metrics()?;
            }
            self.reporter.tick(step, self.epoch());
            let epoch_ended = self.progress.cursor.epoch > epoch_before;
            let due = match self.args.save_strategy {
                SaveStrategy::Steps => step.is_multiple_of(self.args.save_steps.max(1)),
                SaveStrategy::Epoch => epoch_ended,
                SaveStrategy::No | SaveStrategy::Best => false,
            };
            if due || stop.load(Ordering::Relaxed) {
                self.save()?;
            }
        }
        self.log_metrics()?;
        self.save()?;
        let train_time = started.elapsed();
        self.finish(train_time, stopped_early)
    }

    /// Fractional epochs so far; None on an endless stream.
    fn epoch(&self) -> Option<f64> {
        epoch_of(self.trainer.dataset(), &self.progress.cursor)
    }

    /// Reads the metric scalars of the steps since the last log and records
    /// `{step, epoch, loss (mean), grad_norm, learning_rate}`, as the replicated trainer does.
    fn log_metrics(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut loss_sum = 0.0;
        let mut last = [0.0f64; 3];
        for metrics in &self.pending {
            for (slot, buffer) in last.iter_mut().zip(metrics) {
                *slot = f64::from(buffer.to_vec::<f32>()?.first().copied().unwrap_or(f32::NAN));
            }
            loss_sum += last[0];
        }
        let loss = loss_sum / self.pending.len() as f64;
        self.pending.clear();
        self.record(log_event(
            self.progress.global_step,
            self.epoch(),
            json!({"loss": loss, "grad_norm": last[1], "learning_rate": last[2]}),
        ))
    }

    fn record(&mut self, entry: Value) -> Result<()> {
        self.reporter.log(&entry)?;
        self.progress.log_history.push(entry);
        Ok(())
    }

    /// Commits a checkpoint of the current step (unless saving is off or it is saved already):
    /// the sharded state through [`ShardedTrainer::checkpoint_sources`], the host progress as
    /// `trainer_state.json`, then `--save-total-limit`.
    fn save(&mut self) -> Result<()> {
        let step = self.progress.global_step;
        let already = self.saved.last().map(|s| s.step) == Some(step)
            || (self.resumed_from == Some(step) && self.saved.is_empty());
        if self.args.save_strategy == SaveStrategy::No || already {
            return Ok(());
        }
        let state = trainer_state_of(&self.args, &self.identity, &self.progress, step, None);
        let (model, optimizer) = self.trainer.checkpoint_sources()?;
        let contents = CheckpointContents {
            step,
            model: &model,
            optimizer: Some(&optimizer),
            trainer_state: &state,
            training_args: &self.identity.args_json,
            config: &self.identity.model_json,
        };
        let options = SaveOptions {
            max_shard_size: self.args.max_shard_size_bytes()?,
            ..SaveOptions::default()
        };
        let started = Instant::now();
        let saved = save_checkpoint(&self.args.output_dir, &contents, &options)?;
        let policy = RetentionPolicy {
            save_total_limit: self.args.save_total_limit,
            best_step: None,
            resumed_from_step: self.resumed_from,
        };
        let deleted = apply_retention(&self.args.output_dir, &saved, &policy)?;
        if self.verbose {
            eprintln!(
                "saved {} (sharded over {} devices) in {:.3} s",
                self.args
                    .output_dir
                    .join(checkpoint_dir_name(step))
                    .display(),
                self.trainer.num_devices(),
                started.elapsed().as_secs_f64()
            );
            for path in deleted {
                eprintln!("deleted old checkpoint {}", path.display());
            }
        }
        self.saved.push(saved);
        Ok(())
    }

    /// The closing `metrics.jsonl` entry, the console summary and `loss_curve.png`.
    fn finish(&mut self, train_time: Duration, stopped_early: bool) -> Result<TrainSummary> {
        let summary = TrainSummary::of_run(
            &self.progress,
            &self.step_times,
            self.items_per_step,
            self.trainer.compile_time(),
            train_time,
            stopped_early,
            None,
        );
        let final_loss = summary.final_loss;
        let steps = self.step_times.len() as f64;
        let seconds = train_time.as_secs_f64().max(1e-9);
        let global_batch =
            self.args.per_device_train_batch_size as f64 * self.trainer.num_devices() as f64;
        let fields = json!({
            "train_runtime": seconds,
            "train_steps_per_second": steps / seconds,
            "train_samples_per_second": steps * global_batch / seconds,
            "train_loss": final_loss,
        });
        self.record(log_event(self.progress.global_step, self.epoch(), fields))?;
        self.reporter.finish(&summary)?;
        LossCurves::from_log_history(
            run_title(self.trainer.model(), &self.args),
            &self.progress.log_history,
            self.args.plot_log_scale,
        )
        .write(&self.args.output_dir)?;
        Ok(summary)
    }
}
