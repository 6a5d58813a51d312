//! The training configuration: [`TrainingArgs`], named after Hugging Face `TrainingArguments`
//! where a setting exists there, plus xlatrain's own (model, optimizer, device, data, async
//! checkpointing).
//!
//! A run's arguments are built in layers: the per-model defaults (exactly models.json's reference
//! settings), then a TOML config file, then command-line overrides. Files and flags are parsed into
//! a [`TrainingArgsPatch`] (every key optional, unknown keys rejected); [`TrainingArgs::resolve`]
//! applies a patch to the defaults of its model and validates the result. Every bad value is a
//! usage error that names the key, the value and what is allowed.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::synthetic::{GPT_CORPUS_WORDS, GPT_DATA_SEED, MLP_DATA_SEED};
use crate::data::{DataSpec, TokenFileOptions, TokenFormat};
use crate::graph::Precision;
use crate::models::ModelConfig;
use crate::train::ReportTo;
use crate::{Error, Result};

mod classification;
mod data;
mod model;
mod validate;

/// Which reference model to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Mlp,
    Gpt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Adam with decoupled weight decay (plain Adam when `weight_decay` is 0).
    #[serde(alias = "adam")]
    AdamW,
    /// SGD, with heavy-ball `momentum` when it is above 0.
    Sgd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LrSchedulerType {
    Constant,
    ConstantWithWarmup,
    Linear,
    Cosine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveStrategy {
    No,
    Steps,
    Epoch,
    /// Save whenever the eval metric improves.
    Best,
}

/// `save_on_busy`: what an async save does when it is due while the previous save is still
/// being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaveOnBusy {
    /// Wait for the previous save (the loop stalls; the stall is logged).
    Wait,
    /// Skip this save (and say so); the next due save is taken.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvalStrategy {
    No,
    Steps,
    Epoch,
}

/// `resume_from_checkpoint`: `true` = the newest valid checkpoint in `output_dir` (none is an
/// error, as in HF), `false` = start fresh, `"auto"` = the newest valid checkpoint or a fresh
/// start when there is none (one command for the first start and every restart of a batch
/// job), any other string = that checkpoint directory (as in HF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ResumeFrom {
    Latest(bool),
    Auto(AutoResume),
    Path(PathBuf),
}

/// The `"auto"` of `resume_from_checkpoint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoResume {
    Auto,
}

/// `num_devices`: how many devices a data-parallel run uses, a count or `"all"` (every
/// addressable device of the client). The global batch is `per_device_train_batch_size` times
/// this (as in HF).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumDevices {
    Count(usize),
    All,
}

impl Serialize for NumDevices {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        match self {
            NumDevices::Count(n) => serializer.serialize_u64(*n as u64),
            NumDevices::All => serializer.serialize_str("all"),
        }
    }
}

impl<'de> Deserialize<'de> for NumDevices {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Count(u64),
            Word(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Count(n) => usize::try_from(n)
                .map(NumDevices::Count)
                .map_err(|_| serde::de::Error::custom("device count too large")),
            Raw::Word(word) if word == "all" => Ok(NumDevices::All),
            Raw::Word(word) => Err(serde::de::Error::custom(format!(
                "expected a device count or \"all\", got \"{word}\""
            ))),
        }
    }
}

impl TrainingArgs {
    /// The device mesh of this run on a client with `available` devices: `mesh`, or
    /// `num_devices = N` as `data=N` (`fsdp=N` with `shard_state`), or one device.
    pub fn resolve_mesh(&self, available: usize) -> Result<crate::train::Mesh> {
        use crate::train::Mesh;
        let shard_state = |why: &str| Err(bad("shard_state", &true, why));
        let mesh = match (self.mesh, self.num_devices.map(|n| n.resolve(available))) {
            (Some(mesh), Some(_)) => {
                return Err(bad(
                    "mesh",
                    &mesh,
                    "give either mesh or num_devices, not both",
                ))
            }
            (Some(_), None) if self.shard_state => {
                return shard_state("with mesh, shard the state with an fsdp axis instead")
            }
            (Some(mesh), None) => mesh,
            (None, Some(n)) if self.shard_state => match n? {
                n if n >= 2 => Mesh::fsdp(n),
                _ => return shard_state("needs num_devices N with N >= 2 (or all)"),
            },
            (None, Some(n)) => Mesh::data(n?),
            (None, None) if self.shard_state => {
                return shard_state("needs num_devices N with N >= 2 (or all)")
            }
            (None, None) => Mesh::single(),
        };
        if mesh.devices() > available {
            return Err(bad(
                "mesh",
                &mesh,
                &format!(
                    "needs {} devices, the client has {available} (the CPU plugin makes more \
                     with --cpu-devices N)",
                    mesh.devices()
                ),
            ));
        }
        Ok(mesh)
    }

