//! "Valid" means loadable: beyond the checksums (which a tool that rewrites a checkpoint can
//! recompute), a checkpoint's parts must agree with each other, so that a checkpoint that passes
//! `checkpoints verify` also resumes.
//!
//! For a trainer checkpoint (one whose `trainer_state.json` records an architecture fingerprint;
//! checkpoints of a library user's own tensors are not held to a model):
//!
//! - `global_step` equals the manifest's step, and the `step` tensor of the optimizer set (when
//!   there is one) holds the same number;
//! - `config.json` is a model config whose architecture has that fingerprint, the model tensors
//!   are exactly that model's parameters (names, dtypes, shapes), and the optimizer tensors are
//!   exactly the slots of the optimizer `training_args.json` names, plus `step` and `rng_key`.
//!
//! The trainer's resume also refuses a checkpoint that records no fingerprint (it skips it).
//!
//! Index/shard agreement is checked when the tensor sets are opened (`load.rs`).

use serde_json::Value;

use super::load::Checkpoint;
use crate::config::OptimizerKind;
use crate::hf::checkpoint::model_config_of;
use crate::optim::slot_prefixes;
use crate::train::program::{RNG_KEY, STEP};
use crate::DType;
use crate::TensorSpec;
use crate::{Error, Result};

/// Checks that the opened `checkpoint`'s parts agree; see the module documentation.
pub fn check_consistency(checkpoint: &Checkpoint) -> Result<()> {
    let invalid = |reason: String| Error::CheckpointInvalid {
        path: checkpoint.path.clone(),
        reason,
    };
    let fingerprint = &checkpoint.trainer_state.xlatrain.architecture_fingerprint;
    if fingerprint.is_empty() {
        // Not a trainer checkpoint (a library user's tensors): nothing to hold the parts to.
        return Ok(());
    }
    let global_step = checkpoint.trainer_state.global_step;
    if checkpoint.manifest.step != global_step {
        return Err(invalid(format!(
            "the manifest says step {} but trainer_state.json says global_step {global_step}",
            checkpoint.manifest.step
        )));
    }
    if let Some((spec, bytes)) = checkpoint.optimizer.as_ref().and_then(|o| o.get(STEP)) {
        let value = match (spec.dtype, spec.shape.as_slice(), bytes) {
            (DType::S32, [], &[a, b, c, d]) => i64::from(i32::from_le_bytes([a, b, c, d])),
            _ => {
                return Err(invalid(format!(
                    "the step tensor is {}, expected I32 []",
                    spec.describe()
                )))
            }
        };
        if value != global_step as i64 {
            return Err(invalid(format!(
                "the step tensor says {value} but trainer_state.json says global_step \
                 {global_step}"
            )));
        }
    }
    let model = model_config_of(&checkpoint.path, &checkpoint.config).map_err(|e| {
        invalid(format!(
            "config.json is not a model config ({e}), but trainer_state.json records an \
             architecture fingerprint"
        ))
    })?;
    let architecture = model.architecture()?;
    if architecture.fingerprint() != *fingerprint {
        return Err(invalid(format!(
            "config.json describes architecture {} but trainer_state.json records {fingerprint}",
            architecture.fingerprint()
        )));
    }
    let params: Vec<TensorSpec> = model
        .param_specs()?
        .iter()
        .map(|p| TensorSpec::new(&p.name, DType::F32, p.shape.clone()))
        .collect();
    checkpoint.model.matching(&checkpoint.path, &params)?;
    if let Some(optimizer) = &checkpoint.optimizer {
        let slots = optimizer_slots(&checkpoint.training_args).map_err(invalid)?;
        let mut expected = Vec::new();
        for prefix in slots {
            expected.extend(params.iter().map(|p| {
                TensorSpec::new(format!("{prefix}.{}", p.name), p.dtype, p.shape.clone())
            }));
        }
        expected.push(TensorSpec::new(STEP, DType::S32, Vec::new()));
        expected.push(TensorSpec::new(RNG_KEY, DType::U64, [2]));
        optimizer.matching(&checkpoint.path, &expected)?;
    }
    Ok(())
}

/// The optimizer slot prefixes of the run `training_args.json` describes.
fn optimizer_slots(args: &Value) -> std::result::Result<&'static [&'static str], String> {
    let kind: OptimizerKind = args
        .get("optimizer")
        .cloned()
        .map(serde_json::from_value)
        .ok_or("training_args.json names no optimizer")?
        .map_err(|e| format!("training_args.json has an unknown optimizer: {e}"))?;
    let momentum = args.get("momentum").and_then(Value::as_f64).unwrap_or(0.0);
    Ok(slot_prefixes(kind, momentum))
}
