//! `xlatrain export CHECKPOINT DIR`: write a deploy-ready model directory (see
//! [`crate::export`]).

use std::path::PathBuf;

use clap::Args;

use crate::export::export_checkpoint;
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// A `checkpoint-<step>` directory (fully verified before export).
    pub checkpoint: PathBuf,
    /// The directory to write `model.safetensors` and `config.json` into.
    pub dir: PathBuf,
}

pub fn run(args: &ExportArgs) -> Result<()> {
    if !args.checkpoint.is_dir() {
        return Err(Error::Usage(format!(
            "{} is not a checkpoint directory",
            args.checkpoint.display()
        )));
    }
    let summary = export_checkpoint(&args.checkpoint, &args.dir)?;
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
