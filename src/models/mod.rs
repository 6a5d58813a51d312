//! Models: the parameter specifications of the reference models ([`spec`]) and their forward
//! graphs ([`mlp`], [`gpt`]), and the Hugging Face families ([`llama`]; HF GPT-2 runs through
//! [`gpt`]), all decoders sharing one causal attention with an optional KV cache
//! ([`attention`]).

pub mod attention;
pub mod gpt;
pub mod llama;
pub mod mlp;
pub mod spec;

pub use attention::KvCache;

pub use spec::{
    describe_mismatch, init_params, Architecture, GptConfig, Init, MlpConfig, ModelConfig,
    ParamSpec,
};

use crate::graph::{Graph, Tensor};
use crate::hf::{Family, HfConfig};
use crate::Result;

/// The logits of `x` under `config` (MLP `[B, classes]`, GPT `[B, T, vocab]`); `rng` feeds GPT
/// dropout and is advanced by it (`None` = no dropout).
pub fn logits(
    config: &ModelConfig,
    g: &mut Graph,
    params: &[Tensor],
    x: Tensor,
    rng: Option<&mut Tensor>,
) -> Result<Tensor> {
    match config {
        ModelConfig::Mlp(c) => mlp::logits(c, g, params, x),
        ModelConfig::Gpt(c) => gpt::logits(c, g, params, x, rng),
        ModelConfig::Hf(c) => hf_forward(c, g, params, x, rng, None),
    }
}

/// The logits `[B, T, vocab]` of an HF model (see [`logits`]); with `cache`, the same forward
/// reads and updates the KV cache (prefill and one-token decode).
pub fn hf_forward(
    config: &HfConfig,
    g: &mut Graph,
    params: &[Tensor],
    tokens: Tensor,
    rng: Option<&mut Tensor>,
    cache: Option<&mut KvCache>,
) -> Result<Tensor> {
    match config.family {
        Family::Gpt2 => gpt::forward(&gpt2_graph_config(config), g, params, tokens, rng, cache),
        Family::Llama | Family::Mistral | Family::Qwen2 => {
            llama::forward(config, g, params, tokens, cache)
        }
    }
}

/// HF GPT-2 in the terms of our GPT graph (same blocks, same `[in, out]` weights); HF's
/// dropout rates are not applied (the graph's dropout is a training setting).
fn gpt2_graph_config(c: &HfConfig) -> GptConfig {
    GptConfig {
        vocab_size: c.vocab_size,
        d_model: c.hidden_size,
        n_layers: c.num_hidden_layers,
        n_heads: c.num_attention_heads,
        d_ff: c.intermediate_size,
        seq_len: c.max_position_embeddings,
        dropout: 0.0,
        init_std: 0.02,
        layer_norm_eps: c.norm_eps,
        init_seed: 0,
    }
}
