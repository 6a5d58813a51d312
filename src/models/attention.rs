//! Causal self-attention shared by the decoders (our GPT, HF GPT-2, the llama family), with
//! grouped-query heads and an optional KV cache, and the encoders' masked bidirectional
//! attention ([`masked_attention`]).
//!
//! One function serves training, prefill and decode: without a cache the keys are the new
//! tokens' and the mask is the plain causal triangle; with a cache the new K/V rows are written
//! into the per-layer cache at the run-time `offset` (`dynamic_update_slice`) and the queries
//! (at positions `offset..offset+T`) attend to every cached position up to their own. Unwritten
//! cache rows lie after every query, so the same mask hides them.

use super::dropout::Dropout;
use crate::graph::{CompareDir, DType, Graph, Tensor};
use crate::Result;

/// The masked score: large and finite, so a fully masked row (impossible for causal
/// attention) could not produce NaN, and `exp` of it is exactly 0 in f32.
const MASKED: f64 = -1e9;

/// Per-layer K and V caches `[B, kv_heads, S, head_dim]` and the position (an `s32` scalar) of
/// the first token of this call. A forward pass replaces each layer's tensors with the updated
/// caches, which the program returns.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub layers: Vec<(Tensor, Tensor)>,
    pub offset: Tensor,
}

impl KvCache {
    /// Layer `i`'s `(k, v)` slot and the offset, as [`causal_attention`] takes them (`None`
    /// without a cache).
    pub fn layer(
        cache: Option<&mut KvCache>,
        i: usize,
    ) -> Result<Option<(&mut (Tensor, Tensor), Tensor)>> {
        let Some(kv) = cache else {
            return Ok(None);
        };
        let offset = kv.offset;
        let slot = kv.layers.get_mut(i).ok_or_else(|| crate::Error::Lower {
            reason: format!("the KV cache has no layer {i}"),
        })?;
        Ok(Some((slot, offset)))
    }

    /// The positions `offset + 0..len` as an `s32` vector (for position tables and RoPE).
    pub fn positions(&self, g: &mut Graph, len: usize) -> Result<Tensor> {
        let iota = g.iota(&[len], 0, DType::S32)?;
        g.add(iota, self.offset)
    }
}

/// Bidirectional attention of the encoders: `q`, `k`, `v [B, H, T, dh]`, scores scaled by
/// `scale`, keys where `key_mask [B, T]` (pred) is false given no weight (as HF's attention
/// mask: padded positions never change the unpadded ones), the probabilities dropped out at
/// `probs_dropout` (training); returns `[B, T, H * dh]`.
pub fn masked_attention(
    g: &mut Graph,
    (q, k, v): (Tensor, Tensor, Tensor),
    scale: f64,
    key_mask: Tensor,
    dropout: &mut Dropout,
    probs_dropout: f64,
) -> Result<Tensor> {
    let qs = g.shape(q)?.to_vec();
    let (b, h, t, dh) = (qs[0], qs[1], qs[2], qs[3]);
    let scores = g.dot_general(q, k, &[0, 1], &[0, 1], &[3], &[3])?;
    let scores = g.scale(scores, scale)?;
    let keep = g.broadcast_in_dim(key_mask, &[b, h, t, t], &[0, 3])?;
    let fill = g.scalar_like(scores, MASKED)?;
    let scores = g.select(keep, scores, fill)?;
    let probs = g.softmax(scores, 3)?;
    let probs = dropout.apply_rate(g, probs, probs_dropout)?;
    let att = g.dot_general(probs, v, &[0, 1], &[0, 1], &[3], &[2])?;
    let att = g.transpose(att, &[0, 2, 1, 3])?;
    g.reshape(att, &[b, t, h * dh])
}

/// Attention of `q [B, H, T, dh]` over `k`, `v [B, Hkv, T, dh]` (`H` a multiple of `Hkv`; query
/// head `h` reads kv head `h / (H / Hkv)`, as HF's `repeat_kv`), scores scaled by `scale`;
/// returns `[B, T, H * dh]` with heads as column blocks. With `cache`, `(k_cache, v_cache)` are
/// updated in place with this call's rows at `offset`.
pub fn causal_attention(
    g: &mut Graph,
    q: Tensor,
    k: Tensor,
    v: Tensor,
    scale: f64,
    cache: Option<(&mut (Tensor, Tensor), Tensor)>,
) -> Result<Tensor> {
    let qs = g.shape(q)?.to_vec();
    let (b, h, t, dh) = (qs[0], qs[1], qs[2], qs[3]);
    let hkv = g.shape(k)?[1];
    let group = h / hkv.max(1);
    let (keys, values, offset) = match cache {
        None => (k, v, None),
        Some((layer, offset)) => {
            let zero = g.scalar(0.0, DType::S32)?;
            let starts = [zero, zero, offset, zero];
            layer.0 = g.dynamic_update_slice(layer.0, k, &starts)?;
            layer.1 = g.dynamic_update_slice(layer.1, v, &starts)?;
            (layer.0, layer.1, Some(offset))
        }
    };
    let s = g.shape(keys)?[2];
    let q5 = g.reshape(q, &[b, hkv, group, t, dh])?;
    let scores = g.dot_general(q5, keys, &[0, 1], &[0, 1], &[4], &[3])?;
    let scores = g.scale(scores, scale)?;
    let scores = match offset {
        None => g.causal_mask(scores, MASKED)?,
        Some(offset) => {
            let query = g.iota(&[t, s], 0, DType::S32)?;
            let query = g.add(query, offset)?;
            let key = g.iota(&[t, s], 1, DType::S32)?;
            let future = g.compare(CompareDir::Gt, key, query)?;
            let fill = g.scalar_like(scores, MASKED)?;
            g.select(future, fill, scores)?
        }
    };
    let probs = g.softmax(scores, 4)?;
    let att = g.dot_general(probs, values, &[0, 1], &[0, 1], &[4], &[2])?;
    let att = g.transpose(att, &[0, 3, 1, 2, 4])?;
    g.reshape(att, &[b, t, h * dh])
}
