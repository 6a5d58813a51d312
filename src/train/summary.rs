//! What a run reports: the [`TrainSummary`] of a finished (or stopped) run and the
//! [`EvalMetrics`] of one evaluation; shared vocabulary of the loop, the checkpointing hook and
//! the CLI, so that none of them imports another for it.

use std::time::Duration;

use serde_json::Value;

use super::TrainerProgress;

/// Results of one evaluation over the held-out batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalMetrics {
    pub loss: f64,
    pub accuracy: f64,
    pub perplexity: f64,
}

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    pub steps: u64,
    pub stopped_early: bool,
    pub compile_time: Duration,
    pub train_time: Duration,
    /// Median wall time of one step, excluding the first `WARMUP_STEPS` steps.
    pub median_step_time: Duration,
    /// Samples (MLP) or tokens (GPT) per second over the median step.
    pub items_per_second: f64,
    pub final_loss: Option<f64>,
    pub final_eval: Option<EvalMetrics>,
}

/// Steps left out of the median step time (compilation warm-up, caches).
pub const WARMUP_STEPS: usize = 10;

impl TrainSummary {
    /// The summary of a run from its progress and step times (the same for every trainer).
    pub(super) fn of_run(
        progress: &TrainerProgress,
        step_times: &[Duration],
        items_per_step: u64,
        compile_time: Duration,
        train_time: Duration,
        stopped_early: bool,
        final_eval: Option<EvalMetrics>,
    ) -> TrainSummary {
        let median_step_time = median(step_times);
        let items_per_second = if median_step_time.is_zero() {
            0.0
        } else {
            items_per_step as f64 / median_step_time.as_secs_f64()
        };
        let final_loss = progress
            .log_history
            .iter()
            .rev()
            .find_map(|e| e.get("loss").and_then(Value::as_f64));
        TrainSummary {
            steps: progress.global_step,
            stopped_early,
            compile_time,
            train_time,
            median_step_time,
            items_per_second,
            final_loss,
            final_eval,
        }
    }
}

pub(super) fn median(times: &[Duration]) -> Duration {
    let skip = if times.len() > WARMUP_STEPS {
        WARMUP_STEPS
    } else {
        0
    };
    let mut steady: Vec<Duration> = times[skip..].to_vec();
    if steady.is_empty() {
        return Duration::ZERO;
    }
    steady.sort();
    steady[steady.len() / 2]
}
