//! A [`TrainerCallback`] that copies each checkpoint somewhere else once it is committed (e.g. a
//! mounted bucket), and asks the loop to stop once the loss is low enough.
//!
//! Usage: cargo run --example copy_checkpoints -- [OUTPUT_DIR] [COPY_DIR]

use std::path::{Path, PathBuf};

use anyhow::Result;
use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::train::{Model, Trainer, TrainerCallback, TrainerControl, TrainerProgress};

struct CopyCheckpoints {
    to: PathBuf,
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

impl TrainerCallback for CopyCheckpoints {
    fn on_save(&mut self, _: &TrainerProgress, checkpoint: &Path, _: &mut TrainerControl) {
        let name = checkpoint.file_name().unwrap_or_default();
        match copy_dir(checkpoint, &self.to.join(name)) {
            Ok(()) => println!("copied {} to {}", checkpoint.display(), self.to.display()),
            Err(e) => eprintln!("cannot copy {}: {e}", checkpoint.display()),
        }
    }

    fn on_log(
        &mut self,
        _: &TrainerProgress,
        logs: &serde_json::Value,
        control: &mut TrainerControl,
    ) {
        if logs["loss"].as_f64().is_some_and(|loss| loss < 0.05) {
            control.should_training_stop = true;
        }
    }
}

fn main() -> Result<()> {
    let mut argv = std::env::args().skip(1);
    let out = argv
        .next()
        .unwrap_or_else(|| "runs/copy_checkpoints".into());
    let to = PathBuf::from(argv.next().unwrap_or_else(|| format!("{out}-copies")));
    let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&[
        "model=\"mlp\"".to_string(),
        "max_steps=30".into(),
        "save_steps=10".into(),
        format!("output_dir=\"{out}\""),
    ])?)?;
    let mut trainer = Trainer::new(small_mlp(), args)?;
    trainer.add_callback(CopyCheckpoints { to });
    let outcome = trainer.train(None)?;
    println!("saved steps {:?}", outcome.saved_steps);
    Ok(())
}

/// A 64-32-10 MLP (models.json's init); the arguments' size keys take its sizes.
fn small_mlp() -> Model {
    Model::from_config(ModelConfig::Mlp(MlpConfig {
        layers: vec![64, 32, 10],
        ..MlpConfig::default()
    }))
}
