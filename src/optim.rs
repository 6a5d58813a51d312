//! Optimizers and learning-rate schedules, built into the train-step graph so that the whole
//! update runs on the device from the step counter.
//!
//! - AdamW follows optax exactly (`optax.adamw` / `optax.adam`): `m = b1 m + (1-b1) g`,
//!   `v = b2 v + (1-b2) g²`, bias correction with `t = step + 1`,
//!   `p -= lr * (m̂ / (sqrt(v̂) + eps) + wd * p)`, decay only where the mask is true (ndim >= 2).
//!   Slots: `exp_avg.<param>` and `exp_avg_sq.<param>` (PyTorch's names).
//! - SGD follows `optax.sgd(lr, momentum)` / PyTorch: `g += wd * p` (masked), then with momentum
//!   `buf = momentum * buf + g; p -= lr * buf`, else `p -= lr * g`. Slot: `momentum_buffer.<param>`
//!   (only when momentum > 0).
//! - Global-norm clipping follows `optax.clip_by_global_norm`: when `norm >= max`,
//!   `g = g / norm * max`.
//! - Schedules follow Hugging Face's `get_scheduler` with `step` = optimizer steps already done:
//!   `constant` (warm-up ignored), `constant_with_warmup`, `linear` and `cosine` (one half wave
//!   down to 0 at `total_steps`), each with linear warm-up `step / warmup` first.

use crate::config::{LrSchedulerType, OptimizerKind, TrainingArgs};
use crate::graph::{CompareDir, DType, Graph, Tensor};
use crate::Result;

/// A learning-rate schedule over `total_steps` optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub kind: LrSchedulerType,
    pub base_lr: f64,
    pub warmup_steps: u64,
    pub total_steps: u64,
}

impl Schedule {
    /// The learning rate of the update made when `step` updates are already done (host formula,
    /// f64; the device computes the same in f32).
    pub fn lr_at(&self, step: u64) -> f64 {
        let (s, w, total) = (
            step as f64,
            self.warmup_steps as f64,
            self.total_steps as f64,
        );
        let factor = match self.kind {
            LrSchedulerType::Constant => 1.0,
            _ if step < self.warmup_steps => s / w.max(1.0),
            LrSchedulerType::ConstantWithWarmup => 1.0,
            LrSchedulerType::Linear => ((total - s) / (total - w).max(1.0)).max(0.0),
            LrSchedulerType::Cosine => {
                let progress = (s - w) / (total - w).max(1.0);
                (0.5 * (1.0 + (std::f64::consts::PI * progress).cos())).max(0.0)
            }
        };
        self.base_lr * factor
    }

    /// The learning rate as an f32 scalar node computed from the `step` counter (S32 scalar).
    pub fn build(&self, g: &mut Graph, step: Tensor) -> Result<Tensor> {
        let s = g.convert(step, DType::F32)?;
        let (w, total) = (self.warmup_steps as f64, self.total_steps as f64);
        let one = g.scalar(1.0, DType::F32)?;
        let decay = match self.kind {
            LrSchedulerType::Constant => return g.scalar(self.base_lr, DType::F32),
            LrSchedulerType::ConstantWithWarmup => one,
            LrSchedulerType::Linear => {
                let remaining = g.neg(s)?;
                let remaining = g.add_scalar(remaining, total)?;
                let f = g.scale(remaining, 1.0 / (total - w).max(1.0))?;
                let zero = g.scalar(0.0, DType::F32)?;
                g.max(f, zero)?
            }
            LrSchedulerType::Cosine => {
                let since = g.add_scalar(s, -w)?;
                let progress = g.scale(since, 1.0 / (total - w).max(1.0))?;
                let angle = g.scale(progress, std::f64::consts::PI)?;
                let c = g.cosine(angle)?;
                let c = g.add_scalar(c, 1.0)?;
                let f = g.scale(c, 0.5)?;
                let zero = g.scalar(0.0, DType::F32)?;
                g.max(f, zero)?
            }
        };
        let factor = if self.warmup_steps > 0 {
            let warm = g.scale(s, 1.0 / w)?;
            let wt = g.scalar(w, DType::F32)?;
            let warming = g.compare(CompareDir::Lt, s, wt)?;
            g.select(warming, warm, decay)?
        } else {
            decay
        };
        g.scale(factor, self.base_lr)
    }
}

/// Everything the update needs besides the tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizerSpec {
    pub kind: OptimizerKind,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    /// Clip to this global norm; `None` = no clipping.
    pub max_grad_norm: Option<f64>,
    pub schedule: Schedule,
}

impl OptimizerSpec {
    /// The optimizer of a run; `total_steps` is the number of optimizer steps (for decays).
    pub fn from_args(args: &TrainingArgs, total_steps: u64) -> OptimizerSpec {
        OptimizerSpec {
            kind: args.optimizer,
            beta1: args.adam_beta1,
            beta2: args.adam_beta2,
            epsilon: args.adam_epsilon,
            weight_decay: args.weight_decay,
            momentum: args.momentum,
            max_grad_norm: args.grad_clip_norm(),
            schedule: Schedule {
                kind: args.lr_scheduler_type,
                base_lr: args.learning_rate,
                warmup_steps: args.warmup_steps,
                total_steps,
            },
        }
    }

