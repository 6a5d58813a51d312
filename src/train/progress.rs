//! [`TrainerProgress`]: the host-side part of a run's state (what HF keeps in
//! `trainer_state.json`), serializable so a checkpoint can carry it.

use serde::{Deserialize, Serialize};

use serde_json::{Map, Value};

use crate::data::{DataCursor, Dataset};

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
