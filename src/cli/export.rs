//! `xlatrain export CHECKPOINT DIR`: write a deploy-ready model directory (see
//! [`crate::export`]); `xlatrain export model.gguf DIR`: a GGUF file as an HF directory (see
//! [`crate::hf::gguf::export`]).

use std::path::PathBuf;

use clap::Args;

use crate::export::{export_checkpoint_as, SaveDtype};
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A `checkpoint-<step>` directory (fully verified before export), or a llama `.gguf` file
    /// (dequantized to f32, with its tokenizer).
    pub checkpoint: PathBuf,
    /// The directory to write `model.safetensors` and `config.json` into.
    pub dir: PathBuf,
    /// Element type of the exported weights (`torch_dtype` follows); the checkpoint keeps f32.
    #[arg(long, value_enum, default_value = "f32")]
    pub save_dtype: SaveDtype,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if args.checkpoint.extension().is_some_and(|e| e == "gguf") {
        if args.save_dtype != SaveDtype::F32 {
            return Err(Error::Usage(
                "--save-dtype applies to checkpoint exports; a .gguf file exports as f32".into(),
            ));
        }
        let model = crate::hf::gguf::read(&args.checkpoint)?;
        let export = crate::hf::gguf::export_gguf(&model, &args.dir)?;
        say!(
            "exported {} as a Hugging Face llama to {}: {} tensors, {} (model.safetensors, \
             config.json, tokenizer.json)",
            args.checkpoint.display(),
            export.dir.display(),
            export.tensors,
            super::checkpoints::human_bytes(export.weights_bytes)
        );
        return Ok(());
    }
    if !args.checkpoint.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a checkpoint directory",
            args.checkpoint.display()
        )));
    }
    let summary = export_checkpoint_as(&args.checkpoint, &args.dir, args.save_dtype)?;
    say!(
        "exported step {} of {} as {} to {}: {} tensors, {} (model.safetensors + config.json)",
        summary.step,
        args.checkpoint.display(),
        summary.model_type,
        summary.dir.display(),
        summary.tensors,
        super::checkpoints::human_bytes(summary.weights_bytes)
    );
    Ok(())
}
