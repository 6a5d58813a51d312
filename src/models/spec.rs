//! Parameter specifications of the reference models (models.json): configs, the ordered list of
//! named tensors with their shapes and initialisers, the bit-exact initial values, and an
//! architecture fingerprint that lets a resume refuse a checkpoint of a different model.
//!
//! The order of [`ModelConfig::param_specs`] is the spec's `param_order`; a tensor's position in
//! it is its `tensor_index`, which seeds its init stream: `derive(init_seed, tensor_index)`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hf::HfConfig;
use crate::rng;
use crate::{DType, Error, Result, TensorSpec};

/// How a tensor's initial values are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// `rng::uniform_init(derive(init_seed, tensor_index), numel, bound)`.
    Uniform {
        bound: f64,
    },
    Zeros,
    Ones,
    /// Values come from a pretrained model's files (see [`crate::hf`]), never drawn.
    Pretrained,
}

/// One named parameter tensor (all parameters are f32, row-major, linear weights `[in, out]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    /// Whether AdamW weight decay applies: the spec's mask is "ndim >= 2" (weights, embeddings).
    pub decay: bool,
}

impl ParamSpec {
    pub fn new(name: impl Into<String>, shape: Vec<usize>, init: Init) -> Self {
        let decay = shape.len() >= 2;
        ParamSpec {
            name: name.into(),
            shape,
            init,
            decay,
        }
    }

    /// Number of elements (the product of the shape).
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The tensor's initial values for a model seeded with `init_seed`, where this tensor sits at
    /// `tensor_index` in the model's parameter order.
    pub fn initial_values(&self, init_seed: u64, tensor_index: usize) -> Vec<f32> {
        let n = self.numel();
        match self.init {
            Init::Uniform { bound } => {
                rng::uniform_init(rng::derive(init_seed, tensor_index as u64), n, bound)
            }
            // never called for pretrained models: ModelConfig::init_params refuses them
            Init::Zeros | Init::Pretrained => vec![0.0; n],
            Init::Ones => vec![1.0; n],
        }
    }
}

/// The reference multi-layer perceptron: `layers = [in, hidden.., out]`, relu between layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    pub layers: Vec<usize>,
    pub init_seed: u64,
}

impl Default for MlpConfig {
    /// models.json `mlp`: mlp_784_512_512_10, init seed 1234.
    fn default() -> Self {
        MlpConfig {
            layers: vec![784, 512, 512, 10],
            init_seed: 1234,
        }
    }
}

impl MlpConfig {
    pub fn input_dim(&self) -> usize {
        self.layers.first().copied().unwrap_or(0)
    }

    pub fn num_classes(&self) -> usize {
        self.layers.last().copied().unwrap_or(0)
    }

    pub fn validate(&self) -> Result<()> {
        if self.layers.len() < 2 {
            return Err(mlp_error(
                "layers",
                format!("{:?}", self.layers),
                "needs at least two sizes: [inputs, ..., outputs]",
            ));
        }
        if let Some(i) = self.layers.iter().position(|&n| n == 0) {
            return Err(mlp_error(
                "layers",
                format!("{:?}", self.layers),
                format!("size {i} is 0; every layer size must be at least 1"),
            ));
        }
        checked_param_count(&self.param_specs_unchecked(), "mlp")?;
        Ok(())
    }

    /// `fc{i}.w [layers[i], layers[i+1]]` (uniform, bound 1/sqrt(fan_in)) and `fc{i}.b` (zeros).
    pub fn param_specs(&self) -> Result<Vec<ParamSpec>> {
        self.validate()?;
        Ok(self.param_specs_unchecked())
    }

    fn param_specs_unchecked(&self) -> Vec<ParamSpec> {
        let mut specs = Vec::new();
        for (i, pair) in self.layers.windows(2).enumerate() {
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let bound = 1.0 / (fan_in as f64).sqrt();
            specs.push(ParamSpec::new(
                format!("fc{i}.w"),
                vec![fan_in, fan_out],
                Init::Uniform { bound },
            ));
            specs.push(ParamSpec::new(
                format!("fc{i}.b"),
                vec![fan_out],
                Init::Zeros,
            ));
        }
        specs
    }
}

/// The reference pre-LN GPT-2 style byte model (tied embeddings, learned positions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GptConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub d_ff: usize,
    pub seq_len: usize,
    pub dropout: f64,
    /// Standard deviation of the weight init (drawn uniform with bound `std * sqrt(3)`).
    pub init_std: f64,
    pub layer_norm_eps: f64,
    pub init_seed: u64,
}