    /// Prefixes of the optimizer slots kept per parameter, in state order.
    pub fn slot_prefixes(&self) -> &'static [&'static str] {
        slot_prefixes(self.kind, self.momentum)
    }
}

/// Prefixes of the per-parameter slots of optimizer `kind` (with `momentum` for SGD).
pub fn slot_prefixes(kind: OptimizerKind, momentum: f64) -> &'static [&'static str] {
    match kind {
        OptimizerKind::AdamW => &["exp_avg", "exp_avg_sq"],
        OptimizerKind::Sgd if momentum > 0.0 => &["momentum_buffer"],
        OptimizerKind::Sgd => &[],
    }
}

/// Weight decay applies to parameters with two or more axes (weights and embeddings), not to
/// biases and layer-norm vectors.
pub fn decays(shape: &[usize]) -> bool {
    shape.len() >= 2
}

/// The result of [`apply`]: new parameters, new slots (slot-major: all of the first prefix,
/// then all of the second), the pre-clip global gradient norm and the learning rate.
pub struct Update {
    pub params: Vec<Tensor>,
    pub slots: Vec<Tensor>,
    pub grad_norm: Tensor,
    pub lr: Tensor,
}

/// Builds one optimizer update. `slots` are laid out as [`Update::slots`]; `step` is the S32
/// count of updates already done.
pub fn apply(
    g: &mut Graph,
    spec: &OptimizerSpec,
    params: &[Tensor],
    grads: &[Tensor],
    slots: &[Tensor],
    step: Tensor,
) -> Result<Update> {
    let n = params.len();
    let mut squares = Vec::with_capacity(n);
    for &gr in grads {
        let sq = g.square(gr)?;
        squares.push(g.sum_all(sq)?);
    }
    let mut total = squares[0];
    for &s in &squares[1..] {
        total = g.add(total, s)?;
    }
    let grad_norm = g.sqrt(total)?;
    let mut grads = grads.to_vec();
    if let Some(max) = spec.max_grad_norm {
        let limit = g.scalar(max, DType::F32)?;
        let within = g.compare(CompareDir::Lt, grad_norm, limit)?;
        for gr in &mut grads {
            let scaled = g.div(*gr, grad_norm)?;
            let scaled = g.scale(scaled, max)?;
            *gr = g.select(within, *gr, scaled)?;
        }
    }
    let lr = spec.schedule.build(g, step)?;
    let mut new_params = Vec::with_capacity(n);
    let mut new_slots = slots.to_vec();
    match spec.kind {
        OptimizerKind::AdamW => {
            let one = g.scalar(1.0, DType::S32)?;
            let t = g.add(step, one)?;
            let t = g.convert(t, DType::F32)?;
            let b1 = g.scalar(spec.beta1, DType::F32)?;
            let b2 = g.scalar(spec.beta2, DType::F32)?;
            let b1t = g.pow(b1, t)?;
            let b2t = g.pow(b2, t)?;
            let one_f = g.scalar(1.0, DType::F32)?;
            let c1 = g.sub(one_f, b1t)?;
            let c2 = g.sub(one_f, b2t)?;
            for i in 0..n {
                let (p, gr, m, v) = (params[i], grads[i], slots[i], slots[n + i]);
                let m_old = g.scale(m, spec.beta1)?;
                let m_new = g.scale(gr, 1.0 - spec.beta1)?;
                let m_new = g.add(m_old, m_new)?;
                let v_old = g.scale(v, spec.beta2)?;
                let g2 = g.square(gr)?;
                let v_new = g.scale(g2, 1.0 - spec.beta2)?;
                let v_new = g.add(v_old, v_new)?;
                let m_hat = g.div(m_new, c1)?;
                let v_hat = g.div(v_new, c2)?;
                let denom = g.sqrt(v_hat)?;
                let denom = g.add_scalar(denom, spec.epsilon)?;
                let mut update = g.div(m_hat, denom)?;
                if spec.weight_decay != 0.0 && decays(g.shape(p)?) {
                    let wd = g.scale(p, spec.weight_decay)?;
                    update = g.add(update, wd)?;
                }
                let delta = g.mul(update, lr)?;
                new_params.push(g.sub(p, delta)?);
                new_slots[i] = m_new;
                new_slots[n + i] = v_new;
            }
        }
        OptimizerKind::Sgd => {
            for i in 0..n {
                let p = params[i];
                let mut gr = grads[i];
                if spec.weight_decay != 0.0 && decays(g.shape(p)?) {
                    let wd = g.scale(p, spec.weight_decay)?;
                    gr = g.add(gr, wd)?;
                }
                if spec.momentum > 0.0 {
                    let old = g.scale(slots[i], spec.momentum)?;
                    gr = g.add(old, gr)?;
                    new_slots[i] = gr;
                }
                let delta = g.mul(gr, lr)?;
                new_params.push(g.sub(p, delta)?);
            }
        }
    }
    Ok(Update {
        params: new_params,
        slots: new_slots,
        grad_norm,
        lr,
    })
}
