//! The mixed-precision policy of a run in its checkpoints: `trainer_state.json` records it
//! (top-level `mixed_precision`, `"no"` or `"bf16"`), and a resume under another policy is
//! refused unless `--allow-precision-change` says it is meant. The checkpointed state is the f32
//! master copy under every policy, so an allowed change loses nothing; it only makes the
//! continuation differ from a run that kept its policy.

use serde_json::Value;

use crate::checkpoint::{Checkpoint, TrainerState};
use crate::config::TrainingArgs;
use crate::graph::{ComputePolicy, Precision};
use crate::{Error, Result};

/// The `trainer_state.json` key.
pub const MIXED_PRECISION_KEY: &str = "mixed_precision";

/// How the run's train step computes: its `mixed_precision` and `gradient_checkpointing`.
pub fn compute_policy(args: &TrainingArgs) -> ComputePolicy {
    ComputePolicy {
        precision: args.mixed_precision,
        gradient_checkpointing: args.gradient_checkpointing,
    }
}

/// Writes the run's policy into a checkpoint's trainer state.
pub(crate) fn record(state: &mut TrainerState, precision: Precision) {
    state.other.insert(
        MIXED_PRECISION_KEY.into(),
        Value::String(precision.name().into()),
    );
}

/// The policy a checkpoint was trained under (f32 for checkpoints written before it was
/// recorded, which is all they could have been).
pub fn saved_precision(checkpoint: &Checkpoint) -> Result<Precision> {
    match checkpoint.trainer_state.other.get(MIXED_PRECISION_KEY) {
        None => Ok(Precision::F32),
        Some(Value::String(name)) => {
            Precision::parse(name).map_err(|reason| bad(checkpoint, reason))
        }
        Some(other) => Err(bad(checkpoint, format!("`{other}` is not a string"))),
    }
}

fn bad(checkpoint: &Checkpoint, reason: String) -> Error {
    Error::Usage(format!(
        "{}: trainer_state.json `{MIXED_PRECISION_KEY}`: {reason}",
        checkpoint.path.display()
    ))
}

/// Refuses a resume that changes the policy, unless `allow_precision_change`; returns the
/// warning to print when the change is allowed.
pub(crate) fn check_resume(checkpoint: &Checkpoint, args: &TrainingArgs) -> Result<Option<String>> {
    let saved = saved_precision(checkpoint)?;
    let now = args.mixed_precision;
    if saved == now {
        return Ok(None);
    }
    let change = format!(
        "{} was trained with mixed_precision = \"{saved}\", this run uses \"{now}\"",
        checkpoint.path.display()
    );
    if !args.allow_precision_change {
        return Err(Error::Usage(format!(
            "{change}; resuming would change the numerics of the run. Pass \
             --allow-precision-change to resume anyway (the checkpoint holds the f32 master \
             state), or use the checkpoint's setting"
        )));
    }
    Ok(Some(format!(
        "{change}: continuing under \"{now}\" (--allow-precision-change)"
    )))
}