impl Default for GptConfig {
    /// models.json `gpt`: tiny_gpt_bytes.
    fn default() -> Self {
        GptConfig {
            vocab_size: 256,
            d_model: 256,
            n_layers: 4,
            n_heads: 4,
            d_ff: 1024,
            seq_len: 128,
            dropout: 0.0,
            init_std: 0.02,
            layer_norm_eps: 1e-5,
            init_seed: 1234,
        }
    }
}

impl GptConfig {
    pub fn d_head(&self) -> usize {
        self.d_model.checked_div(self.n_heads).unwrap_or(0)
    }

    pub fn validate(&self) -> Result<()> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("seq_len", self.seq_len),
        ];
        for (field, value) in sizes {
            if value == 0 {
                return Err(gpt_error(field, "0", "must be at least 1"));
            }
        }
        if !self.d_model.is_multiple_of(self.n_heads) {
            return Err(gpt_error(
                "n_heads",
                self.n_heads.to_string(),
                format!(
                    "d_model ({}) must be divisible by n_heads ({})",
                    self.d_model, self.n_heads
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(gpt_error(
                "dropout",
                self.dropout.to_string(),
                "must be in [0, 1)",
            ));
        }
        if !(self.init_std.is_finite() && self.init_std > 0.0) {
            return Err(gpt_error(
                "init_std",
                self.init_std.to_string(),
                "must be a finite number > 0",
            ));
        }
        if !(self.layer_norm_eps.is_finite() && self.layer_norm_eps > 0.0) {
            return Err(gpt_error(
                "layer_norm_eps",
                self.layer_norm_eps.to_string(),
                "must be a finite number > 0",
            ));
        }
        checked_param_count(&self.param_specs_unchecked(), "gpt")?;
        Ok(())
    }

    /// In models.json `param_order`: wte, wpe, then per block ln_1, attn, ln_2, mlp, then ln_f.
    pub fn param_specs(&self) -> Result<Vec<ParamSpec>> {
        self.validate()?;
        Ok(self.param_specs_unchecked())
    }

    fn param_specs_unchecked(&self) -> Vec<ParamSpec> {
        let (d, f) = (self.d_model, self.d_ff);
        let sqrt3 = 3f64.sqrt();
        let weight = Init::Uniform {
            bound: self.init_std * sqrt3,
        };
        // GPT-2's scaled init of the projections that write into the residual stream.
        let residual = Init::Uniform {
            bound: self.init_std / ((2 * self.n_layers) as f64).sqrt() * sqrt3,
        };
        let mut specs = vec![
            ParamSpec::new("wte", vec![self.vocab_size, d], weight),
            ParamSpec::new("wpe", vec![self.seq_len, d], weight),
        ];
        for i in 0..self.n_layers {
            let p = |s: &str| format!("h.{i}.{s}");
            specs.extend([
                ParamSpec::new(p("ln_1.scale"), vec![d], Init::Ones),
                ParamSpec::new(p("ln_1.bias"), vec![d], Init::Zeros),
                ParamSpec::new(p("attn.c_attn.w"), vec![d, 3 * d], weight),
                ParamSpec::new(p("attn.c_attn.b"), vec![3 * d], Init::Zeros),
                ParamSpec::new(p("attn.c_proj.w"), vec![d, d], residual),
                ParamSpec::new(p("attn.c_proj.b"), vec![d], Init::Zeros),
                ParamSpec::new(p("ln_2.scale"), vec![d], Init::Ones),
                ParamSpec::new(p("ln_2.bias"), vec![d], Init::Zeros),
                ParamSpec::new(p("mlp.c_fc.w"), vec![d, f], weight),
                ParamSpec::new(p("mlp.c_fc.b"), vec![f], Init::Zeros),
                ParamSpec::new(p("mlp.c_proj.w"), vec![f, d], residual),
                ParamSpec::new(p("mlp.c_proj.b"), vec![d], Init::Zeros),
            ]);
        }
        specs.push(ParamSpec::new("ln_f.scale", vec![d], Init::Ones));
        specs.push(ParamSpec::new("ln_f.bias", vec![d], Init::Zeros));
        specs
    }
}

/// Which model, with its configuration. Serialized as `{"kind": "mlp", ...fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ModelConfig {
    Mlp(MlpConfig),
    Gpt(GptConfig),
    /// A Hugging Face causal LM read from its `config.json`; parameters keep HF names.
    Hf(HfConfig),
}

