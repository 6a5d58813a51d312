//! `xlatrain bench`: measures the device, the disk, checkpoint save/resume and training speed in
//! one run, writes the JSON report to `--output` and prints a short table.

use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use crate::bench::{self, BenchConfig, BenchModel, MatmulConfig, StateSet};
use crate::pjrt::Client;
use crate::{Error, Result};

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Where the JSON report goes.
    #[arg(long, value_name = "PATH", default_value = "bench-report.json")]
    pub output: PathBuf,
    /// Directory for the disk probes and checkpoints; put it on the disk you checkpoint to
    /// (default: a fresh folder in the temporary directory, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// State sizes to save and resume: the peer presets 100MB, 1GB, 4GB or any size such as
    /// 250MB or 2GiB; `none` skips checkpoints [default: 100MB,1GB,4GB; --quick: 100MB].
    #[arg(long, value_name = "LIST")]
    pub ckpt_sizes: Option<String>,
    /// Save/resume rounds (each next to a disk probe) per state size.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub runs: usize,
    /// Models to train: mlp, gpt (models.json), gpt2 (GPT-2 124M's shape), llama (models.json's
    /// SmolLM2-135M-width llama); `none` skips training [default: mlp,gpt].
    #[arg(long, value_name = "LIST")]
    pub models: Option<String>,
    /// Timed training steps per model [default: 100 MLP / 30 GPT / 6 gpt2, llama; --quick: 30 /
    /// 8 / 3].
    #[arg(long, value_name = "N")]
    pub steps: Option<usize>,
    /// Size n of the n x n x n f32 matmul probe.
    #[arg(long, value_name = "N", default_value_t = 2048)]
    pub matmul_size: usize,
    /// Timed matmul runs [default: 10; --quick: 5].
    #[arg(long, value_name = "N")]
    pub matmul_runs: Option<usize>,
    /// Skip the matmul probe.
    #[arg(long)]
    pub no_matmul: bool,
    /// Skip the async-save stall runs through the trainer.
    #[arg(long)]
    pub no_async_save: bool,
    /// A subset that finishes in about a minute: 100MB only, few steps and runs.
    #[arg(long)]
    pub quick: bool,
}

/// Parses a comma-separated list; `none` (or nothing) is the empty list.
fn list(text: &str) -> Vec<String> {
    if text.trim().eq_ignore_ascii_case("none") {
        return Vec::new();
    }
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The models `--models` names, checked.
pub fn parse_models(text: &str) -> Result<Vec<BenchModel>> {
    list(text)
        .iter()
        .map(|name| {
            BenchModel::parse(name).ok_or_else(|| {
                Error::Usage(format!(
                    "--models: unknown model {name:?} (expected mlp, gpt, gpt2, llama or none)"
                ))
            })
        })
        .collect()
}

pub fn run(global: &GlobalArgs, args: &BenchArgs) -> Result<()> {
    let default_sizes = if args.quick { "100MB" } else { "100MB,1GB,4GB" };
    let ckpt_sizes = list(args.ckpt_sizes.as_deref().unwrap_or(default_sizes))
        .iter()
        .map(|s| StateSet::parse(s))
        .collect::<Result<Vec<_>>>()?;
    let models = parse_models(args.models.as_deref().unwrap_or("mlp,gpt"))?;
    if args.runs == 0 {
        return Err(Error::Usage("--runs must be at least 1".into()));
    }
    if args.matmul_size == 0 || args.matmul_runs == Some(0) || args.steps == Some(0) {
        return Err(Error::Usage(
            "--matmul-size, --matmul-runs and --steps must be at least 1".into(),
        ));
    }
    let (dir, remove_dir) = match &args.dir {
        Some(dir) => (
            dir.join(format!("xlatrain-bench-{}", std::process::id())),
            true,
        ),
        None => (
            std::env::temp_dir().join(format!("xlatrain-bench-{}", std::process::id())),
            true,
        ),
    };
    let config = BenchConfig {
        dir: dir.clone(),
        matmul: (!args.no_matmul).then_some(MatmulConfig {
            n: args.matmul_size,
            warmup: 2,
            runs: args.matmul_runs.unwrap_or(if args.quick { 5 } else { 10 }),
        }),
        ckpt_sizes,
        ckpt_runs: args.runs,
        training: models
            .iter()
            .map(|&m| (m, args.steps.unwrap_or(m.default_steps(args.quick))))
            .collect(),
        async_save: !args.no_async_save,
    };
    let client = Client::open(&global.client_options())?;
    let mut progress = |line: &str| log::info!("bench: {line}");
    let outcome = bench::run(&client, &config, &mut progress);
    if remove_dir {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = outcome?;
    let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::BenchCheck {
        check: "report".into(),
        reason: e.to_string(),
    })?;
    std::fs::write(&args.output, json)
        .map_err(|e| Error::io("cannot write the report", &args.output, e))?;
    say!("{}", bench::render(&report));
    say!("report: {}", args.output.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_split_on_commas_and_none_is_empty() {
        assert_eq!(list("100MB, 1GB,"), vec!["100MB", "1GB"]);
        assert!(list("none").is_empty());
    }

    #[test]
    fn unknown_models_are_usage_errors() {
        assert_eq!(
            parse_models("gpt,mlp,llama").unwrap(),
            vec![BenchModel::Gpt, BenchModel::Mlp, BenchModel::Llama]
        );
        assert_eq!(parse_models("resnet").unwrap_err().exit_code(), 2);
    }
}
