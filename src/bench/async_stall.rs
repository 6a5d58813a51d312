//! The async-save stall, measured through the trainer: a reference run with `--async-save` and a
//! save every few steps; the checkpoint writer reports, per save, how long the training loop was
//! held up (snapshot, hand-over, waiting for the previous save) and when the save became durable.
//! The final save of a run (which waits for everything to be durable) is left out.
//!
//! The cadence follows the measured time to durable: a first run saves every few steps; when a
//! save there took longer to become durable than the steps between saves (so the next save had
//! to wait for it: back-pressure of the cadence, not a per-save cost), the run is repeated with
//! `save_steps` = 1.5 x time to durable / median step. The busy policy is the trainer's default
//! (`--save-on-busy wait`).

use std::path::Path;

use serde::Serialize;

use super::stats::Summary;
use super::train::reference_name;
use crate::config::{ModelKind, SaveStrategy, TrainingArgs};
use crate::pjrt::Client;
use crate::train::{train_with_checkpoints, Checkpointing, Model, Trainer};
use crate::{Error, Result};

#[derive(Debug, Clone, Serialize)]
pub struct AsyncStallReport {
    pub model: String,
    /// Bytes of the saved state (parameters, optimizer slots, step, key).
    pub state_bytes: u64,
    pub steps: u64,
    pub save_steps: u64,
    /// Saves measured (the final save excluded).
    pub saves: usize,
    /// The trainer's median step time over the run (host batch included, saves included).
    pub median_step_s: f64,
    /// Time the loop was held up per save.
    pub stall_s: Summary,
    /// From the save point to the committed, fsync'd checkpoint.
    pub to_durable_s: Summary,
    /// Median stall / median step (goal: below 1, and not growing with the state size).
    pub stall_over_step: f64,
    /// p99 stall / median step.
    pub stall_p99_over_step: f64,
    /// What a save due while the previous one is still written does (`wait`).
    pub busy_policy: &'static str,
    /// The `save_steps` of the first run, when the cadence was lengthened after it.
    pub first_save_steps: Option<u64>,
}

/// [`measure_once`] at `save_steps`, then again at a cadence the measured time to durable
/// allows when the first cadence was shorter than that.
pub fn measure(
    client: &Client,
    kind: ModelKind,
    dir: &Path,
    steps: u64,
    save_steps: u64,
) -> Result<AsyncStallReport> {
    let first = measure_once(client, kind, dir, steps, save_steps)?;
    let needed = (1.5 * first.to_durable_s.median / first.median_step_s.max(1e-9)).ceil() as u64;
    if needed <= save_steps {
        return Ok(first);
    }
    let saves = (steps / save_steps).max(3);
    let mut again = measure_once(client, kind, dir, needed * (saves + 1), needed)?;
    again.first_save_steps = Some(save_steps);
    Ok(again)
}

/// Trains `kind`'s reference run for `steps` steps in a fresh folder under `dir`, saving
/// asynchronously every `save_steps` steps, and summarizes the writer's reports.
pub fn measure_once(
    client: &Client,
    kind: ModelKind,
    dir: &Path,
    steps: u64,
    save_steps: u64,
) -> Result<AsyncStallReport> {
    let mut args = TrainingArgs::defaults(kind);
    args.output_dir = dir.join(format!("async-save-{}", reference_name(kind)));
    args.max_steps = Some(steps);
    args.save_strategy = SaveStrategy::Steps;
    args.save_steps = save_steps;
    args.async_save = true;
    args.save_total_limit = Some(2);
    let output_dir = args.output_dir.clone();
    let outcome = (|| -> Result<AsyncStallReport> {
        let mut trainer = Trainer::with_client(client.clone(), Model::reference(kind), args)?;
        let state_bytes = trainer
            .state()?
            .descriptors()
            .iter()
            .filter_map(|d| d.byte_len())
            .map(|n| n as u64)
            .sum();
        let stop = trainer.stop_flag();
        let mut checkpointing = Checkpointing::new(&trainer, stop)?;
        let run = train_with_checkpoints(&mut trainer, &mut checkpointing)?;
        let in_loop: Vec<_> = checkpointing
            .reports()
            .iter()
            .filter(|r| r.saved.step < steps)
            .collect();
        let none = || Error::BenchCheck {
            check: "async save".into(),
            reason: format!("no save before the last step of {steps} (every {save_steps})"),
        };
        let stall_s = Summary::of(
            &in_loop
                .iter()
                .map(|r| r.stall.as_secs_f64())
                .collect::<Vec<_>>(),
        )
        .ok_or_else(none)?;
        let to_durable_s = Summary::of(
            &in_loop
                .iter()
                .map(|r| r.to_durable.as_secs_f64())
                .collect::<Vec<_>>(),
        )
        .ok_or_else(none)?;
        let median_step_s = run.summary.median_step_time.as_secs_f64();
        Ok(AsyncStallReport {
            model: reference_name(kind).to_string(),
            state_bytes,
            steps,
            save_steps,
            saves: in_loop.len(),
            median_step_s,
            stall_over_step: stall_s.median / median_step_s.max(1e-12),
            stall_p99_over_step: stall_s.p99 / median_step_s.max(1e-12),
            busy_policy: "wait",
            first_save_steps: None,
            stall_s,
            to_durable_s,
        })
    })();
    let _ = std::fs::remove_dir_all(&output_dir);
    outcome
}
