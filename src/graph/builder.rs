//! The graph arena and its elementwise builders: parameters, constants, iota, unary/binary ops
//! with numpy-style broadcasting, compare, select and convert.
//!
//! Every builder checks shapes and dtypes when the node is made and returns a named error, so a
//! mistake in a model shows up at the line that built the bad node, not as a plugin parse error.

use std::sync::atomic::{AtomicU32, Ordering};

use super::precision::Precision;
use super::types::{BinaryOp, CompareDir, DType, Literal, Node, Op, Tensor, UnaryOp};
use crate::{Error, Result};

/// An arena of nodes in topological order (operands are always earlier nodes). A clone is an
/// independent copy whose handles stay valid for both.
#[derive(Clone, Debug)]
pub struct Graph {
    id: u32,
    pub(crate) nodes: Vec<Node>,
    pub(crate) params: Vec<Tensor>,
    /// The compute-dtype policy `dot_general` applies (see [`Precision`]).
    precision: Precision,
    /// Whether [`Graph::checkpoint_block`] records blocks for recomputation (see `remat.rs`).
    pub(crate) gradient_checkpointing: bool,
    /// The recorded blocks: node ranges `start..end`, in order, not overlapping.
    pub(crate) checkpoint_blocks: Vec<std::ops::Range<usize>>,
}

impl Default for Graph {
    fn default() -> Self {
        static NEXT_ID: AtomicU32 = AtomicU32::new(1);
        Graph {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            nodes: Vec::new(),
            params: Vec::new(),
            precision: Precision::F32,
            gradient_checkpointing: false,
            checkpoint_blocks: Vec::new(),
        }
    }
}

