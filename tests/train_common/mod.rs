//! Shared helpers of the training tests: resolved arguments from key=value pairs and a trainer
//! on the real CPU plugin (a missing plugin fails the test).
#![allow(dead_code)]

use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::pjrt::Client;
use xlatrain::train::{Model, Trainer};

/// The shape of the small GPT the multi-device tests train (add batch, steps and the rest).
pub const TINY_GPT: [&str; 6] = [
    "model=\"gpt\"",
    "d_model=32",
    "n_layers=1",
    "n_heads=2",
    "d_ff=64",
    "seq_len=16",
];

pub fn args<S: AsRef<str>>(pairs: &[S]) -> TrainingArgs {
    TrainingArgs::resolve(TrainingArgsPatch::from_overrides(pairs).unwrap()).unwrap()
}

pub fn cpu() -> Client {
    Client::cpu().unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"))
}

pub fn trainer(pairs: &[&str]) -> Trainer {
    trainer_of(args(pairs))
}

/// A trainer of the model `args` name (`Model::from_args`), on the CPU plugin.
pub fn trainer_of(args: TrainingArgs) -> Trainer {
    let model = Model::from_args(&args).unwrap();
    Trainer::with_client(cpu(), model, args).unwrap()
}

/// The per-step training losses of the first `steps` steps (logging every step).
pub fn step_losses(trainer: &mut Trainer, steps: usize) -> Vec<f64> {
    (0..steps)
        .map(|_| {
            trainer.step().unwrap();
            trainer.log_metrics().unwrap().unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

pub fn reference() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/jax_reference_losses.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

pub fn assert_close(ours: f64, reference: f64, rel: f64, what: &str) {
    let err = (ours - reference).abs() / reference.abs().max(1e-12);
    assert!(
        err <= rel,
        "{what}: ours {ours} vs JAX {reference} (relative error {err:.2e} > {rel:.0e})"
    );
}

/// Saves `t`'s state straight through the checkpoint writer (no `Checkpointing`): each tensor
/// whole from its device blocks, and a `trainer_state.json` holding the step and data cursor.
pub fn save_state_checkpoint(t: &Trainer, output_dir: &std::path::Path) -> std::path::PathBuf {
    use xlatrain::checkpoint::{save_checkpoint, CheckpointContents, SaveOptions, TrainerState};
    let n_params = t.model().param_specs().unwrap().len();
    let (model, optimizer) = xlatrain::train::StateSource::split(t.state().unwrap(), n_params);
    let step = t.progress().global_step;
    let mut trainer_state = TrainerState::at_step(step);
    trainer_state.xlatrain.data_cursor = serde_json::to_value(&t.progress().cursor).unwrap();
    let contents = CheckpointContents {
        step,
        model: &model,
        optimizer: Some(&optimizer),
        trainer_state: &trainer_state,
        training_args: &serde_json::json!({}),
        config: &serde_json::json!({}),
    };
    save_checkpoint(output_dir, &contents, &SaveOptions::default())
        .unwrap()
        .path
}
