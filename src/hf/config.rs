//! `config.json` of a Hugging Face model directory, read by `model_type` into [`HfConfig`].
//!
//! Every key that changes what the model computes is either honoured or refused by name (exit
//! code 2): an unsupported `rope_scaling` type, a sliding window, `mlp_bias`, a different
//! activation, quantization, ... Keys that only describe the file (`architectures`,
//! `torch_dtype`, token ids, `transformers_version`, dropout rates, init ranges) are read where
//! they matter and otherwise left alone.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Error, Result};

/// The model families xlatrain computes, by `model_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// `GPT2LMHeadModel`: Conv1D `[in, out]` weights, learned positions, tied head.
    Gpt2,
    /// `LlamaForCausalLM`: RMSNorm, rotate-half RoPE, SwiGLU, grouped-query attention.
    Llama,
    /// `MistralForCausalLM`: llama's numerics (a sliding window is refused when it binds).
    Mistral,
    /// `Qwen2ForCausalLM`: llama with biases on the q, k and v projections.
    Qwen2,
    /// `BertForSequenceClassification`: post-LN encoder, pooler + classifier.
    Bert,
    /// `RobertaForSequenceClassification`: BERT's encoder, padding-offset positions, a dense +
    /// tanh + out_proj head on `<s>`.
    Roberta,
}

impl Family {
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Gpt2 => "gpt2",
            Family::Llama => "llama",
            Family::Mistral => "mistral",
            Family::Qwen2 => "qwen2",
            Family::Bert => "bert",
            Family::Roberta => "roberta",
        }
    }

    pub fn architecture(self) -> &'static str {
        match self {
            Family::Gpt2 => "GPT2LMHeadModel",
            Family::Llama => "LlamaForCausalLM",
            Family::Mistral => "MistralForCausalLM",
            Family::Qwen2 => "Qwen2ForCausalLM",
            Family::Bert => "BertForSequenceClassification",
            Family::Roberta => "RobertaForSequenceClassification",
        }
    }

    fn from_model_type(model_type: &str) -> Option<Family> {
        [
            Family::Gpt2,
            Family::Llama,
            Family::Mistral,
            Family::Qwen2,
            Family::Bert,
            Family::Roberta,
        ]
        .into_iter()
        .find(|f| f.model_type() == model_type)
    }

    /// Whether this is a llama-style decoder (RMSNorm, RoPE, SwiGLU).
    pub fn is_llama_like(self) -> bool {
        matches!(self, Family::Llama | Family::Mistral | Family::Qwen2)
    }

    /// Whether this is a bidirectional encoder with a sequence-classification head.
    pub fn is_encoder(self) -> bool {
        matches!(self, Family::Bert | Family::Roberta)
    }
}

/// What a Hugging Face causal LM computes, in the terms of its `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HfConfig {
    pub family: Family,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    /// Grouped-query attention: heads of K and V (= `num_attention_heads` without GQA).
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    /// The MLP's inner width (GPT-2 `n_inner`, default `4 * n_embd`).
    pub intermediate_size: usize,
    /// Longest sequence (GPT-2: rows of the position table `n_positions`).
    pub max_position_embeddings: usize,
    /// RMSNorm `rms_norm_eps` (llama family) or LayerNorm `layer_norm_epsilon` (GPT-2).
    pub norm_eps: f64,
    /// RoPE base (llama family; unused by GPT-2).
    pub rope_theta: f64,
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections (Qwen2).
    pub qkv_bias: bool,
    /// Mistral/Qwen2 sliding window, when set: sequences longer than it are refused.
    pub sliding_window: Option<usize>,
    /// Generation stops at any of these.
    pub eos_token_ids: Vec<u32>,
    pub bos_token_id: Option<u32>,
    /// The classification settings of an encoder family (`None` for the causal LMs).
    #[serde(default)]
    pub encoder: Option<super::encoder::EncoderConfig>,
    /// The directory's `config.json` as read, written back (with `torch_dtype` updated) by
    /// checkpoints and exports so the original keys survive.
    pub source: Value,
}