impl ModelConfig {
    /// "mlp", "gpt" or the HF `model_type` ("gpt2", "llama", ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            ModelConfig::Mlp(_) => "mlp",
            ModelConfig::Gpt(_) => "gpt",
            ModelConfig::Hf(c) => c.family.model_type(),
        }
    }

    pub fn init_seed(&self) -> u64 {
        match self {
            ModelConfig::Mlp(c) => c.init_seed,
            ModelConfig::Gpt(c) => c.init_seed,
            ModelConfig::Hf(_) => 0,
        }
    }

    pub fn validate(&self) -> Result<()> {
        match self {
            ModelConfig::Mlp(c) => c.validate(),
            ModelConfig::Gpt(c) => c.validate(),
            ModelConfig::Hf(_) => Ok(()),
        }
    }

    /// The parameters in spec order (validates the config first). HF models: the family
    /// table's order, names and shapes ([`crate::hf::tensor_table`]).
    pub fn param_specs(&self) -> Result<Vec<ParamSpec>> {
        match self {
            ModelConfig::Mlp(c) => c.param_specs(),
            ModelConfig::Gpt(c) => c.param_specs(),
            ModelConfig::Hf(c) => Ok(crate::hf::tensor_table(c)
                .params
                .into_iter()
                .map(|t| ParamSpec {
                    name: t.name,
                    shape: t.shape,
                    init: Init::Pretrained,
                    decay: t.decay,
                })
                .collect()),
        }
    }

    /// Total number of scalar parameters.
    pub fn param_count(&self) -> Result<usize> {
        Ok(self.param_specs()?.iter().map(ParamSpec::numel).sum())
    }

    /// The initial value of every parameter, in [`Self::param_specs`] order, bit-identical to the
    /// JAX reference trainer's.
    pub fn init_params(&self) -> Result<Vec<Vec<f32>>> {
        if let ModelConfig::Hf(c) = self {
            return Err(Error::ModelConfig {
                model: c.family.model_type(),
                field: "init".into(),
                value: "pretrained".into(),
                reason: "a Hugging Face model's parameters come from its files \
                         (crate::hf::HfModel::upload), not from an init"
                    .into(),
            });
        }
        let specs = self.param_specs()?;
        Ok(init_params(&specs, self.init_seed()))
    }

    /// The parts of the config that define which function the parameters compute, plus the
    /// parameter signatures. `init_seed` is left out (it only matters before step 0) and so is
    /// `dropout` (a training-time setting: changing it on resume is legitimate).
    pub fn architecture(&self) -> Result<Architecture> {
        let hyper: Vec<(String, String)> = match self {
            ModelConfig::Mlp(c) => vec![("layers".into(), format!("{:?}", c.layers))],
            ModelConfig::Gpt(c) => vec![
                ("vocab_size".into(), c.vocab_size.to_string()),
                ("d_model".into(), c.d_model.to_string()),
                ("n_layers".into(), c.n_layers.to_string()),
                ("n_heads".into(), c.n_heads.to_string()),
                ("d_ff".into(), c.d_ff.to_string()),
                ("seq_len".into(), c.seq_len.to_string()),
                ("layer_norm_eps".into(), format!("{:e}", c.layer_norm_eps)),
            ],
            ModelConfig::Hf(c) => vec![
                ("model_type".into(), c.family.model_type().into()),
                ("vocab_size".into(), c.vocab_size.to_string()),
                ("hidden_size".into(), c.hidden_size.to_string()),
                ("num_hidden_layers".into(), c.num_hidden_layers.to_string()),
                (
                    "num_attention_heads".into(),
                    c.num_attention_heads.to_string(),
                ),
                (
                    "num_key_value_heads".into(),
                    c.num_key_value_heads.to_string(),
                ),
                ("head_dim".into(), c.head_dim.to_string()),
                ("intermediate_size".into(), c.intermediate_size.to_string()),
                ("norm_eps".into(), format!("{:e}", c.norm_eps)),
                ("rope_theta".into(), format!("{:e}", c.rope_theta)),
                (
                    "tie_word_embeddings".into(),
                    c.tie_word_embeddings.to_string(),
                ),
            ],
        };
        let params = self
            .param_specs()?
            .into_iter()
            .map(|p| TensorSpec::new(p.name, DType::F32, p.shape))
            .collect();
        Ok(Architecture {
            model: self.kind_name().into(),
            hyper,
            params,
        })
    }
}

