//! The encoder families' forward graph for sequence classification, with HF's numerics:
//! `BertForSequenceClassification` and `RobertaForSequenceClassification`.
//!
//! Embeddings are word + position + token type, then LayerNorm. Each layer is post-LN:
//! `x = LN(x + attn(x))`, `x = LN(x + W2 gelu(W1 x))` with the exact (erf) GELU and
//! bidirectional attention whose keys are masked by the attention mask. The head reads the first
//! token (`[CLS]` / `<s>`): `tanh(dense(h0))` then a linear layer to `num_labels` logits — BERT's
//! pooler + classifier and RoBERTa's `classifier.dense` + `out_proj` are the same computation
//! under different names. BERT's positions are `0..T`; RoBERTa's count the non-padding tokens
//! from `pad_token_id + 1` (`create_position_ids_from_input_ids`), padding at `pad_token_id`.
//!
//! The input is one `s32 [B, 3, T]` tensor: input ids, attention mask (1 = token, 0 = padding)
//! and token type ids, rows [`IDS`], [`MASK`], [`TYPES`]. With a PRNG state (training), dropout
//! is HF's: `hidden_dropout_prob` after the embeddings and on each residual branch,
//! `attention_probs_dropout_prob` on the attention probabilities, `classifier_dropout` before
//! the classifier (BERT) or before both head layers (RoBERTa); without one the graph is the
//! eval-mode function.

use super::attention::masked_attention;
use super::dropout::Dropout;
use super::llama::linear;
use crate::graph::{CompareDir, DType, Graph, Tensor};
use crate::hf::family::{ENCODER_EMBEDDINGS_LEN, ENCODER_HEAD_LEN, ENCODER_LAYER_LEN};
use crate::hf::{Family, HfConfig};
use crate::{Error, Result};

/// Rows of the input tensor `[B, INPUT_ROWS, T]`.
pub const INPUT_ROWS: usize = 3;
/// Row of the token ids.
pub const IDS: usize = 0;
/// Row of the attention mask.
pub const MASK: usize = 1;
/// Row of the token type (segment) ids.
pub const TYPES: usize = 2;

fn input_row(g: &mut Graph, x: Tensor, row: usize) -> Result<Tensor> {
    let s = g.shape(x)?.to_vec();
    let r = g.slice_axis(x, 1, row, 1)?;
    g.reshape(r, &[s[0], s[2]])
}

/// RoBERTa's positions `[B, T]` (s32): `cumsum(ids != pad) * (ids != pad) + pad`.
fn padding_offset_positions(g: &mut Graph, ids: Tensor, pad: u32) -> Result<Tensor> {
    let s = g.shape(ids)?.to_vec();
    let (b, t) = (s[0], s[1]);
    let pad_id = g.scalar(f64::from(pad), DType::S32)?;
    let real = g.compare(CompareDir::Ne, ids, pad_id)?;
    let real = g.convert(real, DType::F32)?;
    // cumsum along T as a masked sum (exact in f32 for any sequence length we accept)
    let upto: Vec<f64> = (0..t * t)
        .map(|k| f64::from(u8::from(k / t <= k % t)))
        .collect();
    let upto = g.constant_f64(&upto, &[t, t], DType::F32)?;
    let spread = g.broadcast_in_dim(real, &[b, t, t], &[0, 1])?;
    let counted = g.mul(spread, upto)?;
    let cumsum = g.reduce_sum(counted, &[1])?;
    let positions = g.mul(cumsum, real)?;
    let positions = g.add_scalar(positions, f64::from(pad))?;
    g.convert(positions, DType::S32)
}

/// `[B, T, d]` -> `[B, heads, T, dh]`.
fn split_heads(g: &mut Graph, x: Tensor, heads: usize) -> Result<Tensor> {
    let s = g.shape(x)?.to_vec();
    let x = g.reshape(x, &[s[0], s[1], heads, s[2] / heads])?;
    g.transpose(x, &[0, 2, 1, 3])
}

