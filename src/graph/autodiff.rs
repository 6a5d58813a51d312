//! Reverse-mode differentiation over the graph arena.
//!
//! [`grad`] walks the nodes from the loss back to the start (the arena is in topological order),
//! and asks [`vjp`] — the ONE place that holds a gradient rule per op — for the cotangent of each
//! operand. New nodes go into the same graph, so forward, backward and the optimizer update lower
//! into one program. Integer and boolean values (tokens, labels, masks) and `stop_gradient`
//! outputs are constants; parameters the loss does not reach get zeros.

use super::builder::Graph;
use super::remat::Recompute;
use super::types::{BinaryOp, CompareDir, DType, Op, ReduceKind, Tensor, UnaryOp};
use crate::{Error, Result};

/// Gradients of `loss` (summed, if it is not a scalar) with respect to each tensor in `wrt`.
pub fn grad(g: &mut Graph, loss: Tensor, wrt: &[Tensor]) -> Result<Vec<Tensor>> {
    let loss_node = g.node(loss)?;
    if !loss_node.dtype.is_float() {
        return Err(Error::Autodiff {
            reason: format!("loss must be a float tensor, got {}", loss_node.dtype),
        });
    }
    for &w in wrt {
        g.node(w)?;
    }
    let end = loss.index() + 1;
    // needs[i]: node i is a float value that depends on one of `wrt`.
    let mut needs = vec![false; end];
    for i in 0..end {
        let node = &g.nodes[i];
        let is_target = wrt.iter().any(|w| w.index() == i);
        let through = !matches!(node.op, Op::StopGradient(_))
            && node.op.operands().iter().any(|o| needs[o.index()]);
        needs[i] = node.dtype.is_float() && (is_target || through);
    }
    let mut grads: Vec<Option<Tensor>> = vec![None; end];
    let seed_shape = loss_node.shape.clone();
    grads[loss.index()] = Some(g.ones(&seed_shape, loss_node.dtype)?);
    let mut recompute = Recompute::new(g, end);
    for i in (0..end).rev() {
        if grads[i].is_none() || !needs[i] {
            continue;
        }
        // Inside a checkpointed block the rule runs on the block's recomputed copy (which
        // may also have replaced `grads[i]` by its barrier'd identity).
        let rule_node = recompute.node_for_rule(g, i, &needs, &mut grads)?;
        let Some(mut gy) = grads[i] else { continue };
        // A mixed-precision dot hands a bf16 operand an f32 cotangent; every rule but
        // `convert`'s (which casts to its input's type anyway) wants its output's own type.
        if !matches!(g.nodes[i].op, Op::Convert(_)) {
            gy = g.convert(gy, g.nodes[i].dtype)?;
        }
        let operands = g.nodes[i].op.operands();
        let want: Vec<bool> = operands.iter().map(|o| needs[o.index()]).collect();
        if !want.iter().any(|&w| w) {
            continue;
        }
        let cotangents = vjp(g, rule_node, gy, &want)?;
        for ((operand, ct), wanted) in operands.iter().zip(cotangents).zip(&want) {
            if let (Some(ct), true) = (ct, wanted) {
                let slot = &mut grads[operand.index()];
                *slot = Some(match *slot {
                    Some(prev) => add_widest(g, prev, ct)?,
                    None => ct,
                });
            }
        }
    }
    let mut out = Vec::with_capacity(wrt.len());
    for &w in wrt {
        let found = grads.get(w.index()).copied().flatten();
        let node = g.node(w)?;
        let (shape, dtype, name) = (node.shape.clone(), node.dtype, node.name.clone());
        let t = match found {
            Some(t) => g.convert(t, dtype)?,
            None => g.zeros(&shape, dtype)?,
        };
        if let Some(name) = name {
            g.set_name(t, format!("grad.{name}"))?;
        }
        out.push(t);
    }
    Ok(out)
}

/// `a + b` in the wider of their float types (cotangents of one node may differ in type under
/// a mixed-precision policy; the sum keeps the more precise one).
fn add_widest(g: &mut Graph, a: Tensor, b: Tensor) -> Result<Tensor> {
    let (da, db) = (g.dtype(a)?, g.dtype(b)?);
    let wide = if da.byte_size() >= db.byte_size() {
        da
    } else {
        db
    };
    let a = g.convert(a, wide)?;
    let b = g.convert(b, wide)?;
    g.add(a, b)
}