    /// Whether this run starts from a checkpoint (or may, with `auto`).
    pub fn resumes(&self) -> bool {
        !matches!(
            self.resume_from_checkpoint,
            None | Some(ResumeFrom::Latest(false))
        )
    }
}

impl NumDevices {
    /// The device count for a client with `available` addressable devices.
    pub fn resolve(self, available: usize) -> Result<usize> {
        match self {
            NumDevices::All => Ok(available.max(1)),
            NumDevices::Count(n) if n >= 1 && n <= available => Ok(n),
            NumDevices::Count(n) => Err(bad(
                "num_devices",
                &n,
                &format!(
                    "must be between 1 and the {available} addressable devices (the CPU plugin \
                     makes more with --cpu-devices N)"
                ),
            )),
        }
    }
}

macro_rules! training_args {
    ($( $(#[doc = $doc:literal])* $name:ident : $ty:ty, )*) => {
        /// The resolved settings of a run (see the module docs). Serialized as
        /// `training_args.json` next to checkpoints.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct TrainingArgs {
            $( $(#[doc = $doc])* pub $name: $ty, )*
        }

        /// Settings from one source (a config file, the command line); unset keys are `None`.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct TrainingArgsPatch {
            $(
                $(#[doc = $doc])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $name: Option<$ty>,
            )*
        }

        impl TrainingArgsPatch {
            /// This patch with `later`'s keys laid over it (`later` wins where both set a key).
            pub fn merge(mut self, later: TrainingArgsPatch) -> TrainingArgsPatch {
                $( if later.$name.is_some() { self.$name = later.$name; } )*
                self
            }

            /// The keys this patch sets, in declaration order.
            pub fn keys(&self) -> Vec<&'static str> {
                let mut keys = Vec::new();
                $( if self.$name.is_some() { keys.push(stringify!($name)); } )*
                keys
            }

            fn apply_to(self, args: &mut TrainingArgs) {
                $( if let Some(value) = self.$name { args.$name = value; } )*
            }
        }
    };
}

training_args! {
    /// Which model: `mlp` or `gpt` (not used with `model_name_or_path`).
    model: ModelKind,
    /// A local Hugging Face model directory or `.gguf` file to fine-tune: its config.json
    /// decides the model and its weights are the initial parameters.
    model_name_or_path: Option<PathBuf>,
    /// Where checkpoints, logs and `training_args.json` go.
    output_dir: PathBuf,
    /// Optimizer steps to run; when absent, `num_train_epochs` decides.
    max_steps: Option<u64>,
    /// Epochs over a data file's train split (only when `max_steps` is absent).
    num_train_epochs: Option<f64>,
    /// Samples (sequences for the GPT) per micro-batch.
    per_device_train_batch_size: usize,
    /// Micro-batches whose gradients are summed into one optimizer step.
    gradient_accumulation_steps: u64,
    learning_rate: f64,
    /// Decoupled weight decay (AdamW), applied to parameters with ndim >= 2.
    weight_decay: f64,
    adam_beta1: f64,
    adam_beta2: f64,
    adam_epsilon: f64,
    /// `adamw` (alias `adam`) or `sgd`.
    optimizer: OptimizerKind,
    /// SGD momentum (0 = plain SGD); only for `optimizer = "sgd"`.
    momentum: f64,
    /// Clip gradients to this global L2 norm; 0 turns clipping off.
    max_grad_norm: f64,
    /// `constant`, `constant_with_warmup`, `linear` or `cosine` (decay to 0 at the last step).
    lr_scheduler_type: LrSchedulerType,
    /// Steps of linear warm-up from 0 to `learning_rate`.
    warmup_steps: u64,
    /// Log the training loss every this many steps.
    logging_steps: u64,
    /// Where log events go: `jsonl` (`metrics.jsonl`), `tensorboard` (event files under
    /// `logging_dir`), both (a list, or `"all"`), or `"none"`.
    report_to: ReportTo,
    /// TensorBoard's run directory; absent = `<output_dir>/runs/<date>_<host>` (as in HF).
    logging_dir: Option<PathBuf>,
    /// Draw `loss_curve.png`/`.svg` with a logarithmic loss axis.
    plot_log_scale: bool,
    /// `no`, `steps` (every `eval_steps`) or `epoch`.
    eval_strategy: EvalStrategy,
    /// Evaluate every this many steps; absent = `logging_steps`.
    eval_steps: Option<u64>,
    /// Seeds the device PRNG (dropout) and, for data files, the data order.
    seed: u64,
    /// Seeds the data; absent = the reference data seed (synthetic data) or `seed` (data files).
    data_seed: Option<u64>,
    /// `no`, `steps` (every `save_steps`), `epoch` or `best`.
    save_strategy: SaveStrategy,
    save_steps: u64,
    /// Keep at most this many checkpoints (the best one is never deleted).
    save_total_limit: Option<usize>,
    /// Save only the parameters, not optimizer state, PRNG key and data cursor (no exact resume).
    save_only_model: bool,
    /// `loss` or `eval_loss` (both mean the eval loss).
    metric_for_best_model: Option<String>,
    /// Whether a larger metric is better; absent = false for losses.
    greater_is_better: Option<bool>,
    /// Load the best checkpoint's parameters when training ends.
    load_best_model_at_end: bool,
    /// `true` (newest checkpoint in output_dir) or a checkpoint directory.
    resume_from_checkpoint: Option<ResumeFrom>,
    /// Largest safetensors shard, e.g. `"5GB"`, `"500MiB"` or a byte count.
    max_shard_size: String,
    /// Write checkpoints on a background thread while training continues.
    async_save: bool,
    /// `wait` (default) or `skip`: an async save due while the previous one is still writing.
    save_on_busy: SaveOnBusy,
    /// Also save when this many minutes have passed since the last save.
    save_interval_minutes: Option<f64>,
    /// A shell command run after each committed checkpoint (its path in `XLATRAIN_CHECKPOINT`).
    on_save: Option<String>,
    /// Data-parallel devices: a count or `"all"`; absent = 1. Each device trains on
    /// `per_device_train_batch_size` samples of every global batch.
    num_devices: Option<NumDevices>,
    /// With `num_devices = N`: shard the training state ZeRO/FSDP-style (each tensor whose dim 0
    /// divides by N lives as one row block per device) instead of replicating it: `fsdp=N`.
    shard_state: bool,
    /// The device mesh in MaxText's axis names, e.g. `"data=2,fsdp=2"` or `"tensor=2,data=2"`:
    /// `data` splits the batch, `fsdp` the batch and the state, `tensor` attention heads and MLP
    /// columns. The global batch is `per_device_train_batch_size x data x fsdp`. Absent: from
    /// `num_devices` (`data=N`, or `fsdp=N` with `shard_state`), else one device.
    mesh: Option<crate::train::Mesh>,
    /// `no` (f32) or `bf16`: bf16 matmul operands, f32 master state, moments and reductions
    /// (HF's `--bf16`); `fp16` is refused (no loss scaling).
    mixed_precision: Precision,
    /// Allow a resume whose checkpoint was trained under another `mixed_precision`.
    allow_precision_change: bool,
    /// Recompute each transformer block's activations in the backward pass instead of keeping
    /// them (HF's `gradient_checkpointing`): less device memory, same losses, more compute.
    gradient_checkpointing: bool,
    /// Peak TFLOP/s of one device for MFU; absent = the known chip's table value.
    peak_tflops: Option<f64>,
    /// The PJRT device: `cpu`, `cuda`, ... or the path of a plugin library.
    device: String,
    /// A data file (GPT only); absent = the built-in synthetic data.
    data: Option<PathBuf>,
    /// How the data file stores tokens: `bytes` (any text), `u16` or `u32` (little-endian).
    data_format: TokenFormat,
    /// A tokenizer.json (or a directory holding one): a `.txt`/`.jsonl` data file is tokenized
    /// with it into a cached token file (see `data::text`).
    tokenizer: Option<PathBuf>,
    /// The JSONL field holding each document's text.
    text_column: String,
    /// The JSONL field of the second text of a pair (sequence classification).
    text_pair_column: Option<String>,
    /// The JSONL field of each example's label (sequence classification): an id or a name.
    label_column: String,
    /// Tokens per example of a classifier: longer texts are truncated, shorter ones padded;
    /// absent = 128 (or the model's positions, when fewer).
    max_seq_length: Option<usize>,
    /// Outputs of a fresh classification head; absent = as many as the data's labels.
    num_labels: Option<usize>,
    /// A held-out data file (same format and tokenizer as `data`) evaluated by the eval
    /// contract at each evaluation: every complete window of `seq_len + 1` tokens, in order;
    /// absent = the `eval_fraction` split of `data`.
    eval_data: Option<PathBuf>,
    /// Fraction of a data file held out (at its end) for eval; 0 = no eval split.
    eval_fraction: f64,
    /// At most this many eval batches from a data file.
    max_eval_batches: usize,
    /// MLP layer sizes `[inputs, hidden.., classes]`.
    layers: Option<Vec<usize>>,
    /// GPT vocabulary size.
    vocab_size: Option<usize>,
    /// GPT width.
    d_model: Option<usize>,
    /// GPT blocks.
    n_layers: Option<usize>,
    /// GPT attention heads (must divide d_model).
    n_heads: Option<usize>,
    /// GPT feed-forward width.
    d_ff: Option<usize>,
    /// GPT context length, or an HF model's training sequence (tokens per sequence).
    seq_len: Option<usize>,
    /// GPT dropout probability.
    dropout: Option<f64>,
    /// GPT init standard deviation.
    init_std: Option<f64>,
    /// Seed of the initial parameters (both models; reference: 1234).
    init_seed: Option<u64>,
}

impl TrainingArgs {
    /// The reference settings of models.json for `model` (MLP: Adam lr 1e-3, betas 0.9/0.999,
    /// no decay, no clipping, batch 128, 500 steps; GPT: AdamW lr 1e-3, betas 0.9/0.95, decay
    /// 0.1, clipping 1.0, batch 16, 120 steps), with HF defaults for the rest.
    pub fn defaults(model: ModelKind) -> TrainingArgs {
        let gpt = model == ModelKind::Gpt;
        TrainingArgs {
            model,
            model_name_or_path: None,
            output_dir: PathBuf::from("xlatrain_output"),
            max_steps: Some(if gpt { 120 } else { 500 }),
            num_train_epochs: None,
            per_device_train_batch_size: if gpt { 16 } else { 128 },
            gradient_accumulation_steps: 1,
            learning_rate: 1e-3,
            weight_decay: if gpt { 0.1 } else { 0.0 },
            adam_beta1: 0.9,
            adam_beta2: if gpt { 0.95 } else { 0.999 },
            adam_epsilon: 1e-8,
            optimizer: OptimizerKind::AdamW,
            momentum: 0.0,
            max_grad_norm: if gpt { 1.0 } else { 0.0 },
            lr_scheduler_type: LrSchedulerType::Constant,
            warmup_steps: 0,
            logging_steps: 10,
            report_to: ReportTo::default(),
            logging_dir: None,
            plot_log_scale: false,
            eval_strategy: EvalStrategy::No,
            eval_steps: None,
            seed: 42,
            data_seed: None,
            save_strategy: SaveStrategy::Steps,
            save_steps: 500,
            save_total_limit: None,
            save_only_model: false,
            metric_for_best_model: None,
            greater_is_better: None,
            load_best_model_at_end: false,
            resume_from_checkpoint: None,
            max_shard_size: "5GB".into(),
            async_save: true,
            save_on_busy: SaveOnBusy::Wait,
            save_interval_minutes: None,
            on_save: None,
            num_devices: None,
            shard_state: false,
            mesh: None,
            mixed_precision: Precision::F32,
            allow_precision_change: false,
            gradient_checkpointing: false,
            peak_tflops: None,
            device: "cpu".into(),
            data: None,
            data_format: TokenFormat::Bytes,
            tokenizer: None,
            text_column: crate::data::text::DEFAULT_TEXT_COLUMN.into(),
            text_pair_column: None,
            label_column: crate::data::classification::DEFAULT_LABEL_COLUMN.into(),
            max_seq_length: None,
            num_labels: None,
            eval_data: None,
            eval_fraction: 0.05,
            max_eval_batches: 4,
            layers: None,
            vocab_size: None,
            d_model: None,
            n_layers: None,
            n_heads: None,
            d_ff: None,
            seq_len: None,
            dropout: None,
            init_std: None,
            init_seed: None,
        }
    }

    /// The defaults of the patch's model (`mlp` when it names none) with the patch applied, then
    /// validated. Setting `num_train_epochs` without `max_steps` drops the default `max_steps`.
    pub fn resolve(patch: TrainingArgsPatch) -> Result<TrainingArgs> {
        let mut args = TrainingArgs::defaults(patch.model.unwrap_or(ModelKind::Mlp));
        if patch.model_name_or_path.is_some() {
            if let Some(model) = patch.model {
                return Err(bad(
                    "model",
                    &format!("{model:?}").to_lowercase(),
                    "does not apply with model_name_or_path: the model's config.json decides",
                ));
            }
            args.fine_tuning_defaults();
        }
        if patch.num_train_epochs.is_some() && patch.max_steps.is_none() {
            args.max_steps = None;
        }
        // Asking for an eval interval without a strategy means "evaluate every N steps": HF would
        // silently never evaluate, which users read as a broken eval.
        if patch.eval_steps.is_some() && patch.eval_strategy.is_none() {
            args.eval_strategy = EvalStrategy::Steps;
        }
        patch.apply_to(&mut args);
        args.validate()?;
        Ok(args)
    }

    /// HF `TrainingArguments`' defaults where they differ from the reference runs', for
    /// fine-tuning a pretrained model: 3 epochs, batch 8, AdamW lr 5e-5 with betas 0.9/0.999,
    /// no weight decay, clipping at 1.0, a linear decay.
    fn fine_tuning_defaults(&mut self) {
        self.max_steps = None;
        self.num_train_epochs = Some(3.0);
        self.per_device_train_batch_size = 8;
        self.learning_rate = 5e-5;
        self.weight_decay = 0.0;
        self.adam_beta2 = 0.999;
        self.max_grad_norm = 1.0;
        self.lr_scheduler_type = LrSchedulerType::Linear;
    }

    /// Reads a TOML config file and resolves it (no command-line overrides).
    pub fn from_toml_file(path: &Path) -> Result<TrainingArgs> {
        TrainingArgs::resolve(TrainingArgsPatch::from_toml_file(path)?)
    }

    /// Reads `training_args.json` as written by [`Self::to_json`], and validates it.
    pub fn from_json(text: &str, path: &Path) -> Result<TrainingArgs> {
        let args: TrainingArgs = serde_json::from_str(text).map_err(|e| Error::ConfigParse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        args.validate()?;
        Ok(args)
    }

    /// Pretty JSON of every setting (for `training_args.json`).
    pub fn to_json(&self) -> String {
        // a struct of plain values with string keys always serializes
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The gradient clipping norm, or `None` when clipping is off.
    pub fn grad_clip_norm(&self) -> Option<f64> {
        (self.max_grad_norm > 0.0).then_some(self.max_grad_norm)
    }

    /// `max_shard_size` in bytes.
    pub fn max_shard_size_bytes(&self) -> Result<u64> {
        parse_size(&self.max_shard_size).ok_or_else(|| {
            bad(
                "max_shard_size",
                &self.max_shard_size,
                "expected a byte count or a number with a unit: B, KB, MB, GB, TB (powers of \
                 1000) or KiB, MiB, GiB, TiB (powers of 1024), e.g. \"5GB\"",
            )
        })
    }

    /// The evaluation interval in steps when `eval_strategy = "steps"`.
    pub fn eval_interval(&self) -> u64 {
        self.eval_steps.unwrap_or(self.logging_steps)
    }

    /// The metric that picks the best checkpoint (`eval_loss`) and whether larger is better,
    /// when one is in use (`save_strategy = "best"` or `load_best_model_at_end`).
    pub fn best_metric(&self) -> Option<(&'static str, bool)> {
        let wanted = self.save_strategy == SaveStrategy::Best
            || self.load_best_model_at_end
            || self.metric_for_best_model.is_some();
        wanted.then(|| ("eval_loss", self.greater_is_better.unwrap_or(false)))
    }
}

impl TrainingArgsPatch {
    /// Parses TOML text; `path` names its origin in errors.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<TrainingArgsPatch> {
        toml::from_str(text).map_err(|e| Error::ConfigParse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Reads and parses a TOML config file.
    pub fn from_toml_file(path: &Path) -> Result<TrainingArgsPatch> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        TrainingArgsPatch::from_toml_str(&text, path)
    }
}

impl TrainingArgsPatch {
    /// Parses command-line style overrides, `key=value` each: the value is read as a TOML value
    /// (`3e-4`, `true`, `[784, 256, 10]`, `"text"`), and as a plain string when it is not valid
    /// TOML (`data=corpus.txt`). Later pairs win over earlier ones.
    pub fn from_overrides<S: AsRef<str>>(pairs: &[S]) -> Result<TrainingArgsPatch> {
        let mut patch = TrainingArgsPatch::default();
        for pair in pairs {
            let pair = pair.as_ref();
            let Some((key, value)) = pair.split_once('=') else {
                return Err(bad(pair, "(no value)", "expected key=value"));
            };
            let (key, value) = (key.trim(), value.trim());
            let is_identifier =
                !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !is_identifier {
                return Err(bad(key, value, "not a setting name"));
            }
            let parsed = toml::from_str::<TrainingArgsPatch>(&format!("{key} = {value}"))
                .or_else(|_| {
                    let quoted = toml::Value::String(value.to_string());
                    toml::from_str::<TrainingArgsPatch>(&format!("{key} = {quoted}"))
                })
                .map_err(|e| bad(key, value, e.message()))?;
            patch = patch.merge(parsed);
        }
        Ok(patch)
    }
}

/// Parses `"5GB"`, `"500 MiB"`, `"1000"` (bytes) into a byte count > 0.
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * scale).round();
    (bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

fn bad(key: &str, value: &(impl std::fmt::Display + ?Sized), reason: &str) -> Error {
    Error::InvalidArgument {
        key: key.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Micro-batches per step: each is a copy of the forward and backward pass in the program, so a
/// huge count would exhaust memory while building the graph instead of failing with a message.
const MAX_MICRO_BATCHES: u64 = 1024;
/// Samples in one optimizer step, far above any real run; larger ones would abort on allocation.
const MAX_SAMPLES_PER_STEP: u64 = 1 << 20;

fn at_least_one(key: &str, value: u64) -> Result<()> {
    if value == 0 {
        return Err(bad(key, "0", "must be at least 1"));
    }
    Ok(())
}

fn non_negative(key: &str, value: f64) -> Result<()> {
    if !(value.is_finite() && value >= 0.0) {
        return Err(bad(key, &value, "must be a finite number >= 0"));
    }
    Ok(())
}

fn unit_interval(key: &str, value: f64) -> Result<()> {
    if !(0.0..1.0).contains(&value) {
        return Err(bad(key, &value, "must be in [0, 1)"));
    }
    Ok(())
}

fn non_empty(key: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(bad(key, "\"\"", "must not be empty"));
    }
    Ok(())
}
