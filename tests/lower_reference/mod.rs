//! Reference graphs shared by the golden-file test and the execution tests: a 2-layer MLP SGD
//! train step and a small pre-LN transformer block with tied embeddings, forward and backward.
//! Built only through the public builder API, the way a model author would.
#![allow(dead_code)]

use xlatrain::graph::{grad, DType, Graph, Tensor};
use xlatrain::lower::LowerOptions;
use xlatrain::Result;

/// A train-step program: the graph, its outputs and the lowering options (donations).
pub struct Program {
    pub graph: Graph,
    pub outputs: Vec<Tensor>,
    pub options: LowerOptions,
}

/// Sizes of the MLP: `x[batch, input] -> relu(x W0 + b0) W1 + b1 -> logits[batch, classes]`.
#[derive(Clone, Copy)]
pub struct MlpSizes {
    pub batch: usize,
    pub input: usize,
    pub hidden: usize,
    pub classes: usize,
}

/// Arguments: fc0.w, fc0.b, fc1.w, fc1.b, x, y. Outputs: the four updated parameters (each
/// donated from its argument) and the loss before the update.
pub fn mlp_sgd_step(s: MlpSizes, lr: f64, dtype: DType) -> Result<Program> {
    let mut g = Graph::new();
    let w0 = g.parameter("fc0.w", &[s.input, s.hidden], dtype)?;
    let b0 = g.parameter("fc0.b", &[s.hidden], dtype)?;
    let w1 = g.parameter("fc1.w", &[s.hidden, s.classes], dtype)?;
    let b1 = g.parameter("fc1.b", &[s.classes], dtype)?;
    let x = g.parameter("x", &[s.batch, s.input], dtype)?;
    let y = g.parameter("y", &[s.batch], DType::S32)?;
    let h = g.matmul(x, w0)?;
    let h = g.add(h, b0)?;
    let h = g.relu(h)?;
    let logits = g.matmul(h, w1)?;
    let logits = g.add(logits, b1)?;
    g.set_name(logits, "logits")?;
    let loss = g.cross_entropy(logits, y)?;
    g.set_name(loss, "loss")?;
    let params = [w0, b0, w1, b1];
    let grads = grad(&mut g, loss, &params)?;
    let mut outputs = Vec::new();
    let mut options = LowerOptions::default();
    for (i, (&p, &dp)) in params.iter().zip(&grads).enumerate() {
        let step = g.scale(dp, lr)?;
        let updated = g.sub(p, step)?;
        let name = g.node(p)?.name.clone().unwrap_or_default();
        g.set_name(updated, format!("{name}.next"))?;
        outputs.push(updated);
        options = options.donate(i, i);
    }
    outputs.push(loss);
    Ok(Program {
        graph: g,
        outputs,
        options,
    })
}

/// Sizes of the transformer block.
#[derive(Clone, Copy)]
pub struct BlockSizes {
    pub batch: usize,
    pub seq: usize,
    pub d_model: usize,
    pub heads: usize,
    pub vocab: usize,
}

pub const BLOCK_PARAM_NAMES: [&str; 16] = [
    "wte",
    "wpe",
    "ln_1.scale",
    "ln_1.bias",
    "attn.c_attn.w",
    "attn.c_attn.b",
    "attn.c_proj.w",
    "attn.c_proj.b",
    "ln_2.scale",
    "ln_2.bias",
    "mlp.c_fc.w",
    "mlp.c_fc.b",
    "mlp.c_proj.w",
    "mlp.c_proj.b",
    "ln_f.scale",
    "ln_f.bias",
];

pub fn block_param_shapes(s: BlockSizes) -> Vec<Vec<usize>> {
    let (d, v, t) = (s.d_model, s.vocab, s.seq);
    vec![
        vec![v, d],
        vec![t, d],
        vec![d],
        vec![d],
        vec![d, 3 * d],
        vec![3 * d],
        vec![d, d],
        vec![d],
        vec![d],
        vec![d],
        vec![d, 4 * d],
        vec![4 * d],
        vec![4 * d, d],
        vec![d],
        vec![d],
        vec![d],
    ]
}

