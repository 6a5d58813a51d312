//! Neural-network helpers built only from the core ops, so they need no gradient rules of their
//! own: matmul, mean, relu, softmax, log-softmax, cross-entropy, layer norm, GELU, causal mask,
//! and uniform floats from random bits.

use super::builder::Graph;
use super::types::{CompareDir, DType, Tensor};
use crate::{Error, Result};

impl Graph {
    /// `a @ b`. `b` of rank 2 contracts `a`'s last axis (any rank of `a`); otherwise both must
    /// have the same rank >= 3 and the same leading (batch) axes.
    pub fn matmul(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        let (sa, sb) = (self.shape(a)?.to_vec(), self.shape(b)?.to_vec());
        let (ra, rb) = (sa.len(), sb.len());
        if ra >= 1 && rb == 2 {
            return self.dot_general(a, b, &[], &[], &[ra - 1], &[0]);
        }
        if ra == rb && ra >= 3 && sa[..ra - 2] == sb[..rb - 2] {
            let batch: Vec<usize> = (0..ra - 2).collect();
            return self.dot_general(a, b, &batch, &batch, &[ra - 1], &[rb - 2]);
        }
        Err(Error::ShapeMismatch {
            op: "matmul",
            shapes: vec![sa, sb],
            reason: "needs [.., K] @ [K, N] or batched [B.., M, K] @ [B.., K, N]".into(),
        })
    }

    /// Mean over `axes` (reduced away).
    pub fn mean(&mut self, x: Tensor, axes: &[usize]) -> Result<Tensor> {
        let shape = self.shape(x)?.to_vec();
        let count: usize = axes.iter().filter_map(|&a| shape.get(a)).product();
        let sum = self.reduce_sum(x, axes)?;
        self.scale(sum, 1.0 / count.max(1) as f64)
    }

    /// Sum of all elements (a scalar).
    pub fn sum_all(&mut self, x: Tensor) -> Result<Tensor> {
        let rank = self.shape(x)?.len();
        let axes: Vec<usize> = (0..rank).collect();
        self.reduce_sum(x, &axes)
    }

    /// Mean of all elements (a scalar).
    pub fn mean_all(&mut self, x: Tensor) -> Result<Tensor> {
        let rank = self.shape(x)?.len();
        let axes: Vec<usize> = (0..rank).collect();
        self.mean(x, &axes)
    }

    /// `x * x`.
    pub fn square(&mut self, x: Tensor) -> Result<Tensor> {
        self.mul(x, x)
    }

    /// Sum over `axis`, keeping it as a size-1 axis (so the result broadcasts against `x`).
    pub fn sum_keep(&mut self, x: Tensor, axis: usize) -> Result<Tensor> {
        let mut shape = self.shape(x)?.to_vec();
        let s = self.reduce_sum(x, &[axis])?;
        shape[axis] = 1;
        self.reshape(s, &shape)
    }

    /// Max over `axis`, keeping it as a size-1 axis.
    pub fn max_keep(&mut self, x: Tensor, axis: usize) -> Result<Tensor> {
        let mut shape = self.shape(x)?.to_vec();
        let s = self.reduce_max(x, &[axis])?;
        shape[axis] = 1;
        self.reshape(s, &shape)
    }

    /// `max(x, 0)`, built as `select(x > 0, x, 0)` so that its gradient at exactly 0 is 0 (as
    /// `jax.nn.relu`), not the 1/2 that `max` gives at a tie.
    pub fn relu(&mut self, x: Tensor) -> Result<Tensor> {
        let zero = self.scalar_like(x, 0.0)?;
        let positive = self.compare(CompareDir::Gt, x, zero)?;
        self.select(positive, x, zero)
    }

    /// `x - logsumexp(x)` along `axis`, stable (the max is a constant for differentiation, which
    /// is exact: log-softmax does not depend on the shift).
    pub fn log_softmax(&mut self, x: Tensor, axis: usize) -> Result<Tensor> {
        let m = self.max_keep(x, axis)?;
        let m = self.stop_gradient(m)?;
        let shifted = self.sub(x, m)?;
        let e = self.exp(shifted)?;
        let s = self.sum_keep(e, axis)?;
        let lse = self.log(s)?;
        self.sub(shifted, lse)
    }