pub(super) fn config_error(
    path: &Path,
    key: &str,
    value: &Value,
    reason: impl Into<String>,
) -> Error {
    Error::HfConfig {
        path: path.to_path_buf(),
        key: key.to_string(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// Typed access to the keys of one config object, with errors naming the key.
pub(super) struct Keys<'a> {
    pub(super) path: &'a Path,
    pub(super) map: &'a Map<String, Value>,
}

impl Keys<'_> {
    pub(super) fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn usize_opt(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n as usize)),
                _ => Err(config_error(self.path, key, v, "must be an integer >= 1")),
            },
        }
    }

    pub(super) fn usize(&self, key: &str) -> Result<usize> {
        self.usize_opt(key)?.ok_or_else(|| {
            config_error(
                self.path,
                key,
                &Value::Null,
                "is required for this model_type",
            )
        })
    }

    pub(super) fn f64_or(&self, key: &str, default: f64) -> Result<f64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x > 0.0 => Ok(x),
                _ => Err(config_error(
                    self.path,
                    key,
                    v,
                    "must be a finite number > 0",
                )),
            },
        }
    }

    pub(super) fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(config_error(self.path, key, v, "must be true or false")),
        }
    }

    pub(super) fn str_or<'s>(&'s self, key: &str, default: &'s str) -> Result<&'s str> {
        match self.get(key) {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(v) => Err(config_error(self.path, key, v, "must be a string")),
        }
    }

    /// The string `key` (`default` when absent), refused with `reason` unless it is one of
    /// `allowed`.
    pub(super) fn str_one_of<'s>(
        &'s self,
        key: &str,
        default: &'s str,
        allowed: &[&str],
        reason: &str,
    ) -> Result<&'s str> {
        let value = self.str_or(key, default)?;
        if !allowed.contains(&value) {
            return Err(config_error(
                self.path,
                key,
                &Value::String(value.into()),
                reason,
            ));
        }
        Ok(value)
    }

    /// Refuses `key` unless it is absent, null or equal to one of `allowed`.
    pub(super) fn refuse_unless(&self, key: &str, allowed: &[Value], reason: &str) -> Result<()> {
        match self.get(key) {
            Some(v) if !allowed.contains(v) => Err(config_error(self.path, key, v, reason)),
            _ => Ok(()),
        }
    }

    pub(super) fn token_ids(&self, key: &str) -> Result<Vec<u32>> {
        let id = |v: &Value| {
            v.as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| config_error(self.path, key, v, "must be a token id"))
        };
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().map(id).collect(),
            Some(v) => Ok(vec![id(v)?]),
        }
    }
}

impl HfConfig {
    /// Reads `config.json` (already parsed from `path`) into a config, refusing by name what
    /// xlatrain does not compute.
    pub fn from_json(path: &Path, json: &Value) -> Result<HfConfig> {
        let map = json.as_object().ok_or_else(|| {
            config_error(
                path,
                "(top level)",
                json,
                "config.json must be a JSON object",
            )
        })?;
        let keys = Keys { path, map };
        let model_type = keys.str_or("model_type", "")?;
        let family = Family::from_model_type(model_type).ok_or_else(|| {
            config_error(
                path,
                "model_type",
                &Value::String(model_type.into()),
                "not a supported family (supported: gpt2, llama, mistral, qwen2, bert, roberta)",
            )
        })?;
        keys.refuse_unless(
            "quantization_config",
            &[],
            "quantized checkpoints are not supported (use F32, BF16 or F16 weights)",
        )?;
        keys.refuse_unless(
            "is_encoder_decoder",
            &[Value::Bool(false)],
            "encoder-decoder models are not supported",
        )?;
        keys.refuse_unless(
            "add_cross_attention",
            &[Value::Bool(false)],
            "cross-attention is not implemented",
        )?;
        let config = match family {
            Family::Gpt2 => gpt2(&keys, json)?,
            Family::Bert | Family::Roberta => super::encoder::parse(&keys, family, json)?,
            _ => llama_like(&keys, family, json)?,
        };
        config.validate(path)?;
        Ok(config)
    }

