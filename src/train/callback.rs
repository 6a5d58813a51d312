//! [`TrainerCallback`]: hooks into the training loop as Hugging Face's `TrainerCallback` has
//! them. Each hook sees the run's [`TrainerProgress`] and a [`TrainerControl`] whose flags ask
//! the loop to save, evaluate or stop after the current step; the loop clears a flag once it has
//! acted on it.
//!
//! ```
//! use xlatrain::train::{TrainerCallback, TrainerControl, TrainerProgress};
//!
//! /// Stops the run once the training loss is below a threshold.
//! struct StopBelow(f64);
//!
//! impl TrainerCallback for StopBelow {
//!     fn on_log(&mut self, _: &TrainerProgress, logs: &serde_json::Value, control: &mut TrainerControl) {
//!         if logs["loss"].as_f64().is_some_and(|loss| loss < self.0) {
//!             control.should_save = true;
//!             control.should_training_stop = true;
//!         }
//!     }
//! }
//! # assert_eq!(TrainerControl::default().should_save, false);
//! ```
//!
//! Register it with [`super::Trainer::add_callback`].

use std::path::Path;

use serde_json::Value;

use super::{EvalMetrics, TrainerProgress};

/// What the callbacks ask of the loop (HF's `TrainerControl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrainerControl {
    /// Save a checkpoint after this step (even off the save cadence).
    pub should_save: bool,
    /// Evaluate after this step (even off the eval cadence).
    pub should_evaluate: bool,
    /// End the run after this step (the final save still happens).
    pub should_training_stop: bool,
}

/// Hooks called by the loop; every method has an empty default.
pub trait TrainerCallback {
    /// After every optimizer step (and its logging and evaluation).
    fn on_step_end(&mut self, _progress: &TrainerProgress, _control: &mut TrainerControl) {}

    /// After each log event is recorded (`logs` is the `metrics.jsonl` entry).
    fn on_log(
        &mut self,
        _progress: &TrainerProgress,
        _logs: &Value,
        _control: &mut TrainerControl,
    ) {
    }

    /// After each evaluation.
    fn on_evaluate(
        &mut self,
        _progress: &TrainerProgress,
        _metrics: &EvalMetrics,
        _control: &mut TrainerControl,
    ) {
    }

    /// After a checkpoint is committed and durable at `checkpoint` (for background saves: when
    /// the writer reports it, which may be a few steps later or at the end of the run).
    fn on_save(
        &mut self,
        _progress: &TrainerProgress,
        _checkpoint: &Path,
        _control: &mut TrainerControl,
    ) {
    }
}