/// Initial values of `specs` (in order, so tensor `i` is seeded with `derive(init_seed, i)`).
pub fn init_params(specs: &[ParamSpec], init_seed: u64) -> Vec<Vec<f32>> {
    specs
        .iter()
        .enumerate()
        .map(|(index, spec)| spec.initial_values(init_seed, index))
        .collect()
}

/// What identifies a model's architecture; stored with checkpoints and compared on resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Architecture {
    pub model: String,
    /// Architecture-defining config values, `(field, value)` in a fixed order.
    pub hyper: Vec<(String, String)>,
    /// Each parameter's name, element type and shape: what a checkpoint must match.
    pub params: Vec<TensorSpec>,
}

/// At most this many parameter differences are listed one by one.
const MAX_LISTED_PARAM_DIFFERENCES: usize = 8;

impl Architecture {
    /// The canonical text the fingerprint hashes: one line per fact, stable across versions of
    /// xlatrain as long as the architecture does not change.
    pub fn canonical_text(&self) -> String {
        let mut text = format!("xlatrain-architecture v1\nmodel {}\n", self.model);
        for (key, value) in &self.hyper {
            text.push_str(&format!("{key} {value}\n"));
        }
        for p in &self.params {
            text.push_str(&format!("param {} {} {:?}\n", p.name, p.dtype, p.shape));
        }
        text
    }

    /// `sha256:` + hex SHA-256 of [`Self::canonical_text`].
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.canonical_text().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Human-readable differences, reading `self` as the saved (earlier) architecture and `now`
    /// as the current one. Empty when they are the same.
    pub fn describe_mismatch(&self, now: &Architecture) -> Vec<String> {
        let mut out = Vec::new();
        if self.model != now.model {
            out.push(format!("model was `{}`, now `{}`", self.model, now.model));
        }
        for (key, was) in &self.hyper {
            match now.hyper.iter().find(|(k, _)| k == key) {
                Some((_, is)) if is != was => out.push(format!("`{key}` was {was}, now {is}")),
                None => out.push(format!("`{key}` was {was}, now absent")),
                _ => {}
            }
        }
        for (key, is) in &now.hyper {
            if !self.hyper.iter().any(|(k, _)| k == key) {
                out.push(format!("`{key}` was absent, now {is}"));
            }
        }
        let mut param_diffs = Vec::new();
        for p in &self.params {
            match now.params.iter().find(|q| q.name == p.name) {
                None => param_diffs.push(format!("parameter `{}` no longer exists", p.name)),
                Some(q) if q.shape != p.shape || q.dtype != p.dtype => param_diffs.push(format!(
                    "parameter `{}` was {} {:?}, now {} {:?}",
                    p.name, p.dtype, p.shape, q.dtype, q.shape
                )),
                _ => {}
            }
        }
        for q in &now.params {
            if !self.params.iter().any(|p| p.name == q.name) {
                param_diffs.push(format!("parameter `{}` is new", q.name));
            }
        }
        let extra = param_diffs
            .len()
            .saturating_sub(MAX_LISTED_PARAM_DIFFERENCES);
        out.extend(param_diffs.into_iter().take(MAX_LISTED_PARAM_DIFFERENCES));
        if extra > 0 {
            out.push(format!("... and {extra} more parameter differences"));
        }
        if out.is_empty() && self.fingerprint() != now.fingerprint() {
            out.push("parameter order differs".into());
        }
        out
    }
}

/// Differences between the architectures of two configs (`saved` first); see
/// [`Architecture::describe_mismatch`].
pub fn describe_mismatch(saved: &ModelConfig, now: &ModelConfig) -> Result<Vec<String>> {
    Ok(saved
        .architecture()?
        .describe_mismatch(&now.architecture()?))
}

fn checked_param_count(specs: &[ParamSpec], model: &'static str) -> Result<usize> {
    let mut total: usize = 0;
    for spec in specs {
        let new_total = spec
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|n| total.checked_add(n));
        total = new_total.ok_or_else(|| Error::ModelConfig {
            model,
            field: spec.name.clone(),
            value: format!("{:?}", spec.shape),
            reason: "the parameter count overflows usize".into(),
        })?;
    }
    Ok(total)
}

fn mlp_error(field: &str, value: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::ModelConfig {
        model: "mlp",
        field: field.into(),
        value: value.into(),
        reason: reason.into(),
    }
}

fn gpt_error(field: &str, value: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::ModelConfig {
        model: "gpt",
        field: field.into(),
        value: value.into(),
        reason: reason.into(),
    }
}
