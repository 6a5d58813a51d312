//! Builders for ops that move or combine elements: broadcast_in_dim, reshape, transpose, slice,
//! pad, concatenate, dot_general, reduce, row gather/scatter-add, rng_bit_generator and
//! dynamic_update_slice.

use super::builder::{numel, Graph};
use super::types::{DType, Op, ReduceKind, Tensor};
use crate::{Error, Result};

fn invalid(op: &'static str, shape: &[usize], reason: String) -> Error {
    Error::InvalidOpArgument {
        op,
        shape: shape.to_vec(),
        reason,
    }
}

/// Checks that `axes` are distinct and below `rank`.
fn check_axes(op: &'static str, shape: &[usize], axes: &[usize]) -> Result<()> {
    let mut seen = vec![false; shape.len()];
    for &a in axes {
        if a >= shape.len() || seen[a] {
            return Err(invalid(
                op,
                shape,
                format!("axes {axes:?} out of range or repeated"),
            ));
        }
        seen[a] = true;
    }
    Ok(())
}

impl Graph {
    /// Maps input axis `i` to output axis `dims[i]` (strictly increasing); input sizes must equal
    /// the output size or be 1.
    pub fn broadcast_in_dim(
        &mut self,
        x: Tensor,
        shape: &[usize],
        dims: &[usize],
    ) -> Result<Tensor> {
        let xs = self.shape(x)?.to_vec();
        let bad = |reason: String| Error::ShapeMismatch {
            op: "broadcast_in_dim",
            shapes: vec![xs.clone(), shape.to_vec()],
            reason,
        };
        if dims.len() != xs.len() {
            return Err(bad(format!(
                "dims {dims:?} must have one entry per input axis"
            )));
        }
        if dims.windows(2).any(|w| w[0] >= w[1]) || dims.iter().any(|&d| d >= shape.len()) {
            return Err(bad(format!(
                "dims {dims:?} must be increasing and in range"
            )));
        }
        for (i, &d) in dims.iter().enumerate() {
            if xs[i] != 1 && xs[i] != shape[d] {
                return Err(bad(format!(
                    "input axis {i} (size {}) vs output axis {d}",
                    xs[i]
                )));
            }
        }
        if xs == shape {
            return Ok(x);
        }
        let dtype = self.dtype(x)?;
        // A broadcast splat constant is just a bigger splat constant (shorter programs).
        if let Op::Constant(literal) = &self.node(x)?.op {
            if literal.len() == 1 {
                let literal = literal.clone();
                return Ok(self.push(Op::Constant(literal), shape.to_vec(), dtype));
            }
        }
        Ok(self.push(
            Op::BroadcastInDim {
                input: x,
                dims: dims.to_vec(),
            },
            shape.to_vec(),
            dtype,
        ))
    }

    /// Same elements in row-major order, new shape.
    pub fn reshape(&mut self, x: Tensor, shape: &[usize]) -> Result<Tensor> {
        let n = self.node(x)?;
        if numel(&n.shape) != numel(shape) {
            return Err(Error::ShapeMismatch {
                op: "reshape",
                shapes: vec![n.shape.clone(), shape.to_vec()],
                reason: "element counts differ".into(),
            });
        }
        if n.shape == shape {
            return Ok(x);
        }
        let dtype = n.dtype;
        Ok(self.push(Op::Reshape(x), shape.to_vec(), dtype))
    }

