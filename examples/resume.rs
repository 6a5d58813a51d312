//! A run stopped after 10 of its 20 steps (as a preempted one would be; here a callback asks
//! for the stop) and resumed from its newest checkpoint onto another device mesh: the resumed
//! run continues from step 10 with the saved optimizer state, PRNG key and data cursor.
//!
//! Usage: cargo run --example resume -- [OUTPUT_DIR]

use anyhow::Result;
use xlatrain::config::{ResumeFrom, TrainingArgs, TrainingArgsPatch};
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::pjrt::Client;
use xlatrain::train::{Model, Trainer, TrainerCallback, TrainerControl, TrainerProgress};

struct StopAt(u64);

impl TrainerCallback for StopAt {
    fn on_step_end(&mut self, progress: &TrainerProgress, control: &mut TrainerControl) {
        control.should_training_stop |= progress.global_step == self.0;
    }
}

/// The same run (global batch 16) on one device or on `fsdp=4`.
fn args(out: &str, mesh: &str, per_device: usize) -> Result<TrainingArgs> {
    Ok(TrainingArgs::resolve(TrainingArgsPatch::from_overrides(
        &[
            "model=\"mlp\"".to_string(),
            format!("per_device_train_batch_size={per_device}"),
            format!("mesh=\"{mesh}\""),
            "max_steps=20".into(),
            "save_steps=5".into(),
            format!("output_dir=\"{out}\""),
        ],
    )?)?)
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/resume".into());
    let client = Client::cpu()?;
    let mut first = Trainer::with_client(client.clone(), small_mlp(), args(&out, "data=1", 16)?)?;
    first.add_callback(StopAt(10));
    let stopped = first.train(None)?;
    println!("stopped after step {}", stopped.summary.steps);
    drop(first);
    let mut resumed = Trainer::with_client(client, small_mlp(), args(&out, "fsdp=4", 4)?)?;
    let outcome = resumed.train(Some(ResumeFrom::Latest(true)))?;
    if let Some(from) = &outcome.resumed {
        println!("resumed from {} (step {})", from.path.display(), from.step);
    }
    println!(
        "finished at step {}, loss {:?}",
        outcome.summary.steps, outcome.summary.final_loss
    );
    Ok(())
}

/// A 64-32-10 MLP (models.json's init); the arguments' size keys take its sizes.
fn small_mlp() -> Model {
    Model::from_config(ModelConfig::Mlp(MlpConfig {
        layers: vec![64, 32, 10],
        ..MlpConfig::default()
    }))
}