/// Logits `[B, num_labels]` of `x [B, 3, T]` (see the module docs); `params` in the family
/// table's order ([`crate::hf::tensor_table`]).
/// `rng` is the PRNG state dropout draws from (and advances); `None` = no dropout.
pub fn classify(
    c: &HfConfig,
    g: &mut Graph,
    params: &[Tensor],
    x: Tensor,
    rng: Option<&mut Tensor>,
) -> Result<Tensor> {
    let encoder = c.encoder()?;
    let expected =
        ENCODER_EMBEDDINGS_LEN + ENCODER_LAYER_LEN * c.num_hidden_layers + ENCODER_HEAD_LEN;
    super::check_param_count(c, params.len(), expected)?;
    let shape = g.shape(x)?.to_vec();
    let t = match shape[..] {
        [_, INPUT_ROWS, t] => t,
        _ => {
            return Err(Error::ShapeMismatch {
                op: c.family.model_type(),
                shapes: vec![shape],
                reason: "inputs must be [B, 3, T]: ids, attention mask, token types".into(),
            })
        }
    };
    c.check_sequence(t)?;
    let ids = input_row(g, x, IDS)?;
    let mask = input_row(g, x, MASK)?;
    let types = input_row(g, x, TYPES)?;
    let zero = g.scalar(0.0, DType::S32)?;
    let keep = g.compare(CompareDir::Ne, mask, zero)?;

    let words = g.gather_rows(params[0], ids)?;
    let positions = match c.family {
        Family::Roberta => {
            let p = padding_offset_positions(g, ids, encoder.pad_token_id)?;
            g.gather_rows(params[1], p)?
        }
        _ => g.slice_axis(params[1], 0, encoder.position_offset, t)?,
    };
    let segments = g.gather_rows(params[2], types)?;
    let h = g.add(words, positions)?;
    let h = g.add(h, segments)?;
    let eps = c.norm_eps;
    let h = g.layer_norm(h, params[3], params[4], eps)?;
    let mut dropout = Dropout {
        rate: encoder.hidden_dropout,
        rng,
    };
    let mut h = dropout.apply(g, h)?;

    let heads = c.num_attention_heads;
    let scale = 1.0 / (c.head_dim as f64).sqrt();
    for i in 0..c.num_hidden_layers {
        let start = ENCODER_EMBEDDINGS_LEN + i * ENCODER_LAYER_LEN;
        let p = &params[start..start + ENCODER_LAYER_LEN];
        let q = linear(g, h, p[0], Some(p[1]))?;
        let k = linear(g, h, p[2], Some(p[3]))?;
        let v = linear(g, h, p[4], Some(p[5]))?;
        let q = split_heads(g, q, heads)?;
        let k = split_heads(g, k, heads)?;
        let v = split_heads(g, v, heads)?;
        let probs_dropout = encoder.attention_dropout;
        let att = masked_attention(g, (q, k, v), scale, keep, &mut dropout, probs_dropout)?;
        let att = linear(g, att, p[6], Some(p[7]))?;
        let att = dropout.apply(g, att)?;
        let sum = g.add(h, att)?;
        h = g.layer_norm(sum, p[8], p[9], eps)?;
        let m = linear(g, h, p[10], Some(p[11]))?;
        let m = g.gelu_erf(m)?;
        let m = linear(g, m, p[12], Some(p[13]))?;
        let m = dropout.apply(g, m)?;
        let sum = g.add(h, m)?;
        h = g.layer_norm(sum, p[14], p[15], eps)?;
    }

    let b = shape[0];
    let first = g.slice_axis(h, 1, 0, 1)?;
    let first = g.reshape(first, &[b, c.hidden_size])?;
    let head = &params[params.len() - ENCODER_HEAD_LEN..];
    let head_dropout = encoder.classifier_dropout;
    // RoBERTa drops the <s> state before its dense layer; BERT's pooler sees it undropped
    let first = match c.family {
        Family::Roberta => dropout.apply_rate(g, first, head_dropout)?,
        _ => first,
    };
    let pooled = linear(g, first, head[0], Some(head[1]))?;
    let pooled = g.tanh(pooled)?;
    let pooled = dropout.apply_rate(g, pooled, head_dropout)?;
    let logits = linear(g, pooled, head[2], Some(head[3]))?;
    g.set_name(logits, "logits")
}
