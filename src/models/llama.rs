//! The llama family's forward graph (`LlamaForCausalLM`, and Mistral and Qwen2 through the same
//! config), with HF's numerics: RMSNorm in f32 (`x * rsqrt(mean(x^2) + eps) * w`), RoPE in the
//! rotate-half convention with base `rope_theta` (`inv_freq[j] = theta^(-2j/head_dim)`, the
//! frequencies repeated over both halves), grouped-query attention scaled by
//! `1/sqrt(head_dim)`, the SwiGLU MLP `down(silu(gate(x)) * up(x))`, and the head tied to the
//! token embedding or its own `lm_head`.
//!
//! Parameters are the family table's ([`crate::hf::tensor_table`]) in its order, in HF layout:
//! every `Linear` weight is `[out, in]` and contracted on its dim 1.

use super::attention::{causal_attention, KvCache};
use crate::graph::{DType, Graph, Tensor};
use crate::hf::{HfConfig, LlamaLayer};
use crate::{Error, Result};

/// `x [.., in] @ w[out, in]^T (+ b)`.
pub fn linear(g: &mut Graph, x: Tensor, w: Tensor, b: Option<Tensor>) -> Result<Tensor> {
    let axis = g.shape(x)?.len() - 1;
    let y = g.dot_general(x, w, &[], &[], &[axis], &[1])?;
    match b {
        Some(b) => g.add(y, b),
        None => Ok(y),
    }
}

/// HF's `LlamaRMSNorm` over the last axis.
fn rms_norm(g: &mut Graph, x: Tensor, w: Tensor, eps: f64) -> Result<Tensor> {
    let axis = g.shape(x)?.len() - 1;
    let n = g.shape(x)?[axis] as f64;
    let sq = g.square(x)?;
    let sum = g.sum_keep(sq, axis)?;
    let mean = g.scale(sum, 1.0 / n)?;
    let inv = g.add_scalar(mean, eps)?;
    let inv = g.rsqrt(inv)?;
    let normed = g.mul(x, inv)?;
    g.mul(normed, w)
}

/// `x * sigmoid(x)`.
fn silu(g: &mut Graph, x: Tensor) -> Result<Tensor> {
    let neg = g.neg(x)?;
    let e = g.exp(neg)?;
    let denom = g.add_scalar(e, 1.0)?;
    g.div(x, denom)
}

/// `cos` and `sin` `[T, head_dim]` of the rotary angles at `positions [T]` (s32).
fn rope_tables(g: &mut Graph, c: &HfConfig, positions: Tensor) -> Result<(Tensor, Tensor)> {
    let half = c.head_dim / 2;
    let t = g.shape(positions)?[0];
    // computed as transformers does: float32 exponents of an f32 base
    let inv_freq: Vec<f64> = (0..half)
        .map(|j| {
            let exponent = (2 * j) as f32 / c.head_dim as f32;
            f64::from(1.0f32 / (c.rope_theta as f32).powf(exponent))
        })
        .collect();
    let inv_freq = g.constant_f64(&inv_freq, &[1, half], DType::F32)?;
    let pos = g.convert(positions, DType::F32)?;
    let pos = g.reshape(pos, &[t, 1])?;
    let angles = g.mul(pos, inv_freq)?;
    let angles = g.concatenate(&[angles, angles], 1)?;
    Ok((g.cosine(angles)?, g.sine(angles)?))
}

/// `x * cos + rotate_half(x) * sin` for `x [B, heads, T, head_dim]`.
fn apply_rope(g: &mut Graph, x: Tensor, cos: Tensor, sin: Tensor) -> Result<Tensor> {
    let dh = g.shape(x)?[3];
    let first = g.slice_axis(x, 3, 0, dh / 2)?;
    let second = g.slice_axis(x, 3, dh / 2, dh / 2)?;
    let second = g.neg(second)?;
    let rotated = g.concatenate(&[second, first], 3)?;
    let a = g.mul(x, cos)?;
    let b = g.mul(rotated, sin)?;
    g.add(a, b)
}