    /// Output axis `k` is input axis `perm[k]`.
    pub fn transpose(&mut self, x: Tensor, perm: &[usize]) -> Result<Tensor> {
        let n = self.node(x)?;
        if perm.len() != n.shape.len() {
            return Err(invalid(
                "transpose",
                &n.shape,
                format!("permutation {perm:?} has wrong length"),
            ));
        }
        check_axes("transpose", &n.shape, perm)?;
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(x);
        }
        let shape = perm.iter().map(|&p| n.shape[p]).collect();
        let dtype = n.dtype;
        Ok(self.push(
            Op::Transpose {
                input: x,
                perm: perm.to_vec(),
            },
            shape,
            dtype,
        ))
    }

    /// Elements `start[i] .. limit[i]` step `stride[i]` along each axis.
    pub fn slice(
        &mut self,
        x: Tensor,
        start: &[usize],
        limit: &[usize],
        stride: &[usize],
    ) -> Result<Tensor> {
        let n = self.node(x)?;
        let r = n.shape.len();
        if start.len() != r || limit.len() != r || stride.len() != r {
            return Err(invalid(
                "slice",
                &n.shape,
                "start/limit/stride need one entry per axis".into(),
            ));
        }
        let mut shape = Vec::with_capacity(r);
        for i in 0..r {
            if start[i] > limit[i] || limit[i] > n.shape[i] || stride[i] == 0 {
                return Err(invalid(
                    "slice",
                    &n.shape,
                    format!(
                        "axis {i}: {}:{}:{} out of range",
                        start[i], limit[i], stride[i]
                    ),
                ));
            }
            shape.push((limit[i] - start[i]).div_ceil(stride[i]));
        }
        let dtype = n.dtype;
        Ok(self.push(
            Op::Slice {
                input: x,
                start: start.to_vec(),
                limit: limit.to_vec(),
                stride: stride.to_vec(),
            },
            shape,
            dtype,
        ))
    }

    /// `x[.., start..start+len, ..]` along one axis (unit stride).
    pub fn slice_axis(
        &mut self,
        x: Tensor,
        axis: usize,
        start: usize,
        len: usize,
    ) -> Result<Tensor> {
        let shape = self.shape(x)?.to_vec();
        if axis >= shape.len() {
            return Err(invalid(
                "slice",
                &shape,
                format!("axis {axis} out of range"),
            ));
        }
        let begin: Vec<usize> = (0..shape.len())
            .map(|i| if i == axis { start } else { 0 })
            .collect();
        let mut limit = shape.clone();
        limit[axis] = start + len;
        self.slice(x, &begin, &limit, &vec![1; shape.len()])
    }

    /// Pads with the scalar `value`: `low`/`high` elements at each end, `interior` between elements.
    pub fn pad(
        &mut self,
        x: Tensor,
        value: Tensor,
        low: &[usize],
        high: &[usize],
        interior: &[usize],
    ) -> Result<Tensor> {
        let (n, v) = (self.node(x)?, self.node(value)?);
        let r = n.shape.len();
        if low.len() != r || high.len() != r || interior.len() != r {
            return Err(invalid(
                "pad",
                &n.shape,
                "low/high/interior need one entry per axis".into(),
            ));
        }
        if !v.shape.is_empty() || v.dtype != n.dtype {
            return Err(Error::ShapeMismatch {
                op: "pad",
                shapes: vec![n.shape.clone(), v.shape.clone()],
                reason: "padding value must be a scalar of the operand's type".into(),
            });
        }
        let shape = (0..r)
            .map(|i| low[i] + high[i] + n.shape[i] + n.shape[i].saturating_sub(1) * interior[i])
            .collect();
        let dtype = n.dtype;
        Ok(self.push(
            Op::Pad {
                input: x,
                value,
                low: low.to_vec(),
                high: high.to_vec(),
                interior: interior.to_vec(),
            },
            shape,
            dtype,
        ))
    }

    /// Joins tensors along `axis`; other axes must agree.
    pub fn concatenate(&mut self, inputs: &[Tensor], axis: usize) -> Result<Tensor> {
        let shapes: Vec<Vec<usize>> = inputs
            .iter()
            .map(|&t| self.shape(t).map(|s| s.to_vec()))
            .collect::<Result<_>>()?;
        let dtypes: Vec<DType> = inputs
            .iter()
            .map(|&t| self.dtype(t))
            .collect::<Result<_>>()?;
        let bad = |reason: &str| Error::ShapeMismatch {
            op: "concatenate",
            shapes: shapes.clone(),
            reason: reason.to_string(),
        };
        let first = shapes
            .first()
            .ok_or_else(|| bad("needs at least one input"))?;
        if axis >= first.len() {
            return Err(bad("axis out of range"));
        }
        if dtypes.iter().any(|&d| d != dtypes[0]) {
            return Err(Error::DTypeMismatch {
                op: "concatenate",
                dtypes,
                reason: "inputs must share an element type".into(),
            });
        }
        let mut shape = first.clone();
        shape[axis] = 0;
        for s in &shapes {
            let same_rest =
                s.len() == first.len() && (0..s.len()).all(|i| i == axis || s[i] == first[i]);
            if !same_rest {
                return Err(bad("all axes other than the concatenated one must agree"));
            }
            shape[axis] += s[axis];
        }
        if inputs.len() == 1 {
            return Ok(inputs[0]);
        }
        Ok(self.push(
            Op::Concatenate {
                inputs: inputs.to_vec(),
                axis,
            },
            shape,
            dtypes[0],
        ))
    }

    /// General contraction. The output axes are the batch axes, then the remaining lhs axes,
    /// then the remaining rhs axes (each in ascending order).
    pub fn dot_general(
        &mut self,
        lhs: Tensor,
        rhs: Tensor,
        lhs_batch: &[usize],
        rhs_batch: &[usize],
        lhs_contract: &[usize],
        rhs_contract: &[usize],
    ) -> Result<Tensor> {
        let (lhs, rhs, widen_to) = self.matmul_policy(lhs, rhs)?;
        let (nl, nr) = (self.node(lhs)?, self.node(rhs)?);
        let (ls, rs) = (nl.shape.clone(), nr.shape.clone());
        let bad = |reason: String| Error::ShapeMismatch {
            op: "dot_general",
            shapes: vec![ls.clone(), rs.clone()],
            reason,
        };
        if nl.dtype != nr.dtype || !nl.dtype.is_float() {
            return Err(Error::DTypeMismatch {
                op: "dot_general",
                dtypes: vec![nl.dtype, nr.dtype],
                reason: "operands must share one float type".into(),
            });
        }
        let dtype = nl.dtype;
        if lhs_batch.len() != rhs_batch.len() || lhs_contract.len() != rhs_contract.len() {
            return Err(bad(
                "batch/contracting dimension lists differ in length".into()
            ));
        }
        let lhs_used: Vec<usize> = lhs_batch.iter().chain(lhs_contract).copied().collect();
        let rhs_used: Vec<usize> = rhs_batch.iter().chain(rhs_contract).copied().collect();
        check_axes("dot_general", &ls, &lhs_used)?;
        check_axes("dot_general", &rs, &rhs_used)?;
        for (&l, &r) in lhs_used.iter().zip(&rhs_used) {
            if ls[l] != rs[r] {
                return Err(bad(format!(
                    "lhs axis {l} (size {}) vs rhs axis {r} (size {})",
                    ls[l], rs[r]
                )));
            }
        }
        let mut shape: Vec<usize> = lhs_batch.iter().map(|&a| ls[a]).collect();
        shape.extend(
            (0..ls.len())
                .filter(|a| !lhs_used.contains(a))
                .map(|a| ls[a]),
        );
        shape.extend(
            (0..rs.len())
                .filter(|a| !rhs_used.contains(a))
                .map(|a| rs[a]),
        );
        let dot = self.push(
            Op::DotGeneral {
                lhs,
                rhs,
                lhs_batch: lhs_batch.to_vec(),
                rhs_batch: rhs_batch.to_vec(),
                lhs_contract: lhs_contract.to_vec(),
                rhs_contract: rhs_contract.to_vec(),
            },
            shape,
            dtype,
        );
        match widen_to {
            Some(wide) => self.convert(dot, wide),
            None => Ok(dot),
        }
    }

    /// The operands a `dot_general` is built from under the graph's [`super::Precision`], and
    /// the type its result is widened to: under bf16, f32 operands are rounded to bf16, the dot
    /// is bf16 x bf16 -> bf16 (GPUs and TPUs accumulate it in f32 inside the dot) and its result
    /// is converted back to f32 for what follows. Not a mixed `bf16 x bf16 -> f32` dot: XLA's
    /// CPU backend refuses that (`Unsupported element type for DotThunk::Execute: BF16 x BF16 =
    /// F32`), and one program for every device keeps the compile cache and the tests honest.
    fn matmul_policy(
        &mut self,
        lhs: Tensor,
        rhs: Tensor,
    ) -> Result<(Tensor, Tensor, Option<DType>)> {
        let narrow = |d: DType| matches!(d, DType::F32 | DType::BF16);
        let (dl, dr) = (self.dtype(lhs)?, self.dtype(rhs)?);
        match self.precision().matmul_operand_dtype() {
            Some(low) if narrow(dl) && narrow(dr) && (dl, dr) != (low, low) => {
                let lhs = self.convert(lhs, low)?;
                let rhs = self.convert(rhs, low)?;
                Ok((lhs, rhs, Some(DType::F32)))
            }
            _ => Ok((lhs, rhs, None)),
        }
    }

    /// Reduces `axes` away (sum or max). An empty axis list returns `x`.
    pub fn reduce(&mut self, x: Tensor, kind: ReduceKind, axes: &[usize]) -> Result<Tensor> {
        let n = self.node(x)?;
        check_axes("reduce", &n.shape, axes)?;
        if n.dtype == DType::Pred {
            return Err(Error::DTypeMismatch {
                op: "reduce",
                dtypes: vec![n.dtype],
                reason: "needs numbers".into(),
            });
        }
        if axes.is_empty() {
            return Ok(x);
        }
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        let shape = (0..n.shape.len())
            .filter(|a| !axes.contains(a))
            .map(|a| n.shape[a])
            .collect();
        let dtype = n.dtype;
        Ok(self.push(
            Op::Reduce {
                input: x,
                kind,
                axes,
            },
            shape,
            dtype,
        ))
    }

    pub fn reduce_sum(&mut self, x: Tensor, axes: &[usize]) -> Result<Tensor> {
        self.reduce(x, ReduceKind::Sum, axes)
    }

    pub fn reduce_max(&mut self, x: Tensor, axes: &[usize]) -> Result<Tensor> {
        self.reduce(x, ReduceKind::Max, axes)
    }

    /// Rows of `table[V, D]` picked by integer `indices` of any shape: output `[..indices, D]`.
    ///
    /// Lowered to `stablehlo.gather`, and its gradient to a `stablehlo.scatter` with an add
    /// combiner (repeated indices accumulate). Chosen over a one-hot `dot_general` because it is
    /// O(N·D) work and memory instead of O(N·V·D). Out-of-range indices follow StableHLO: the
    /// gather clamps them to the last row, the scatter drops their updates.
    pub fn gather_rows(&mut self, table: Tensor, indices: Tensor) -> Result<Tensor> {
        let (nt, ni) = (self.node(table)?, self.node(indices)?);
        if nt.shape.len() != 2 {
            return Err(Error::ShapeMismatch {
                op: "gather",
                shapes: vec![nt.shape.clone(), ni.shape.clone()],
                reason: "table must be [rows, width]".into(),
            });
        }
        if !ni.dtype.is_integer() {
            return Err(Error::DTypeMismatch {
                op: "gather",
                dtypes: vec![nt.dtype, ni.dtype],
                reason: "indices must be integers".into(),
            });
        }
        let width = nt.shape[1];
        let (tdtype, ishape) = (nt.dtype, ni.shape.clone());
        let count = numel(&ishape);
        let flat = self.reshape(indices, &[count, 1])?;
        let rows = self.push(
            Op::GatherRows {
                table,
                indices: flat,
            },
            vec![count, width],
            tdtype,
        );
        let mut out_shape = ishape;
        out_shape.push(width);
        self.reshape(rows, &out_shape)
    }

    /// Zeros `[rows, D]` plus each row of `updates[N, D]` added at `indices[N, 1]`.
    pub fn scatter_add_rows(
        &mut self,
        indices: Tensor,
        updates: Tensor,
        rows: usize,
    ) -> Result<Tensor> {
        let (ni, nu) = (self.node(indices)?, self.node(updates)?);
        if ni.shape.len() != 2
            || ni.shape[1] != 1
            || nu.shape.len() != 2
            || nu.shape[0] != ni.shape[0]
        {
            return Err(Error::ShapeMismatch {
                op: "scatter",
                shapes: vec![ni.shape.clone(), nu.shape.clone()],
                reason: "needs indices [N, 1] and updates [N, D]".into(),
            });
        }
        if !ni.dtype.is_integer() || !nu.dtype.is_float() {
            return Err(Error::DTypeMismatch {
                op: "scatter",
                dtypes: vec![ni.dtype, nu.dtype],
                reason: "needs integer indices and float updates".into(),
            });
        }
        let (shape, dtype) = (vec![rows, nu.shape[1]], nu.dtype);
        Ok(self.push(
            Op::ScatterAddRows {
                indices,
                updates,
                rows,
            },
            shape,
            dtype,
        ))
    }

    /// THREE_FRY random bits from a `u64[2]` state: returns `(next_state, bits)`, where `bits`
    /// has `shape` and dtype U32 or U64. Thread `next_state` into the next call.
    pub fn rng_bit_generator(
        &mut self,
        state: Tensor,
        shape: &[usize],
        dtype: DType,
    ) -> Result<(Tensor, Tensor)> {
        let n = self.node(state)?;
        if n.shape != [2] || n.dtype != DType::U64 {
            return Err(Error::ShapeMismatch {
                op: "rng_bit_generator",
                shapes: vec![n.shape.clone()],
                reason: format!("state must be u64[2], got {}{:?}", n.dtype, n.shape),
            });
        }
        if !matches!(dtype, DType::U32 | DType::U64) {
            return Err(Error::DTypeMismatch {
                op: "rng_bit_generator",
                dtypes: vec![dtype],
                reason: "bits must be u32 or u64".into(),
            });
        }
        let bits = self.push(Op::RngBits { state }, shape.to_vec(), dtype);
        let next = self.push(Op::RngNextState { rng: bits }, vec![2], DType::U64);
        Ok((next, bits))
    }

    /// `operand` with `update` (same rank, no larger) written at run-time offsets `starts`, one
    /// `s32` scalar per axis; StableHLO clamps the offsets so the update stays in bounds.
    pub fn dynamic_update_slice(
        &mut self,
        operand: Tensor,
        update: Tensor,
        starts: &[Tensor],
    ) -> Result<Tensor> {
        let (no, nu) = (self.node(operand)?, self.node(update)?);
        let (shape, dtype) = (no.shape.clone(), no.dtype);
        let fits = nu.shape.len() == shape.len()
            && nu.shape.iter().zip(&shape).all(|(u, o)| u <= o)
            && starts.len() == shape.len();
        if !fits || nu.dtype != dtype {
            return Err(Error::ShapeMismatch {
                op: "dynamic_update_slice",
                shapes: vec![shape, nu.shape.clone()],
                reason: format!(
                    "the update must have the operand's rank, dtype and no larger axes, with one \
                     start index per axis ({} given)",
                    starts.len()
                ),
            });
        }
        for &s in starts {
            let n = self.node(s)?;
            if !n.shape.is_empty() || n.dtype != DType::S32 {
                return Err(Error::DTypeMismatch {
                    op: "dynamic_update_slice",
                    dtypes: vec![n.dtype],
                    reason: "start indices must be s32 scalars".into(),
                });
            }
        }
        Ok(self.push(
            Op::DynamicUpdateSlice {
                operand,
                update,
                starts: starts.to_vec(),
            },
            shape,
            dtype,
        ))
    }
}