    /// `exp(x) / sum(exp(x))` along `axis`, stable.
    pub fn softmax(&mut self, x: Tensor, axis: usize) -> Result<Tensor> {
        let m = self.max_keep(x, axis)?;
        let m = self.stop_gradient(m)?;
        let shifted = self.sub(x, m)?;
        let e = self.exp(shifted)?;
        let s = self.sum_keep(e, axis)?;
        self.div(e, s)
    }

    /// `labels` (integers, shape `[..]`) as a float one-hot `[.., classes]`.
    pub fn one_hot(&mut self, labels: Tensor, classes: usize, dtype: DType) -> Result<Tensor> {
        let ldtype = self.dtype(labels)?;
        let mut shape = self.shape(labels)?.to_vec();
        shape.push(classes);
        let axis = shape.len() - 1;
        let iota = self.iota(&shape, axis, ldtype)?;
        let mut keep = self.shape(labels)?.to_vec();
        keep.push(1);
        let l = self.reshape(labels, &keep)?;
        let hit = self.compare(CompareDir::Eq, iota, l)?;
        self.convert(hit, dtype)
    }

    /// Mean softmax cross-entropy of `logits[.., C]` against integer `labels[..]` (a scalar).
    pub fn cross_entropy(&mut self, logits: Tensor, labels: Tensor) -> Result<Tensor> {
        let ls = self.shape(logits)?.to_vec();
        let ys = self.shape(labels)?.to_vec();
        if ls.is_empty() || ls[..ls.len() - 1] != ys[..] {
            return Err(Error::ShapeMismatch {
                op: "cross_entropy",
                shapes: vec![ls, ys],
                reason: "labels must have the logits' shape without the class axis".into(),
            });
        }
        if !self.dtype(labels)?.is_integer() {
            return Err(Error::DTypeMismatch {
                op: "cross_entropy",
                dtypes: vec![self.dtype(logits)?, self.dtype(labels)?],
                reason: "labels must be integers".into(),
            });
        }
        let axis = ls.len() - 1;
        let dtype = self.dtype(logits)?;
        let logp = self.log_softmax(logits, axis)?;
        let onehot = self.one_hot(labels, ls[axis], dtype)?;
        let picked = self.mul(logp, onehot)?;
        let all: Vec<usize> = (0..ls.len()).collect();
        let total = self.reduce_sum(picked, &all)?;
        let positions: usize = ys.iter().product();
        self.scale(total, -1.0 / positions.max(1) as f64)
    }

    /// Layer norm over the last axis with biased variance: `(x - mean) / sqrt(var + eps) * scale
    /// + bias`, where `scale` and `bias` have the last axis' shape.
    pub fn layer_norm(
        &mut self,
        x: Tensor,
        scale: Tensor,
        bias: Tensor,
        eps: f64,
    ) -> Result<Tensor> {
        let xs = self.shape(x)?.to_vec();
        let axis = xs
            .len()
            .checked_sub(1)
            .ok_or_else(|| Error::ShapeMismatch {
                op: "layer_norm",
                shapes: vec![xs.clone()],
                reason: "needs rank >= 1".into(),
            })?;
        let n = xs[axis] as f64;
        let sum = self.sum_keep(x, axis)?;
        let mean = self.scale(sum, 1.0 / n)?;
        let centered = self.sub(x, mean)?;
        let sq = self.mul(centered, centered)?;
        let sq_sum = self.sum_keep(sq, axis)?;
        let var = self.scale(sq_sum, 1.0 / n)?;
        let var_eps = self.add_scalar(var, eps)?;
        let inv = self.rsqrt(var_eps)?;
        let normed = self.mul(centered, inv)?;
        let scaled = self.mul(normed, scale)?;
        self.add(scaled, bias)
    }