pub(crate) fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the compute-dtype policy for the matmuls built from now on (forward and, through
    /// [`super::grad`] on this graph, backward).
    pub fn set_precision(&mut self, precision: Precision) {
        self.precision = precision;
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The parameters (arguments of `main`) in creation order.
    pub fn parameters(&self) -> &[Tensor] {
        &self.params
    }

    /// The node behind a handle.
    pub fn node(&self, t: Tensor) -> Result<&Node> {
        match self.nodes.get(t.index()) {
            Some(node) if t.graph == self.id => Ok(node),
            _ => Err(Error::ForeignTensor {
                index: t.index,
                len: self.nodes.len(),
            }),
        }
    }

    /// The handle of node `index` (nodes are numbered in creation order).
    pub(crate) fn handle(&self, index: usize) -> Tensor {
        Tensor {
            graph: self.id,
            index: index as u32,
        }
    }

    pub fn shape(&self, t: Tensor) -> Result<&[usize]> {
        Ok(&self.node(t)?.shape)
    }

    pub fn dtype(&self, t: Tensor) -> Result<DType> {
        Ok(self.node(t)?.dtype)
    }

    /// The name a parameter was created with (None for other nodes).
    pub fn parameter_name(&self, t: Tensor) -> Result<Option<&str>> {
        Ok(match &self.node(t)?.op {
            Op::Parameter { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }

    /// Gives a node a readable name for the printed program (e.g. `logits`). Names are made
    /// unique and legal at lowering time.
    pub fn set_name(&mut self, t: Tensor, name: impl Into<String>) -> Result<Tensor> {
        self.node(t)?;
        self.nodes[t.index()].name = Some(name.into());
        Ok(t)
    }

    pub(crate) fn push(&mut self, op: Op, shape: Vec<usize>, dtype: DType) -> Tensor {
        let id = self.handle(self.nodes.len());
        self.nodes.push(Node {
            op,
            shape,
            dtype,
            name: None,
        });
        id
    }

    /// A new argument of `main`; arguments are numbered in creation order.
    pub fn parameter(&mut self, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let index = self.params.len();
        let t = self.push(
            Op::Parameter {
                index,
                name: name.to_string(),
            },
            shape.to_vec(),
            dtype,
        );
        self.nodes[t.index()].name = Some(name.to_string());
        self.params.push(t);
        Ok(t)
    }

    /// A constant from a literal: either one value (splat) or one value per element.
    pub fn constant(&mut self, literal: Literal, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let fits = matches!(
            (&literal, dtype),
            (Literal::Float(_), DType::BF16 | DType::F32 | DType::F64)
                | (Literal::Int(_), DType::S32)
                | (Literal::UInt(_), DType::U32 | DType::U64)
                | (Literal::Pred(_), DType::Pred)
        );
        if !fits {
            return Err(Error::DTypeMismatch {
                op: "constant",
                dtypes: vec![dtype],
                reason: format!("literal {literal:?} does not fit the element type"),
            });
        }
        let n = literal.len();
        if n != 1 && n != numel(shape) {
            return Err(Error::ShapeMismatch {
                op: "constant",
                shapes: vec![shape.to_vec()],
                reason: format!("{n} values for {} elements", numel(shape)),
            });
        }
        Ok(self.push(Op::Constant(literal), shape.to_vec(), dtype))
    }

    /// A float constant filled with `value` (any float dtype).
    pub fn full(&mut self, value: f64, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let literal = match dtype {
            d if d.is_float() => Literal::Float(vec![value]),
            DType::S32 => Literal::Int(vec![value as i64]),
            DType::U32 | DType::U64 => Literal::UInt(vec![value as u64]),
            _ => Literal::Pred(vec![value != 0.0]),
        };
        self.constant(literal, shape, dtype)
    }

    /// A rank-0 constant.
    pub fn scalar(&mut self, value: f64, dtype: DType) -> Result<Tensor> {
        self.full(value, &[], dtype)
    }

    pub fn zeros(&mut self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.full(0.0, shape, dtype)
    }

    pub fn ones(&mut self, shape: &[usize], dtype: DType) -> Result<Tensor> {
        self.full(1.0, shape, dtype)
    }

    /// A float tensor constant with one value per element, row-major.
    pub fn constant_f64(
        &mut self,
        values: &[f64],
        shape: &[usize],
        dtype: DType,
    ) -> Result<Tensor> {
        self.constant(Literal::Float(values.to_vec()), shape, dtype)
    }

    /// 0, 1, 2, ... along axis `dim`, constant along the others.
    pub fn iota(&mut self, shape: &[usize], dim: usize, dtype: DType) -> Result<Tensor> {
        if dim >= shape.len() {
            return Err(Error::InvalidOpArgument {
                op: "iota",
                shape: shape.to_vec(),
                reason: format!("dim {dim} out of range"),
            });
        }
        if dtype == DType::Pred {
            return Err(Error::DTypeMismatch {
                op: "iota",
                dtypes: vec![dtype],
                reason: "iota needs a numeric type".into(),
            });
        }
        Ok(self.push(Op::Iota { dim }, shape.to_vec(), dtype))
    }

    pub fn unary(&mut self, op: UnaryOp, x: Tensor) -> Result<Tensor> {
        let n = self.node(x)?;
        let ok = if op.float_only() {
            n.dtype.is_float()
        } else {
            n.dtype.is_float() || n.dtype == DType::S32
        };
        if !ok {
            return Err(Error::DTypeMismatch {
                op: op.name(),
                dtypes: vec![n.dtype],
                reason: "needs a float operand".into(),
            });
        }
        let (shape, dtype) = (n.shape.clone(), n.dtype);
        Ok(self.push(Op::Unary(op, x), shape, dtype))
    }

    pub fn neg(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Neg, x)
    }
    pub fn exp(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Exp, x)
    }
    pub fn log(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Log, x)
    }
    pub fn tanh(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Tanh, x)
    }
    pub fn sqrt(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Sqrt, x)
    }
    pub fn rsqrt(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Rsqrt, x)
    }
    pub fn abs(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Abs, x)
    }
    pub fn sign(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Sign, x)
    }
    pub fn cosine(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Cosine, x)
    }
    pub fn sine(&mut self, x: Tensor) -> Result<Tensor> {
        self.unary(UnaryOp::Sine, x)
    }

    /// The numpy broadcast of two shapes (aligned on the right; size-1 axes stretch).
    pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
        let rank = a.len().max(b.len());
        let mut out = vec![0; rank];
        for (i, slot) in out.iter_mut().enumerate() {
            let da = (i + a.len()).checked_sub(rank).map_or(1, |j| a[j]);
            let db = (i + b.len()).checked_sub(rank).map_or(1, |j| b[j]);
            *slot = match (da, db) {
                (x, y) if x == y => x,
                (1, y) => y,
                (x, 1) => x,
                _ => {
                    return Err(Error::ShapeMismatch {
                        op,
                        shapes: vec![a.to_vec(), b.to_vec()],
                        reason: format!("axis {i} of the broadcast has sizes {da} and {db}"),
                    })
                }
            };
        }
        Ok(out)
    }

    /// Broadcasts `x` numpy-style to `shape` with an explicit `broadcast_in_dim` (or returns `x`
    /// when the shape already matches).
    pub fn broadcast_to(&mut self, x: Tensor, shape: &[usize]) -> Result<Tensor> {
        let xs = self.shape(x)?.to_vec();
        if xs == shape {
            return Ok(x);
        }
        if xs.len() > shape.len() {
            return Err(Error::ShapeMismatch {
                op: "broadcast_in_dim",
                shapes: vec![xs, shape.to_vec()],
                reason: "cannot broadcast to a lower rank".into(),
            });
        }
        let offset = shape.len() - xs.len();
        let dims: Vec<usize> = (offset..shape.len()).collect();
        self.broadcast_in_dim(x, shape, &dims)
    }

    pub fn binary(&mut self, op: BinaryOp, a: Tensor, b: Tensor) -> Result<Tensor> {
        let (na, nb) = (self.node(a)?, self.node(b)?);
        if na.dtype != nb.dtype {
            return Err(Error::DTypeMismatch {
                op: op.name(),
                dtypes: vec![na.dtype, nb.dtype],
                reason: "operands must have the same element type".into(),
            });
        }
        let dtype = na.dtype;
        let ok = match op {
            BinaryOp::ShiftRightLogical => dtype.is_integer(),
            BinaryOp::And | BinaryOp::Or => dtype.is_integer() || dtype == DType::Pred,
            BinaryOp::Pow => dtype.is_float(),
            _ => dtype != DType::Pred,
        };
        if !ok {
            return Err(Error::DTypeMismatch {
                op: op.name(),
                dtypes: vec![dtype, dtype],
                reason: "element type not supported by this op".into(),
            });
        }
        let shape = Self::broadcast_shapes(op.name(), &na.shape, &nb.shape)?;
        let a = self.broadcast_to(a, &shape)?;
        let b = self.broadcast_to(b, &shape)?;
        Ok(self.push(Op::Binary(op, a, b), shape, dtype))
    }

    pub fn add(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Add, a, b)
    }
    pub fn sub(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Sub, a, b)
    }
    pub fn mul(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Mul, a, b)
    }
    pub fn div(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Div, a, b)
    }
    pub fn pow(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Pow, a, b)
    }
    pub fn max(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Max, a, b)
    }
    pub fn min(&mut self, a: Tensor, b: Tensor) -> Result<Tensor> {
        self.binary(BinaryOp::Min, a, b)
    }

    /// A scalar constant of `x`'s dtype (convenience for `x * 0.5` and friends).
    pub fn scalar_like(&mut self, x: Tensor, value: f64) -> Result<Tensor> {
        let dtype = self.dtype(x)?;
        self.scalar(value, dtype)
    }

    /// `x * c` for a constant `c`.
    pub fn scale(&mut self, x: Tensor, c: f64) -> Result<Tensor> {
        if c == 1.0 {
            return Ok(x);
        }
        let c = self.scalar_like(x, c)?;
        self.mul(x, c)
    }

    /// `x + c` for a constant `c`.
    pub fn add_scalar(&mut self, x: Tensor, c: f64) -> Result<Tensor> {
        let c = self.scalar_like(x, c)?;
        self.add(x, c)
    }

    /// Elementwise comparison (operands broadcast); the result is `Pred`.
    pub fn compare(&mut self, dir: CompareDir, a: Tensor, b: Tensor) -> Result<Tensor> {
        let (na, nb) = (self.node(a)?, self.node(b)?);
        if na.dtype != nb.dtype {
            return Err(Error::DTypeMismatch {
                op: "compare",
                dtypes: vec![na.dtype, nb.dtype],
                reason: "operands must have the same element type".into(),
            });
        }
        let shape = Self::broadcast_shapes("compare", &na.shape, &nb.shape)?;
        let a = self.broadcast_to(a, &shape)?;
        let b = self.broadcast_to(b, &shape)?;
        Ok(self.push(Op::Compare(dir, a, b), shape, DType::Pred))
    }

    /// `pred ? on_true : on_false` elementwise; all three broadcast to a common shape.
    pub fn select(&mut self, pred: Tensor, on_true: Tensor, on_false: Tensor) -> Result<Tensor> {
        let (np, nt, nf) = (self.node(pred)?, self.node(on_true)?, self.node(on_false)?);
        if np.dtype != DType::Pred || nt.dtype != nf.dtype {
            return Err(Error::DTypeMismatch {
                op: "select",
                dtypes: vec![np.dtype, nt.dtype, nf.dtype],
                reason: "needs (pred, T, T)".into(),
            });
        }
        let dtype = nt.dtype;
        let s = Self::broadcast_shapes("select", &nt.shape, &nf.shape)?;
        let shape = Self::broadcast_shapes("select", &np.shape, &s)?;
        let pred = self.broadcast_to(pred, &shape)?;
        let on_true = self.broadcast_to(on_true, &shape)?;
        let on_false = self.broadcast_to(on_false, &shape)?;
        Ok(self.push(
            Op::Select {
                pred,
                on_true,
                on_false,
            },
            shape,
            dtype,
        ))
    }

    /// Element type conversion (returns `x` itself when the dtype already matches).
    pub fn convert(&mut self, x: Tensor, dtype: DType) -> Result<Tensor> {
        let n = self.node(x)?;
        if n.dtype == dtype {
            return Ok(x);
        }
        let shape = n.shape.clone();
        Ok(self.push(Op::Convert(x), shape, dtype))
    }

    /// The same values, treated as a constant by [`super::grad`].
    pub fn stop_gradient(&mut self, x: Tensor) -> Result<Tensor> {
        let n = self.node(x)?;
        let (shape, dtype) = (n.shape.clone(), n.dtype);
        Ok(self.push(Op::StopGradient(x), shape, dtype))
    }
}