/// `[B, T, heads * dh]` -> `[B, heads, T, dh]`.
fn split_heads(g: &mut Graph, x: Tensor, heads: usize, dh: usize) -> Result<Tensor> {
    let s = g.shape(x)?.to_vec();
    let x = g.reshape(x, &[s[0], s[1], heads, dh])?;
    g.transpose(x, &[0, 2, 1, 3])
}

/// Logits `[B, T, vocab]` of `tokens [B, T]`. With `cache`, the tokens sit at positions
/// `cache.offset..` and the caches are updated (prefill and decode are this same function).
pub fn forward(
    c: &HfConfig,
    g: &mut Graph,
    params: &[Tensor],
    tokens: Tensor,
    mut cache: Option<&mut KvCache>,
) -> Result<Tensor> {
    let layer = LlamaLayer::new(c.qkv_bias);
    let head = usize::from(!c.tie_word_embeddings);
    let expected = 2 + head + layer.len * c.num_hidden_layers;
    super::check_param_count(c, params.len(), expected)?;
    let shape = g.shape(tokens)?.to_vec();
    let [_, t] = shape[..] else {
        return Err(Error::ShapeMismatch {
            op: "llama",
            shapes: vec![shape],
            reason: "tokens must be [B, T]".into(),
        });
    };
    // with a cache, positions run up to the cache length; without, up to T
    let positions = match cache.as_deref() {
        Some(kv) => {
            let span = match kv.layers.first() {
                Some(&(k0, _)) => g.shape(k0)?[2],
                None => t,
            };
            c.check_sequence(span)?;
            kv.positions(g, t)?
        }
        None => {
            c.check_sequence(t)?;
            g.iota(&[t], 0, DType::S32)?
        }
    };
    let (cos, sin) = rope_tables(g, c, positions)?;
    let (h, hkv, dh) = (c.num_attention_heads, c.num_key_value_heads, c.head_dim);
    let scale = 1.0 / (dh as f64).sqrt();
    let embed = params[0];
    let mut x = g.gather_rows(embed, tokens)?;
    for i in 0..c.num_hidden_layers {
        let p = &params[1 + i * layer.len..1 + (i + 1) * layer.len];
        let bias = |b: Option<usize>| b.map(|j| p[j]);
        let layer_cache = KvCache::layer(cache.as_deref_mut(), i)?;
        // one checkpointed block per layer (recomputed in the backward pass when
        // gradient checkpointing is on)
        x = g.checkpoint_block(|g| {
            let a = rms_norm(g, x, p[layer.input_norm], c.norm_eps)?;
            let q = linear(g, a, p[layer.q], bias(layer.q_bias))?;
            let k = linear(g, a, p[layer.k], bias(layer.k_bias))?;
            let v = linear(g, a, p[layer.v], bias(layer.v_bias))?;
            let q = split_heads(g, q, h, dh)?;
            let k = split_heads(g, k, hkv, dh)?;
            let v = split_heads(g, v, hkv, dh)?;
            let q = apply_rope(g, q, cos, sin)?;
            let k = apply_rope(g, k, cos, sin)?;
            let att = causal_attention(g, q, k, v, scale, layer_cache)?;
            let att = linear(g, att, p[layer.o], None)?;
            let x = g.add(x, att)?;
            let m = rms_norm(g, x, p[layer.post_attention_norm], c.norm_eps)?;
            let gate = linear(g, m, p[layer.gate], None)?;
            let gate = silu(g, gate)?;
            let up = linear(g, m, p[layer.up], None)?;
            let m = g.mul(gate, up)?;
            let m = linear(g, m, p[layer.down], None)?;
            g.add(x, m)
        })?;
    }
    let n = 1 + layer.len * c.num_hidden_layers;
    let x = rms_norm(g, x, params[n], c.norm_eps)?;
    let head = if c.tie_word_embeddings {
        embed
    } else {
        params[n + 1]
    };
    let logits = linear(g, x, head, None)?;
    g.set_name(logits, "logits")
}