    /// Reads and parses `config.json` from a model directory.
    pub fn read(path: &Path) -> Result<HfConfig> {
        let bytes = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| Error::HfConfig {
            path: path.to_path_buf(),
            key: "(file)".into(),
            value: String::new(),
            reason: format!("not valid JSON: {e}"),
        })?;
        HfConfig::from_json(path, &json)
    }

    /// Query heads per key/value head.
    pub fn kv_group(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads.max(1)
    }

    /// Refuses a sequence the model cannot compute exactly: longer than its positions, or than a
    /// sliding window (which xlatrain does not implement).
    pub fn check_sequence(&self, len: usize) -> Result<()> {
        let key = |k: &str, v: usize| Error::HfConfig {
            path: "config.json".into(),
            key: k.into(),
            value: v.to_string(),
            reason: format!("a sequence of {len} tokens does not fit"),
        };
        if len > self.max_position_embeddings {
            let name = match self.family {
                Family::Gpt2 => "n_positions",
                _ => "max_position_embeddings",
            };
            return Err(key(name, self.max_position_embeddings));
        }
        if let Some(e) = &self.encoder {
            // RoBERTa's positions start after the padding id
            if len + e.position_offset > self.max_position_embeddings {
                return Err(key("max_position_embeddings", self.max_position_embeddings));
            }
        }
        if let Some(window) = self.sliding_window.filter(|&w| len > w) {
            return Err(Error::HfConfig {
                path: "config.json".into(),
                key: "sliding_window".into(),
                value: window.to_string(),
                reason: format!(
                    "sliding-window attention is not implemented: sequences of {len} tokens are \
                     longer than the window"
                ),
            });
        }
        Ok(())
    }

    fn validate(&self, path: &Path) -> Result<()> {
        let bad = |key: &str, value: usize, reason: String| Error::HfConfig {
            path: path.to_path_buf(),
            key: key.into(),
            value: value.to_string(),
            reason,
        };
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return Err(bad(
                "num_key_value_heads",
                self.num_key_value_heads,
                format!(
                    "must divide num_attention_heads ({})",
                    self.num_attention_heads
                ),
            ));
        }
        if self.family.is_llama_like() && !self.head_dim.is_multiple_of(2) {
            return Err(bad(
                "head_dim",
                self.head_dim,
                "RoPE needs an even head_dim".into(),
            ));
        }
        if matches!(self.family, Family::Gpt2 | Family::Bert | Family::Roberta)
            && self.head_dim * self.num_attention_heads != self.hidden_size
        {
            let (heads, width) = match self.family {
                Family::Gpt2 => ("n_head", "n_embd"),
                _ => ("num_attention_heads", "hidden_size"),
            };
            return Err(bad(
                heads,
                self.num_attention_heads,
                format!("must divide {width} ({})", self.hidden_size),
            ));
        }
        if let Some(id) = self
            .eos_token_ids
            .iter()
            .find(|&&i| i as usize >= self.vocab_size)
        {
            return Err(bad(
                "eos_token_id",
                *id as usize,
                format!("is not below vocab_size ({})", self.vocab_size),
            ));
        }
        Ok(())
    }
}

fn gpt2(keys: &Keys, json: &Value) -> Result<HfConfig> {
    keys.str_one_of(
        "activation_function",
        "gelu_new",
        &["gelu_new", "gelu_pytorch_tanh"],
        "only GPT-2's gelu_new (tanh approximation) is implemented",
    )?;
    keys.refuse_unless(
        "scale_attn_weights",
        &[Value::Bool(true)],
        "unscaled attention is not implemented",
    )?;
    keys.refuse_unless(
        "scale_attn_by_inverse_layer_idx",
        &[Value::Bool(false)],
        "per-layer attention scaling is not implemented",
    )?;
    keys.refuse_unless(
        "tie_word_embeddings",
        &[Value::Bool(true)],
        "GPT2LMHeadModel's head is the token embedding",
    )?;
    let hidden = keys.usize("n_embd")?;
    let heads = keys.usize("n_head")?;
    Ok(HfConfig {
        family: Family::Gpt2,
        vocab_size: keys.usize("vocab_size")?,
        hidden_size: hidden,
        num_hidden_layers: keys.usize("n_layer")?,
        num_attention_heads: heads,
        num_key_value_heads: heads,
        head_dim: hidden / heads,
        intermediate_size: keys.usize_opt("n_inner")?.unwrap_or(4 * hidden),
        max_position_embeddings: keys.usize("n_positions")?,
        norm_eps: keys.f64_or("layer_norm_epsilon", 1e-5)?,
        rope_theta: 10000.0,
        tie_word_embeddings: true,
        qkv_bias: true,
        sliding_window: None,
        eos_token_ids: keys.token_ids("eos_token_id")?,
        bos_token_id: keys.token_ids("bos_token_id")?.first().copied(),
        encoder: None,
        source: json.clone(),
    })
}