/// The loss of one pre-LN GPT-2 block with tied embeddings on `tokens[B,T]` predicting
/// `targets[B,T]`. Parameters are created first (in `BLOCK_PARAM_NAMES` order), then tokens and
/// targets. Returns (loss, params).
pub fn block_loss(g: &mut Graph, s: BlockSizes, dtype: DType) -> Result<(Tensor, Vec<Tensor>)> {
    let (b, t, d, h) = (s.batch, s.seq, s.d_model, s.heads);
    let dh = d / h;
    let mut p = Vec::new();
    for (name, shape) in BLOCK_PARAM_NAMES.iter().zip(block_param_shapes(s)) {
        p.push(g.parameter(name, &shape, dtype)?);
    }
    let tokens = g.parameter("tokens", &[b, t], DType::S32)?;
    let targets = g.parameter("targets", &[b, t], DType::S32)?;
    let tok = g.gather_rows(p[0], tokens)?;
    let x = g.add(tok, p[1])?;
    // attention
    let a = g.layer_norm(x, p[2], p[3], 1e-5)?;
    let qkv = g.matmul(a, p[4])?;
    let qkv = g.add(qkv, p[5])?;
    let mut heads = Vec::new();
    for k in 0..3 {
        let part = g.slice_axis(qkv, 2, k * d, d)?;
        let part = g.reshape(part, &[b, t, h, dh])?;
        heads.push(g.transpose(part, &[0, 2, 1, 3])?);
    }
    let scores = g.dot_general(heads[0], heads[1], &[0, 1], &[0, 1], &[3], &[3])?;
    let scores = g.scale(scores, 1.0 / (dh as f64).sqrt())?;
    let scores = g.causal_mask(scores, -1e9)?;
    let probs = g.softmax(scores, 3)?;
    let att = g.dot_general(probs, heads[2], &[0, 1], &[0, 1], &[3], &[2])?;
    let att = g.transpose(att, &[0, 2, 1, 3])?;
    let att = g.reshape(att, &[b, t, d])?;
    let att = g.matmul(att, p[6])?;
    let att = g.add(att, p[7])?;
    let x = g.add(x, att)?;
    // mlp
    let m = g.layer_norm(x, p[8], p[9], 1e-5)?;
    let m = g.matmul(m, p[10])?;
    let m = g.add(m, p[11])?;
    let m = g.gelu_tanh(m)?;
    let m = g.matmul(m, p[12])?;
    let m = g.add(m, p[13])?;
    let x = g.add(x, m)?;
    // tied head
    let f = g.layer_norm(x, p[14], p[15], 1e-5)?;
    let logits = g.dot_general(f, p[0], &[], &[], &[2], &[1])?;
    g.set_name(logits, "logits")?;
    let loss = g.cross_entropy(logits, targets)?;
    g.set_name(loss, "loss")?;
    Ok((loss, p))
}

/// Forward + backward of the block: outputs are the loss, then one gradient per parameter.
pub fn block_grad_program(s: BlockSizes, dtype: DType) -> Result<Program> {
    let mut g = Graph::new();
    let (loss, params) = block_loss(&mut g, s, dtype)?;
    let grads = grad(&mut g, loss, &params)?;
    let mut outputs = vec![loss];
    outputs.extend(grads);
    Ok(Program {
        graph: g,
        outputs,
        options: LowerOptions::default(),
    })
}

pub const GOLDEN_MLP: MlpSizes = MlpSizes {
    batch: 8,
    input: 16,
    hidden: 32,
    classes: 4,
};
pub const GOLDEN_BLOCK: BlockSizes = BlockSizes {
    batch: 2,
    seq: 8,
    d_model: 16,
    heads: 2,
    vocab: 32,
};
