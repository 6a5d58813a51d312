//! [`TrainerProgress`]: the host-side part of a run's state (what HF keeps in
//! `trainer_state.json`), serializable so a checkpoint can carry it.

use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use crate::checkpoint::Checkpoint;
use crate::data::{DataCursor, Dataset};
use crate::{Error, Result};

/// Where a run stands on the host side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerProgress {
    /// Optimizer steps done.
    pub global_step: u64,
    /// Fractional epochs over the data (0 for the endless synthetic streams, whose log events
    /// carry no `epoch`).
    pub epoch: f64,
    /// The next batch to take.
    pub cursor: DataCursor,
    /// Every log event so far (HF `log_history`: `step`, `epoch`, `loss`, ...).
    pub log_history: Vec<serde_json::Value>,
    pub best_metric: Option<f64>,
    pub best_global_step: Option<u64>,
    /// Tokens (GPT) or samples (MLP) fed to training so far.
    pub num_input_tokens_seen: u64,
    /// Optimizer steps the run is going to do.
    pub max_steps: u64,
}

impl TrainerProgress {
    pub fn new(cursor: DataCursor, max_steps: u64) -> Self {
        TrainerProgress {
            global_step: 0,
            epoch: 0.0,
            cursor,
            log_history: Vec::new(),
            best_metric: None,
            best_global_step: None,
            num_input_tokens_seen: 0,
            max_steps,
        }
    }
}

/// Fractional epochs a run at `cursor` has gone through, or None when the data is an endless
/// stream (the built-in synthetic data) and an epoch means nothing.
pub(crate) fn epoch_of(dataset: &Dataset, cursor: &DataCursor) -> Option<f64> {
    let per_epoch = dataset.batches_per_epoch().filter(|&n| n > 0)?;
    Some(cursor.epoch as f64 + cursor.batch_in_epoch as f64 / per_epoch as f64)
}

/// A log event: `fields` plus `step` and, for finite data, `epoch` (HF `log_history` keys).
pub(crate) fn log_event(step: u64, epoch: Option<f64>, fields: Value) -> Value {
    let mut event = match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    event.insert("step".into(), step.into());
    if let Some(epoch) = epoch {
        event.insert("epoch".into(), epoch.into());
    }
    Value::Object(event)
}

/// The host progress a checkpoint's `trainer_state.json` describes, for a run of `max_steps`.
pub(crate) fn progress_of(checkpoint: &Checkpoint, max_steps: u64) -> Result<TrainerProgress> {
    let path = &checkpoint.path;
    let saved = &checkpoint.trainer_state;
    let cursor: DataCursor =
        serde_json::from_value(saved.xlatrain.data_cursor.clone()).map_err(|e| {
            Error::CheckpointInvalid {
                path: path.clone(),
                reason: format!("trainer_state.json has no usable xlatrain.data_cursor: {e}"),
            }
        })?;
    Ok(TrainerProgress {
        global_step: saved.global_step,
        epoch: saved.epoch,
        cursor,
        log_history: saved
            .log_history
            .iter()
            .cloned()
            .map(Value::Object)
            .collect(),
        best_metric: saved.best_metric,
        best_global_step: saved.best_global_step,
        num_input_tokens_seen: saved.num_input_tokens_seen,
        max_steps,
    })
}