fn llama_like(keys: &Keys, family: Family, json: &Value) -> Result<HfConfig> {
    let path = keys.path;
    keys.str_one_of(
        "hidden_act",
        "silu",
        &["silu"],
        &format!(
            "{} uses silu (SwiGLU); others are not implemented",
            family.model_type()
        ),
    )?;
    if let Some(scaling) = keys.get("rope_scaling") {
        let kind = scaling
            .get("rope_type")
            .or_else(|| scaling.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("?");
        if kind != "default" {
            return Err(config_error(
                path,
                "rope_scaling",
                scaling,
                format!("rope_type {kind:?} is not implemented (only plain RoPE)"),
            ));
        }
    }
    keys.refuse_unless(
        "partial_rotary_factor",
        &[Value::from(1.0), Value::from(1)],
        "partial rotary embeddings are not implemented",
    )?;
    keys.refuse_unless(
        "mlp_bias",
        &[Value::Bool(false)],
        "MLP biases are not implemented",
    )?;
    if family != Family::Qwen2 {
        keys.refuse_unless(
            "attention_bias",
            &[Value::Bool(false)],
            "attention biases (q, k, v and o) are not implemented for this family",
        )?;
    }
    keys.refuse_unless(
        "attention_dropout",
        &[Value::from(0.0), Value::from(0)],
        "attention dropout is not implemented",
    )?;
    let hidden = keys.usize("hidden_size")?;
    let heads = keys.usize("num_attention_heads")?;
    let sliding_window = match family {
        Family::Mistral => keys.usize_opt("sliding_window")?,
        Family::Qwen2 if keys.bool_or("use_sliding_window", false)? => {
            keys.usize_opt("sliding_window")?
        }
        _ => None,
    };
    Ok(HfConfig {
        family,
        vocab_size: keys.usize("vocab_size")?,
        hidden_size: hidden,
        num_hidden_layers: keys.usize("num_hidden_layers")?,
        num_attention_heads: heads,
        num_key_value_heads: keys.usize_opt("num_key_value_heads")?.unwrap_or(heads),
        head_dim: keys.usize_opt("head_dim")?.unwrap_or(hidden / heads),
        intermediate_size: keys.usize("intermediate_size")?,
        max_position_embeddings: keys.usize_opt("max_position_embeddings")?.unwrap_or(2048),
        norm_eps: keys.f64_or("rms_norm_eps", 1e-6)?,
        rope_theta: keys.f64_or("rope_theta", 10000.0)?,
        tie_word_embeddings: keys.bool_or("tie_word_embeddings", false)?,
        qkv_bias: family == Family::Qwen2,
        sliding_window,
        eos_token_ids: keys.token_ids("eos_token_id")?,
        bos_token_id: keys.token_ids("bos_token_id")?.first().copied(),
        encoder: None,
        source: json.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn llama() -> Value {
        json!({
            "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 48, "rope_theta": 500000.0, "eos_token_id": [2, 3],
        })
    }

    fn refused(json: Value) -> String {
        let e = HfConfig::from_json(Path::new("config.json"), &json).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
        e.to_string()
    }

    #[test]
    fn llama_keys_are_read_with_hf_defaults() {
        let c = HfConfig::from_json(Path::new("c"), &llama()).unwrap();
        assert_eq!((c.head_dim, c.kv_group(), c.rope_theta), (8, 2, 500000.0));
        assert_eq!((c.norm_eps, c.tie_word_embeddings), (1e-6, false));
        assert_eq!(c.eos_token_ids, vec![2, 3]);
    }

    #[test]
    fn numerics_changing_keys_are_refused_by_name() {
        let with = |key: &str, v: Value| {
            let mut j = llama();
            j[key] = v;
            j
        };
        let cases = [
            (
                "rope_scaling",
                json!({"rope_type": "llama3", "factor": 8.0}),
            ),
            ("hidden_act", json!("gelu")),
            ("mlp_bias", json!(true)),
            ("attention_bias", json!(true)),
            ("quantization_config", json!({"quant_method": "gptq"})),
            ("num_key_value_heads", json!(3)),
            ("model_type", json!("t5")),
        ];
        for (key, value) in cases {
            let message = refused(with(key, value));
            assert!(message.contains(key), "{key}: {message}");
        }
        let plain = with("rope_scaling", json!({"rope_type": "default"}));
        assert!(HfConfig::from_json(Path::new("c"), &plain).is_ok());
    }

    #[test]
    fn a_binding_sliding_window_is_refused_when_the_sequence_is_known() {
        let mut j = llama();
        j["model_type"] = json!("mistral");
        j["sliding_window"] = json!(16);
        let c = HfConfig::from_json(Path::new("c"), &j).unwrap();
        assert!(c.check_sequence(16).is_ok());
        assert!(c
            .check_sequence(17)
            .unwrap_err()
            .to_string()
            .contains("sliding_window"));
    }

    #[test]
    fn gpt2_reads_its_own_key_names() {
        let j = json!({"model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": 2,
                       "n_head": 4, "n_positions": 32, "layer_norm_epsilon": 1e-5});
        let c = HfConfig::from_json(Path::new("c"), &j).unwrap();
        assert_eq!(
            (c.intermediate_size, c.head_dim, c.tie_word_embeddings),
            (64, 4, true)
        );
        let mut bad = j.clone();
        bad["activation_function"] = json!("relu");
        assert!(refused(bad).contains("activation_function"));
    }
}
