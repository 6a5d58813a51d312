//! `xlatrain train` and `xlatrain lower`: training flags (Hugging Face names) layered over a
//! TOML config file over the model's reference defaults, then a training run or the printed
//! train-step program.

use std::path::PathBuf;

use clap::Args;

use super::GlobalArgs;
use crate::config::{TrainingArgs, TrainingArgsPatch};
use crate::data::Dataset;
use crate::optim::OptimizerSpec;
use crate::pjrt::Client;
use crate::train::{train_step_program, Console, Trainer};
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
                pairs
            }
        }
    };
}

setting_flags! {
    /// `mlp` or `gpt` (default: the config file's, else mlp).
    model,
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
    /// `no`, `steps` or `epoch`.
    eval_strategy,
    /// Evaluate every this many steps (default: --logging-steps).
    eval_steps,
    /// Seeds the device PRNG key (dropout) and a data file's order.
    seed,
    /// Seeds the data (default: the reference data seed).
    data_seed,
    /// A token corpus (GPT): text as bytes, or u16/u32 tokens (see --data-format).
    data,
    /// `bytes`, `u16` or `u32`.
    data_format,
    /// MLP sizes, e.g. `[784,512,10]`.
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
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// A TOML file of training arguments (flags override it).
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Any other setting as key=value (repeatable), e.g. `--set save_steps=100`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl TrainArgs {
    /// Defaults of the model, then the config file, then `--set` pairs, then the flags.
    pub fn resolve(&self) -> Result<TrainingArgs> {
        let mut patch = match &self.config {
            Some(path) => TrainingArgsPatch::from_toml_file(path)?,
            None => TrainingArgsPatch::default(),
        };
        patch = patch.merge(TrainingArgsPatch::from_overrides(&self.set)?);
        patch = patch.merge(TrainingArgsPatch::from_overrides(
            &self.settings.overrides(),
        )?);
        TrainingArgs::resolve(patch)
    }
}

pub fn train(global: &GlobalArgs, args: &TrainArgs) -> Result<()> {
    let mut settings = args.resolve()?;
    settings.device = format!("{:?}", global.device).to_lowercase();
    let client = Client::open(&global.client_options())?;
    let mut trainer = Trainer::new(client, settings)?;
    trainer.set_console(Console::auto());
    let stop = trainer.stop_flag();
    // SIGTERM/SIGINT end the run after the current step instead of killing it mid-step
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| Error::Usage(format!("cannot install a signal handler: {e}")))?;
    }
    let output_dir = trainer.args.output_dir.clone();
    std::fs::create_dir_all(&output_dir)
        .map_err(|e| Error::io("cannot create the output directory", &output_dir, e))?;
    let json_path = output_dir.join("training_args.json");
    std::fs::write(&json_path, trainer.args.to_json())
        .map_err(|e| Error::io("cannot write", &json_path, e))?;
    trainer.train(&mut |_: &mut Trainer| Ok(()))?;
    Ok(())
}

pub fn lower(args: &TrainArgs) -> Result<()> {
    let settings = args.resolve()?;
    let model = settings.model_config()?;
    let dataset = Dataset::open(&settings.data_spec()?)?;
    let steps = settings.max_steps.unwrap_or(1);
    let optimizer = OptimizerSpec::from_args(&settings, steps);
    let micro = usize::try_from(settings.gradient_accumulation_steps)
        .map_err(|_| Error::Usage("gradient_accumulation_steps is too large".into()))?;
    let program = train_step_program(&model, &optimizer, &dataset.batch_layout(), micro)?;
    use std::io::Write as _;
    std::io::stdout()
        .lock()
        .write_all(program.mlir.as_bytes())
        .map_err(|e| Error::io("cannot write to standard output", "<stdout>", e))
}
