//! The GPT's forward graph, following `gpt_forward` of the JAX reference op for op: token plus
//! learned position embeddings, pre-LN blocks (causal multi-head attention with q, k, v split
//! from one projection and heads as column blocks, then a GELU-tanh MLP), a final layer norm
//! and logits through the tied token embedding.
//!
//! The same function runs with a KV cache ([`forward`]): the tokens then sit at the cache's
//! offset, positions are gathered from the position table, and attention reads the cache (see
//! [`super::attention`]). HF GPT-2 (`GPT2LMHeadModel`) runs through it with HF names, since its
//! Conv1D weights are our `[in, out]` layout.
//!
//! Dropout (when `dropout > 0` and a key is given) follows GPT-2's placement: after the
//! embeddings and after each residual branch's output projection. Its bits come from the device
//! PRNG state, which is threaded through and returned so the next step draws fresh bits.

use super::attention::{causal_attention, KvCache};
use super::dropout::Dropout;
use crate::graph::{Graph, Tensor};
use crate::models::GptConfig;
use crate::{Error, Result};

/// Indices of one block's tensors among its 12 parameters.
const LN1_SCALE: usize = 0;
const LN1_BIAS: usize = 1;
const ATTN_W: usize = 2;
const ATTN_B: usize = 3;
const PROJ_W: usize = 4;
const PROJ_B: usize = 5;
const LN2_SCALE: usize = 6;
const LN2_BIAS: usize = 7;
const FC_W: usize = 8;
const FC_B: usize = 9;
const FC_PROJ_W: usize = 10;
const FC_PROJ_B: usize = 11;
const PER_BLOCK: usize = 12;

/// Logits `[B, T, vocab]` of `tokens[B, T]`; `params` in [`GptConfig::param_specs`] order.
/// `rng` is the PRNG state used (and advanced) by dropout; `None` = no dropout (eval).
pub fn logits(
    config: &GptConfig,
    g: &mut Graph,
    params: &[Tensor],
    tokens: Tensor,
    rng: Option<&mut Tensor>,
) -> Result<Tensor> {
    forward(config, g, params, tokens, rng, None)
}

/// [`logits`], optionally reading and updating a KV cache (prefill and decode).
pub fn forward(
    config: &GptConfig,
    g: &mut Graph,
    params: &[Tensor],
    tokens: Tensor,
    rng: Option<&mut Tensor>,
    mut cache: Option<&mut KvCache>,
) -> Result<Tensor> {
    let expected = 4 + PER_BLOCK * config.n_layers;
    if params.len() != expected {
        return Err(Error::Lower {
            reason: format!(
                "gpt: {} parameters given, the config needs {expected}",
                params.len()
            ),
        });
    }
    let shape = g.shape(tokens)?.to_vec();
    let (b, t) = match shape[..] {
        [b, t] if t <= config.seq_len => (b, t),
        _ => {
            return Err(Error::ShapeMismatch {
                op: "gpt",
                shapes: vec![shape],
                reason: format!("tokens must be [B, T] with T <= {}", config.seq_len),
            })
        }
    };
    if let Some(&(k0, _)) = cache.as_deref().and_then(|kv| kv.layers.first()) {
        let span = g.shape(k0)?[2];
        if span > config.seq_len {
            return Err(Error::ShapeMismatch {
                op: "gpt",
                shapes: vec![g.shape(k0)?.to_vec()],
                reason: format!("a KV cache of {span} positions exceeds {}", config.seq_len),
            });
        }
    }
    let (d, h, eps) = (config.d_model, config.n_heads, config.layer_norm_eps);
    let dh = config.d_head();
    let mut dropout = Dropout {
        rate: config.dropout,
        rng,
    };
    let (wte, wpe) = (params[0], params[1]);
    let tok = g.gather_rows(wte, tokens)?;
    let pos = match cache.as_deref() {
        Some(kv) => {
            let positions = kv.positions(g, t)?;
            g.gather_rows(wpe, positions)?
        }
        None => g.slice_axis(wpe, 0, 0, t)?,
    };
    let mut x = g.add(tok, pos)?;
    x = dropout.apply(g, x)?;
    for layer in 0..config.n_layers {
        let p = &params[2 + layer * PER_BLOCK..2 + (layer + 1) * PER_BLOCK];
        let layer_cache = KvCache::layer(cache.as_deref_mut(), layer)?;
        // one checkpointed block per layer (recomputed in the backward pass when
        // gradient checkpointing is on)
        x = g.checkpoint_block(|g| {
            let a = g.layer_norm(x, p[LN1_SCALE], p[LN1_BIAS], eps)?;
            let qkv = g.matmul(a, p[ATTN_W])?;
            let qkv = g.add(qkv, p[ATTN_B])?;
            let mut heads = Vec::with_capacity(3);
            for k in 0..3 {
                let part = g.slice_axis(qkv, 2, k * d, d)?;
                let part = g.reshape(part, &[b, t, h, dh])?;
                heads.push(g.transpose(part, &[0, 2, 1, 3])?);
            }
            let scale = 1.0 / (dh as f64).sqrt();
            let att = causal_attention(g, heads[0], heads[1], heads[2], scale, layer_cache)?;
            let att = g.matmul(att, p[PROJ_W])?;
            let att = g.add(att, p[PROJ_B])?;
            let att = dropout.apply(g, att)?;
            let x = g.add(x, att)?;
            let m = g.layer_norm(x, p[LN2_SCALE], p[LN2_BIAS], eps)?;
            let m = g.matmul(m, p[FC_W])?;
            let m = g.add(m, p[FC_B])?;
            let m = g.gelu_tanh(m)?;
            let m = g.matmul(m, p[FC_PROJ_W])?;
            let m = g.add(m, p[FC_PROJ_B])?;
            let m = dropout.apply(g, m)?;
            g.add(x, m)
        })?;
    }
    let n = params.len();
    let f = g.layer_norm(x, params[n - 2], params[n - 1], eps)?;
    let logits = g.dot_general(f, wte, &[], &[], &[2], &[1])?;
    g.set_name(logits, "logits")
}
