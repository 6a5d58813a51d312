//! Train a few steps by hand, then save a deploy-ready model directory (`save_model`) and the
//! full training state (`save_state`), as with Hugging Face's `Trainer`.
//!
//! Usage: cargo run --example manual_save -- [OUTPUT_DIR]

use anyhow::Result;
use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::train::{Model, Trainer};

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "runs/manual_save".into());
    let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&[
        "model=\"mlp\"".to_string(),
        "max_steps=20".into(),
        "save_strategy=\"no\"".into(),
        format!("output_dir=\"{out}\""),
    ])?)?;
    let mut trainer = Trainer::new(small_mlp(), args)?;
    for _ in 0..10 {
        trainer.step()?;
    }
    let loss = trainer.log_metrics()?.and_then(|e| e["loss"].as_f64());
    println!("after 10 steps: loss {loss:?}");
    let state = trainer.save_state()?;
    let model = trainer.save_model(Some(&std::path::Path::new(&out).join("model")))?;
    println!(
        "training state: {}\nmodel: {}",
        state.display(),
        model.display()
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
