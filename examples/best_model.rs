//! Evaluate every few steps, keep the checkpoint with the best eval loss
//! (`save_strategy = "best"`) and load it back at the end (`load_best_model_at_end`), on a
//! sharded mesh of 4 CPU devices.
//!
//! Usage: cargo run --example best_model -- [OUTPUT_DIR]

use anyhow::Result;
use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::train::{Model, Trainer};

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/best_model".into());
    let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&[
        "model=\"mlp\"".to_string(),
        "per_device_train_batch_size=8".into(),
        "mesh=\"data=2,fsdp=2\"".into(),
        "max_steps=40".into(),
        "eval_strategy=\"steps\"".into(),
        "eval_steps=10".into(),
        "save_strategy=\"best\"".into(),
        "load_best_model_at_end=true".into(),
        format!("output_dir=\"{out}\""),
    ])?)?;
    let mut trainer = Trainer::new(small_mlp(), args)?;
    let outcome = trainer.train(None)?;
    match outcome.best {
        Some(best) => println!(
            "best: {} (step {}, eval_loss {:.6}), now loaded",
            best.path.display(),
            best.step,
            best.metric
        ),
        None => println!("no evaluation ran"),
    }
    Ok(())
}

/// A 64-32-10 MLP (models.json's init); the arguments' size keys take its sizes.
fn small_mlp() -> Model {
    Model::from_config(ModelConfig::Mlp(MlpConfig {
        layers: vec![64, 32, 10],
        ..MlpConfig::default()
    }))
}