fn free_axes(rank: usize, batch: &[usize], contract: &[usize]) -> Vec<usize> {
    (0..rank)
        .filter(|a| !batch.contains(a) && !contract.contains(a))
        .collect()
}

/// Transposes `res`, whose axis `i` is axis `res_axes[i]` of the target, into target order.
fn to_target_order(g: &mut Graph, res: Tensor, res_axes: &[usize]) -> Result<Tensor> {
    let mut perm = vec![0; res_axes.len()];
    for (i, &a) in res_axes.iter().enumerate() {
        perm[a] = i;
    }
    g.transpose(res, &perm)
}

/// The gradient rules: cotangents of node `y`'s operands (in `Op::operands` order) given the
/// cotangent `gy` of its output. Entries whose `want` is false may be `None`.
fn vjp(g: &mut Graph, y: Tensor, gy: Tensor, want: &[bool]) -> Result<Vec<Option<Tensor>>> {
    let node = g.node(y)?.clone();
    let dtype = node.dtype;
    Ok(match node.op {
        Op::Parameter { .. }
        | Op::Constant(_)
        | Op::Iota { .. }
        | Op::Compare(..)
        | Op::StopGradient(_)
        | Op::RngBits { .. }
        | Op::RngNextState { .. }
        | Op::ReplicaId => vec![None; want.len()],
        // y_r = sum_s x_s, so dL/dx_r = sum_s dL/dy_s: the same all-reduce of the cotangents.
        Op::AllReduceSum { groups, .. } => vec![Some(g.all_reduce_sum(gy, &groups)?)],
        // Each result is the identity of its own input.
        Op::OptimizationBarrier { index, .. } => (0..want.len())
            .map(|k| (k == index).then_some(gy))
            .collect(),
        Op::Unary(op, x) => vec![Some(match op {
            UnaryOp::Neg => g.neg(gy)?,
            UnaryOp::Exp => g.mul(gy, y)?,
            UnaryOp::Log => g.div(gy, x)?,
            UnaryOp::Tanh => {
                let y2 = g.mul(y, y)?;
                let one = g.scalar(1.0, dtype)?;
                let d = g.sub(one, y2)?;
                g.mul(gy, d)?
            }
            UnaryOp::Sqrt => {
                let half = g.scale(gy, 0.5)?;
                g.div(half, y)?
            }
            UnaryOp::Rsqrt => {
                let y_over_x = g.div(y, x)?;
                let d = g.scale(y_over_x, -0.5)?;
                g.mul(gy, d)?
            }
            UnaryOp::Abs => {
                let s = g.sign(x)?;
                g.mul(gy, s)?
            }
            UnaryOp::Sign => return Ok(vec![None]),
            UnaryOp::Cosine => {
                let s = g.sine(x)?;
                let d = g.mul(gy, s)?;
                g.neg(d)?
            }
            UnaryOp::Sine => {
                let c = g.cosine(x)?;
                g.mul(gy, c)?
            }
        })],
        Op::Binary(op, a, b) => match op {
            BinaryOp::Add => vec![Some(gy), Some(gy)],
            BinaryOp::Sub => vec![Some(gy), Some(g.neg(gy)?)],
            BinaryOp::Mul => vec![
                if want[0] { Some(g.mul(gy, b)?) } else { None },
                if want[1] { Some(g.mul(gy, a)?) } else { None },
            ],
            BinaryOp::Div => vec![
                if want[0] { Some(g.div(gy, b)?) } else { None },
                if want[1] {
                    let gy_y = g.mul(gy, y)?;
                    let q = g.div(gy_y, b)?;
                    Some(g.neg(q)?)
                } else {
                    None
                },
            ],
            BinaryOp::Pow => {
                let da = if want[0] {
                    let bm1 = g.add_scalar(b, -1.0)?;
                    let p = g.pow(a, bm1)?;
                    let bp = g.mul(b, p)?;
                    Some(g.mul(gy, bp)?)
                } else {
                    None
                };
                let db = if want[1] {
                    // d/db a^b = a^b log a, taken as 0 where a <= 0 (as JAX does at a == 0).
                    let zero = g.scalar(0.0, dtype)?;
                    let positive = g.compare(CompareDir::Gt, a, zero)?;
                    let one = g.scalar(1.0, dtype)?;
                    let safe_a = g.select(positive, a, one)?;
                    let log_a = g.log(safe_a)?;
                    let log_a = g.select(positive, log_a, zero)?;
                    let d = g.mul(y, log_a)?;
                    Some(g.mul(gy, d)?)
                } else {
                    None
                };
                vec![da, db]
            }
            BinaryOp::Max | BinaryOp::Min => {
                // The winner takes the gradient; ties split it evenly (as JAX does).
                let dir = if op == BinaryOp::Max {
                    CompareDir::Gt
                } else {
                    CompareDir::Lt
                };
                let wins = g.compare(dir, a, b)?;
                let ties = g.compare(CompareDir::Eq, a, b)?;
                let wins = g.convert(wins, dtype)?;
                let ties = g.convert(ties, dtype)?;
                let half_ties = g.scale(ties, 0.5)?;
                let share_a = g.add(wins, half_ties)?;
                let ga = g.mul(gy, share_a)?;
                let gb = g.sub(gy, ga)?;
                vec![Some(ga), Some(gb)]
            }
            BinaryOp::ShiftRightLogical | BinaryOp::And | BinaryOp::Or => vec![None, None],
        },
        Op::Select { pred, .. } => {
            let zero = g.scalar(0.0, dtype)?;
            vec![
                None,
                Some(g.select(pred, gy, zero)?),
                Some(g.select(pred, zero, gy)?),
            ]
        }
        Op::Convert(x) => {
            let xd = g.dtype(x)?;
            vec![if xd.is_float() {
                Some(g.convert(gy, xd)?)
            } else {
                None
            }]
        }
        Op::BroadcastInDim { input, dims } => {
            let in_shape = g.shape(input)?.to_vec();
            let mut axes: Vec<usize> = (0..node.shape.len())
                .filter(|a| !dims.contains(a))
                .collect();
            for (i, &d) in dims.iter().enumerate() {
                if in_shape[i] == 1 && node.shape[d] != 1 {
                    axes.push(d);
                }
            }
            let s = g.reduce_sum(gy, &axes)?;
            vec![Some(g.reshape(s, &in_shape)?)]
        }
        Op::Reshape(x) => {
            let in_shape = g.shape(x)?.to_vec();
            vec![Some(g.reshape(gy, &in_shape)?)]
        }
        Op::Transpose { perm, .. } => {
            // y axis k is x axis perm[k], so x axis perm[k] is gy axis k.
            vec![Some(to_target_order(g, gy, &perm)?)]
        }
        Op::Slice {
            input,
            start,
            stride,
            ..
        } => {
            let in_shape = g.shape(input)?.to_vec();
            let zero = g.scalar(0.0, dtype)?;
            let mut high = Vec::with_capacity(in_shape.len());
            for i in 0..in_shape.len() {
                let used = match node.shape[i] {
                    0 => start[i],
                    n => start[i] + (n - 1) * stride[i] + 1,
                };
                high.push(in_shape[i] - used);
            }
            let interior: Vec<usize> = stride.iter().map(|s| s - 1).collect();
            vec![Some(g.pad(gy, zero, &start, &high, &interior)?)]
        }
        Op::Pad {
            input,
            low,
            interior,
            ..
        } => {
            let in_shape = g.shape(input)?.to_vec();
            let limit: Vec<usize> = (0..in_shape.len())
                .map(|i| {
                    low[i] + in_shape[i].saturating_sub(1) * (interior[i] + 1) + 1.min(in_shape[i])
                })
                .collect();
            let stride: Vec<usize> = interior.iter().map(|s| s + 1).collect();
            let gx = g.slice(gy, &low, &limit, &stride)?;
            let gv = if want[1] {
                let all: Vec<usize> = (0..in_shape.len()).collect();
                let total = g.reduce_sum(gy, &all)?;
                let inner = g.reduce_sum(gx, &all)?;
                Some(g.sub(total, inner)?)
            } else {
                None
            };
            vec![Some(gx), gv]
        }
        Op::Concatenate { inputs, axis } => {
            let mut offset = 0;
            let mut out = Vec::with_capacity(inputs.len());
            for (k, &x) in inputs.iter().enumerate() {
                let len = g.shape(x)?[axis];
                out.push(if want[k] {
                    Some(g.slice_axis(gy, axis, offset, len)?)
                } else {
                    None
                });
                offset += len;
            }
            out
        }
        Op::DotGeneral {
            lhs,
            rhs,
            lhs_batch,
            rhs_batch,
            lhs_contract,
            rhs_contract,
        } => {
            let (lr, rr) = (g.shape(lhs)?.len(), g.shape(rhs)?.len());
            let lf = free_axes(lr, &lhs_batch, &lhs_contract);
            let rf = free_axes(rr, &rhs_batch, &rhs_contract);
            let nb = lhs_batch.len();
            let g_batch: Vec<usize> = (0..nb).collect();
            let g_lfree: Vec<usize> = (nb..nb + lf.len()).collect();
            let g_rfree: Vec<usize> = (nb + lf.len()..nb + lf.len() + rf.len()).collect();
            // gy in the operands' type, so the backward dots follow the forward's precision
            // (under a mixed policy their results, the cotangents, are f32 accumulations).
            let gy = g.convert(gy, g.dtype(lhs)?)?;
            let dl = if want[0] {
                let res = g.dot_general(gy, rhs, &g_batch, &rhs_batch, &g_rfree, &rf)?;
                let mut rc_sorted = rhs_contract.clone();
                rc_sorted.sort_unstable();
                let mut axes: Vec<usize> = lhs_batch.iter().chain(&lf).copied().collect();
                for r in rc_sorted {
                    let pos = rhs_contract.iter().position(|&c| c == r).unwrap_or(0);
                    axes.push(lhs_contract[pos]);
                }
                Some(to_target_order(g, res, &axes)?)
            } else {
                None
            };
            let dr = if want[1] {
                let res = g.dot_general(gy, lhs, &g_batch, &lhs_batch, &g_lfree, &lf)?;
                let mut lc_sorted = lhs_contract.clone();
                lc_sorted.sort_unstable();
                let mut axes: Vec<usize> = rhs_batch.iter().chain(&rf).copied().collect();
                for l in lc_sorted {
                    let pos = lhs_contract.iter().position(|&c| c == l).unwrap_or(0);
                    axes.push(rhs_contract[pos]);
                }
                Some(to_target_order(g, res, &axes)?)
            } else {
                None
            };
            vec![dl, dr]
        }
        Op::Reduce { input, kind, axes } => {
            let in_shape = g.shape(input)?.to_vec();
            let kept: Vec<usize> = (0..in_shape.len()).filter(|a| !axes.contains(a)).collect();
            match kind {
                ReduceKind::Sum => vec![Some(g.broadcast_in_dim(gy, &in_shape, &kept)?)],
                ReduceKind::Max => {
                    // Every maximal element shares the gradient evenly (as JAX does).
                    let y_b = g.broadcast_in_dim(y, &in_shape, &kept)?;
                    let hit = g.compare(CompareDir::Eq, input, y_b)?;
                    let hit = g.convert(hit, dtype)?;
                    let count = g.reduce_sum(hit, &axes)?;
                    let share = g.div(gy, count)?;
                    let share_b = g.broadcast_in_dim(share, &in_shape, &kept)?;
                    vec![Some(g.mul(share_b, hit)?)]
                }
            }
        }
        Op::GatherRows { table, indices } => {
            let rows = g.shape(table)?[0];
            vec![Some(g.scatter_add_rows(indices, gy, rows)?), None]
        }
        Op::ScatterAddRows {
            indices, updates, ..
        } => {
            let upd_shape = g.shape(updates)?.to_vec();
            let picked = g.gather_rows(gy, indices)?;
            vec![None, Some(g.reshape(picked, &upd_shape)?)]
        }
        // The KV-cache write only appears in inference programs.
        Op::DynamicUpdateSlice { .. } => {
            return Err(Error::Lower {
                reason: "dynamic_update_slice has no gradient rule (it is for inference)".into(),
            })
        }
    })
}

/// Whether `dtype` can carry a gradient (re-exported for callers building optimizers).
pub fn is_differentiable(dtype: DType) -> bool {
    dtype.is_float()
}
