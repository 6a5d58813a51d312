//! `xlatrain plot OUTPUT_DIR`: draws `loss_curve.png` and `loss_curve.svg` again from a run's
//! `metrics.jsonl`, for a run that is still training, one that was stopped before its end, or to
//! switch the loss axis to a log scale afterwards.

use std::path::PathBuf;

use clap::Args;
use serde_json::Value;

use crate::config::TrainingArgs;
use crate::train::plot::{run_title, LossCurves};
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A run's output directory (it holds metrics.jsonl and training_args.json).
    pub output_dir: PathBuf,
    /// Draw the loss axis logarithmically.
    #[arg(long)]
    pub plot_log_scale: bool,
    /// Write the images here instead of into OUTPUT_DIR.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &PlotArgs) -> Result<()> {
    let path = args.output_dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Error::Usage(format!(
            "cannot read {} ({e}); plot needs a run that reported to jsonl",
            path.display()
        ))
    })?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut events = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(event) => events.push(event),
            // a live run may be writing its last line right now
            Err(_) if i + 1 == lines.len() => {}
            Err(e) => {
                return Err(Error::DataFile {
                    path,
                    reason: format!("line {}: {e}", i + 1),
                })
            }
        }
    }
    let title = std::fs::read_to_string(args.output_dir.join("training_args.json"))
        .ok()
        .and_then(|json| TrainingArgs::from_json(&json, &args.output_dir).ok())
        .and_then(|training| Some(run_title(&training.model_config().ok()?, &training)))
        .unwrap_or_else(|| format!("run {}", args.output_dir.display()));
    let curves = LossCurves::from_log_history(title, &events, args.plot_log_scale);
    let out = args.out.as_ref().unwrap_or(&args.output_dir);
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io("cannot create the output directory", out, e))?;
    curves.write(out)?;
    say!(
        "wrote {} and {} ({} train, {} eval points)",
        out.join("loss_curve.png").display(),
        out.join("loss_curve.svg").display(),
        curves.train_loss.len(),
        curves.eval_loss.len()
    );
    Ok(())
}