    /// GELU, tanh approximation: `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`.
    pub fn gelu_tanh(&mut self, x: Tensor) -> Result<Tensor> {
        let x2 = self.mul(x, x)?;
        let x3 = self.mul(x2, x)?;
        let cubic = self.scale(x3, 0.044715)?;
        let inner = self.add(x, cubic)?;
        let inner = self.scale(inner, (2.0 / std::f64::consts::PI).sqrt())?;
        let t = self.tanh(inner)?;
        let one_plus = self.add_scalar(t, 1.0)?;
        let half_x = self.scale(x, 0.5)?;
        self.mul(half_x, one_plus)
    }

    /// GELU, exact form (BERT's `gelu`): `0.5 x (1 + erf(x / sqrt(2)))`. StableHLO has no erf,
    /// so erf is Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), built from
    /// differentiable ops so the gradient comes with it.
    pub fn gelu_erf(&mut self, x: Tensor) -> Result<Tensor> {
        const P: f64 = 0.327_591_1;
        const A: [f64; 5] = [
            0.254_829_592,
            -0.284_496_736,
            1.421_413_741,
            -1.453_152_027,
            1.061_405_429,
        ];
        let z = self.scale(x, std::f64::consts::FRAC_1_SQRT_2)?;
        let sign = self.sign(z)?;
        let a = self.abs(z)?;
        let pa = self.scale(a, P)?;
        let denom = self.add_scalar(pa, 1.0)?;
        let one = self.scalar_like(x, 1.0)?;
        let t = self.div(one, denom)?;
        // Horner: ((((a5 t + a4) t + a3) t + a2) t + a1) t
        let mut poly = self.scale(t, A[4])?;
        for &c in A[..4].iter().rev() {
            let shifted = self.add_scalar(poly, c)?;
            poly = self.mul(shifted, t)?;
        }
        let a2 = self.mul(a, a)?;
        let neg = self.neg(a2)?;
        let gauss = self.exp(neg)?;
        let tail = self.mul(poly, gauss)?;
        let tail = self.neg(tail)?;
        let magnitude = self.add_scalar(tail, 1.0)?;
        let erf = self.mul(sign, magnitude)?;
        let one_plus = self.add_scalar(erf, 1.0)?;
        let half_x = self.scale(x, 0.5)?;
        self.mul(half_x, one_plus)
    }

    /// `scores[.., T_q, T_k]` with entries whose key position is after the query position
    /// replaced by `fill` (e.g. -1e9).
    pub fn causal_mask(&mut self, scores: Tensor, fill: f64) -> Result<Tensor> {
        let s = self.shape(scores)?.to_vec();
        let r = s.len();
        if r < 2 {
            return Err(Error::ShapeMismatch {
                op: "causal_mask",
                shapes: vec![s],
                reason: "needs [.., T_q, T_k]".into(),
            });
        }
        let square = [s[r - 2], s[r - 1]];
        let query = self.iota(&square, 0, DType::S32)?;
        let key = self.iota(&square, 1, DType::S32)?;
        let future = self.compare(CompareDir::Gt, key, query)?;
        let fill = self.scalar_like(scores, fill)?;
        self.select(future, fill, scores)
    }

    /// Uniform floats in [0, 1) from `u32` random bits: the top 24 bits times 2^-24.
    pub fn uniform_from_bits(&mut self, bits: Tensor, dtype: DType) -> Result<Tensor> {
        if self.dtype(bits)? != DType::U32 {
            return Err(Error::DTypeMismatch {
                op: "uniform_from_bits",
                dtypes: vec![self.dtype(bits)?],
                reason: "needs u32 bits".into(),
            });
        }
        let eight = self.scalar(8.0, DType::U32)?;
        let top = self.binary(super::types::BinaryOp::ShiftRightLogical, bits, eight)?;
        let f = self.convert(top, dtype)?;
        self.scale(f, 1.0 / (1u64 << 24) as f64)
    }
}
