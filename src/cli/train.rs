//! `xlatrain train` and `xlatrain lower`: training flags (Hugging Face names) layered over a
//! TOML config file over the model's reference defaults, then a training run or the printed
//! train-step program.

use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use crate::checkpoint::{list_checkpoints, Verify, MANIFEST_FILE};
use crate::config::{AutoResume, NumDevices, ResumeFrom, TrainingArgs, TrainingArgsPatch};
use crate::data::Dataset;
use crate::optim::OptimizerSpec;
use crate::pjrt::Client;
use crate::signals::StopSignal;
use crate::train::{train_step_program_on, Console, Mesh, Model, ReportTo, StateLayout, Trainer};
use crate::{Error, Result};

/// Declares the flags that map one to one onto `TrainingArgs` keys: each is passed on as a
/// `key=value` override, so flags and config files parse and validate the same way.
macro_rules! setting_flags {
    ($( $(#[doc = $doc:literal])* $field:ident ),* $(,)?) => {
        #[derive(Debug, Clone, Default, Args)]
        pub struct SettingFlags {
            $(
                $(#[doc = $doc])*
                #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
                pub $field: Option<String>,
            )*
        }

        impl SettingFlags {
            fn overrides(&self) -> Vec<String> {
                let mut pairs = Vec::new();
                $( if let Some(v) = &self.$field { pairs.push(format!("{}={v}", stringify!($field))); } )*
                pairs.into_iter().map(bracket_bare_lists).collect()
            }
        }
    };
}

setting_flags! {
    /// `mlp` or `gpt` (default: the config file's, else mlp).
    model,
    /// Fine-tune a local Hugging Face model: a directory (config.json + safetensors) or a
    /// `.gguf` file; its weights are the initial parameters and checkpoints keep its layout.
    model_name_or_path,
    /// Where metrics.jsonl, loss_curve.png and checkpoints go.
    output_dir,
    /// Optimizer steps to run (default: the model's reference run).
    max_steps,
    /// Epochs over a data file (when --max-steps is not given).
    num_train_epochs,
    /// Samples (MLP) or sequences (GPT) per micro-batch.
    per_device_train_batch_size,
    /// Micro-batches summed into one optimizer step.
    gradient_accumulation_steps,
    /// Peak learning rate.
    learning_rate,
    /// Decoupled weight decay on parameters with ndim >= 2.
    weight_decay,
    /// AdamW beta1.
    adam_beta1,
    /// AdamW beta2.
    adam_beta2,
    /// AdamW epsilon.
    adam_epsilon,
    /// `adamw` or `sgd`.
    optimizer,
    /// SGD momentum (0 = plain SGD).
    momentum,
    /// Global gradient-norm clipping; 0 = off.
    max_grad_norm,
    /// `constant`, `constant_with_warmup`, `linear` or `cosine`.
    lr_scheduler_type,
    /// Linear warm-up steps from 0 to the learning rate.
    warmup_steps,
    /// Log (and read metrics back) every this many steps.
    logging_steps,
    /// TensorBoard run directory (default: <output-dir>/runs/<date>_<host>).
    logging_dir,
    /// `no`, `steps` or `epoch`.
    eval_strategy,
    /// Evaluate every this many steps (default: --logging-steps).
    eval_steps,
    /// Seeds the device PRNG key (dropout) and a data file's order.
    seed,
    /// Seeds the data (default: the reference data seed).
    data_seed,
    /// Data-parallel devices: a count or `all`; the global batch is the per-device batch times
    /// this (on the CPU plugin, --cpu-devices sets how many devices exist). Shorthand for
    /// --mesh data=N (fsdp=N with --shard-state).
    num_devices,
    /// The device mesh in MaxText's axis names, e.g. `data=2,fsdp=2` or `tensor=2,data=2`:
    /// `data` splits the batch, `fsdp` the batch and the state, `tensor` attention heads and
    /// MLP columns. Global batch = per-device batch x data x fsdp.
    mesh,
    /// A token corpus (GPT): text as bytes, or u16/u32 tokens (see --data-format).
    data,
    /// `bytes`, `u16` or `u32`.
    data_format,
    /// A tokenizer.json (or its directory): .txt/.jsonl data is tokenized with it once, into a
    /// token file cached beside the data. With --model-name-or-path the default is the model's,
    /// and this one is what the checkpoints carry.
    tokenizer,
    /// The JSONL field with each document's text (default `text`).
    text_column,
    /// Sequence classification: the JSONL field of the second text of a pair.
    text_pair_column,
    /// Sequence classification: the JSONL field of the label, an id or a name (default `label`).
    label_column,
    /// Sequence classification: tokens per example (truncated/padded; default 128).
    max_seq_length,
    /// Sequence classification: outputs of a fresh head (default: the data's labels).
    num_labels,
    /// A held-out data file (read like --data) evaluated at each evaluation by the eval
    /// contract: every complete window of seq_len + 1 tokens, in order.
    eval_data,
    /// MLP sizes, e.g. `784,512,10` (or `[784,512,10]`).
    layers,
    /// GPT vocabulary size.
    vocab_size,
    /// GPT width.
    d_model,
    /// GPT blocks.
    n_layers,
    /// GPT attention heads.
    n_heads,
    /// GPT feed-forward width.
    d_ff,
    /// GPT context length.
    seq_len,
    /// GPT dropout probability.
    dropout,
    /// GPT init standard deviation.
    init_std,
    /// Seed of the initial parameters.
    init_seed,
    /// `no`, `steps` (every --save-steps), `epoch` or `best` (when the eval loss improves).
    save_strategy,
    /// Save a checkpoint every N optimizer steps (with --save-strategy steps).
    save_steps,
    /// Keep only the newest N checkpoints (never the best one or the one resumed from).
    save_total_limit,
    /// Also save when this many minutes passed since the last save.
    save_interval_minutes,
    /// `wait` (default) or `skip`: an async save due while the previous one is still writing.
    save_on_busy,
    /// Largest safetensors shard, e.g. `5GB`, `500MB`.
    max_shard_size,
    /// `eval_loss` (or `loss`), or for a classifier `eval_f1`, `eval_accuracy`,
    /// `eval_precision`, `eval_recall`: the metric that picks the best checkpoint.
    metric_for_best_model,
    /// A shell command run after each committed checkpoint (path in $1 and $XLATRAIN_CHECKPOINT).
    on_save,
    /// `no` or `bf16` (see --bf16).
    mixed_precision,
    /// Peak TFLOP/s of one device for the MFU figure (default: the chip's table value).
    peak_tflops,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// A TOML file of training arguments (flags override it).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Save only the parameters (no optimizer state: such a checkpoint cannot resume bit-exactly).
    #[arg(long)]
    pub save_only_model: bool,
    /// Write checkpoints on a background thread while training continues (the default).
    #[arg(long, overrides_with = "no_async_save")]
    pub async_save: bool,
    /// Write checkpoints in the training loop instead.
    #[arg(long)]
    pub no_async_save: bool,
    /// At the end, load the best checkpoint's parameters (by --metric-for-best-model).
    #[arg(long)]
    pub load_best_model_at_end: bool,
    /// A larger metric is better (default: smaller, as for a loss).
    #[arg(long)]
    pub greater_is_better: bool,
    /// With --num-devices N: shard the state ZeRO/FSDP-style (each tensor whose dim 0 divides by
    /// N lives as one row block per device) instead of replicating it (= --mesh fsdp=N).
    #[arg(long)]
    pub shard_state: bool,
    /// Resume from the newest valid checkpoint in output_dir (no value, or `true`: none is an
    /// error), from PATH, or `auto`: the newest valid one or a fresh start when there is none.
    #[arg(long, value_name = "PATH", num_args = 0..=1, default_missing_value = "true")]
    pub resume_from_checkpoint: Option<String>,
    /// Where log events go: `jsonl` (metrics.jsonl, the default), `tensorboard` (event files
    /// under --logging-dir), `all` or `none`; several as `jsonl,tensorboard` or repeated.
    #[arg(long, value_name = "TARGET", num_args = 1.., value_delimiter = ',')]
    pub report_to: Vec<String>,
    /// Draw loss_curve.png/.svg with a logarithmic loss axis.
    #[arg(long)]
    pub plot_log_scale: bool,
    /// Mixed precision: bf16 matmuls with f32 accumulation; parameters, AdamW moments,
    /// softmax, norms, the loss and gradients stay f32 (= --mixed-precision bf16).
    #[arg(long)]
    pub bf16: bool,
    /// Refused: fp16 needs loss scaling, which xlatrain does not do (use --bf16).
    #[arg(long)]
    pub fp16: bool,
    /// Resume from a checkpoint trained under another --mixed-precision.
    #[arg(long)]
    pub allow_precision_change: bool,
    /// Recompute each transformer block in the backward pass instead of keeping its
    /// activations: less device memory for the same losses (HF's --gradient_checkpointing).
    #[arg(long)]
    pub gradient_checkpointing: bool,
    /// Any other setting as key=value (repeatable), e.g. `--set save_steps=100`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl TrainArgs {
    /// The settings of the value-less switches, only those given.
    fn switches(&self) -> TrainingArgsPatch {
        let on = |given: bool| given.then_some(true);
        TrainingArgsPatch {
            save_only_model: on(self.save_only_model),
            async_save: if self.no_async_save {
                Some(false)
            } else {
                on(self.async_save)
            },
            load_best_model_at_end: on(self.load_best_model_at_end),
            shard_state: on(self.shard_state),
            plot_log_scale: on(self.plot_log_scale),
            mixed_precision: self.bf16.then_some(crate::graph::Precision::Bf16),
            allow_precision_change: on(self.allow_precision_change),
            gradient_checkpointing: on(self.gradient_checkpointing),
            greater_is_better: self.greater_is_better.then_some(Some(true)),
            resume_from_checkpoint: self.resume_from_checkpoint.as_deref().map(|value| {
                Some(match value {
                    "true" => ResumeFrom::Latest(true),
                    "false" => ResumeFrom::Latest(false),
                    "auto" => ResumeFrom::Auto(AutoResume::Auto),
                    path => ResumeFrom::Path(PathBuf::from(path)),
                })
            }),
            ..TrainingArgsPatch::default()
        }
    }

    /// Defaults of the model, then the config file, then `--set` pairs, then the flags.
    pub fn resolve(&self) -> Result<TrainingArgs> {
        TrainingArgs::resolve(self.patch()?)
    }

    /// The settings given (config file, `--set` pairs, flags), before the defaults.
    fn patch(&self) -> Result<TrainingArgsPatch> {
        if self.fp16 {
            return Err(Error::InvalidArgument {
                key: "fp16".into(),
                value: "true".into(),
                reason: crate::graph::Precision::parse("fp16").unwrap_err(),
            });
        }
        let mut patch = match &self.config {
            Some(path) => TrainingArgsPatch::from_toml_file(path)?,
            None => TrainingArgsPatch::default(),
        };
        patch = patch.merge(TrainingArgsPatch::from_overrides(&self.set)?);
        patch = patch.merge(TrainingArgsPatch::from_overrides(
            &self.settings.overrides(),
        )?);
        patch = patch.merge(self.switches());
        if !self.report_to.is_empty() {
            let report_to =
                ReportTo::parse(&self.report_to).map_err(|reason| Error::InvalidArgument {
                    key: "report_to".into(),
                    value: self.report_to.join(","),
                    reason,
                })?;
            patch.report_to = Some(report_to);
        }
        Ok(patch)
    }
}

pub fn train(global: &GlobalArgs, args: &TrainArgs) -> Result<()> {
    let mut settings = args.resolve()?;
    let global = device_from_settings(global, &mut settings);
    check_paths(&settings)?;
    let client = Client::open(&global.client_options())?;
    let model = Model::from_args(&settings)?;
    let mut trainer = Trainer::with_client(client, model, settings)?;
    trainer.set_console(Console::auto());
    // SIGTERM/SIGINT end the run after the current step, with a checkpoint, and exit 0.
    let stop = StopSignal::install_on(trainer.stop_flag())?;
    let mesh = trainer.mesh();
    if mesh.devices() > 1 {
        let state = if mesh.shards_state() {
            format!("state sharded over {} devices", mesh.devices())
        } else {
            "state replicated".into()
        };
        log::info!(
            "training on {} devices, mesh {mesh} ({state}), global batch {}",
            mesh.devices(),
            trainer.args.per_device_train_batch_size * mesh.batch_ways()
        );
    }
    let outcome = trainer.train(None)?;
    if let Some(signal) = stop.signal_name() {
        let saved = outcome
            .reports
            .last()
            .map(|r| format!("; last checkpoint {}", r.saved.path.display()))
            .unwrap_or_default();
        log::info!(
            "stopped by {signal} after step {}{saved}",
            outcome.summary.steps
        );
    }
    let reports = &outcome.reports;
    if !reports.is_empty() {
        let median = |mut values: Vec<f64>| {
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        log::info!(
            "checkpoints: {} saved; per save: training loop stalled {:.1} ms, durable after \
             {:.3} s (medians)",
            reports.len(),
            median(
                reports
                    .iter()
                    .map(|r| r.stall.as_secs_f64() * 1e3)
                    .collect()
            ),
            median(reports.iter().map(|r| r.to_durable.as_secs_f64()).collect()),
        );
    }
    if let Some(best) = &outcome.best {
        log::info!(
            "loaded the best model: {} (step {}, eval_loss {:.6})",
            best.path.display(),
            best.step,
            best.metric
        );
    }
    Ok(())
}

/// Usage errors about paths, found before the plugin is loaded: an output directory that is a
/// file, and a checkpoint to resume from that is not there. (A checkpoint that is there but fails
/// verification is a data error, exit code 1, reported when it is opened.)
fn check_paths(settings: &TrainingArgs) -> Result<()> {
    let output_dir = &settings.output_dir;
    if output_dir.exists() && !output_dir.is_dir() {
        return Err(Error::Usage(format!(
            "--output-dir {} exists and is not a directory",
            output_dir.display()
        )));
    }
    match &settings.resume_from_checkpoint {
        Some(ResumeFrom::Path(path)) => {
            let problem = if !path.exists() {
                "does not exist"
            } else if !path.is_dir() {
                "is not a directory"
            } else if !path.join(MANIFEST_FILE).exists() {
                "is not a checkpoint directory (it has no checkpoint_manifest.json)"
            } else {
                return Ok(());
            };
            Err(Error::Usage(format!(
                "--resume-from-checkpoint {} {problem}",
                path.display()
            )))
        }
        Some(ResumeFrom::Latest(true)) => {
            let any =
                output_dir.is_dir() && !list_checkpoints(output_dir, Verify::Quick)?.is_empty();
            if any {
                return Ok(());
            }
            Err(Error::Usage(format!(
                "--resume-from-checkpoint: there is no checkpoint-<step> directory in {} to \
                 resume from",
                output_dir.display()
            )))
        }
        _ => Ok(()),
    }
}

pub fn lower(args: &TrainArgs) -> Result<()> {
    let settings = args.resolve()?;
    let model = settings.model_config()?;
    if settings.num_devices == Some(NumDevices::All) {
        return Err(Error::Usage(
            "lower prints the program of a device count; give --num-devices N or --mesh".into(),
        ));
    }
    let mesh: Mesh = settings.resolve_mesh(usize::MAX)?;
    // the global batch, partitioned by XLA along the sharding annotations
    let dataset = Dataset::open(&settings.data_spec_for_devices(mesh.batch_ways())?)?;
    let steps = settings.max_steps.unwrap_or(1);
    let optimizer = OptimizerSpec::from_args(&settings, steps);
    let micro = usize::try_from(settings.gradient_accumulation_steps)
        .map_err(|_| Error::Usage("gradient_accumulation_steps is too large".into()))?;
    let state = StateLayout::new(&model, &optimizer, mesh, Vec::new())?;
    let program = train_step_program_on(
        &model,
        &optimizer,
        &dataset.batch_layout(),
        micro,
        &state,
        crate::train::compute_policy(&settings),
    )?;
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(program.mlir.as_bytes())
        .map_err(|e| Error::io("cannot write to standard output", "<stdout>", e))
}

/// The `--device` flag wins over the config file's `device`; without the flag, the config's
/// `device` (`cpu`, `cuda`, `tpu`, or a plugin path) picks the plugin.
fn device_from_settings(global: &GlobalArgs, settings: &mut TrainingArgs) -> GlobalArgs {
    let mut global = global.clone();
    match global.device {
        Some(kind) => settings.device = kind.to_string(),
        None => {
            let options = settings.client_options();
            match options.plugin {
                Some(plugin) => global.plugin = global.plugin.take().or(Some(plugin)),
                None => global.device = Some(options.device),
            }
        }
    }
    global
}

/// `layers=784,512,10` as `layers=[784,512,10]`: on a command line the brackets are noise.
fn bracket_bare_lists(pair: String) -> String {
    match pair.strip_prefix("layers=") {
        Some(value) if !value.trim_start().starts_with('[') => format!("layers=[{value}]"),
        _ => pair,
    }
}
