//! Element types, tensor handles and the op vocabulary of the graph.
//!
//! Every node of a [`super::Graph`] is one [`Op`] with a static shape and a [`DType`]. The op set is
//! deliberately close to StableHLO so that lowering is a one-node-to-one-op print, and so that each
//! op has exactly one gradient rule in `autodiff.rs`.

pub use crate::dtype::DType;

/// A handle to a node of one [`super::Graph`]. Cheap to copy. It carries its graph's id, so
/// using it with another graph is a [`crate::Error::ForeignTensor`], not a silent wrong node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tensor {
    pub(crate) graph: u32,
    pub(crate) index: u32,
}

impl Tensor {
    /// Position of the node in its graph (nodes are numbered in creation order).
    pub fn index(self) -> usize {
        self.index as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Exp,
    Log,
    Tanh,
    Sqrt,
    Rsqrt,
    Abs,
    /// -1, 0 or +1 (used by the gradient of `Abs`; its own gradient is zero).
    Sign,
    /// `cos(x)` (used by the cosine learning-rate schedule).
    Cosine,
    /// `sin(x)`.
    Sine,
}

impl UnaryOp {
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "negate",
            UnaryOp::Exp => "exponential",
            UnaryOp::Log => "log",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Cosine => "cosine",
            UnaryOp::Sine => "sine",
        }
    }

    /// Ops that only make sense on floats (abs, neg and sign also take signed integers).
    pub fn float_only(self) -> bool {
        !matches!(self, UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Sign)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    /// Integer-only: logical shift right (used to turn random bits into floats).
    ShiftRightLogical,
    /// Integer/pred-only bitwise ops.
    And,
    Or,
}

impl BinaryOp {
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "subtract",
            BinaryOp::Mul => "multiply",
            BinaryOp::Div => "divide",
            BinaryOp::Pow => "power",
            BinaryOp::Max => "maximum",
            BinaryOp::Min => "minimum",
            BinaryOp::ShiftRightLogical => "shift_right_logical",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareDir {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareDir {
    pub fn name(self) -> &'static str {
        match self {
            CompareDir::Eq => "EQ",
            CompareDir::Ne => "NE",
            CompareDir::Lt => "LT",
            CompareDir::Le => "LE",
            CompareDir::Gt => "GT",
            CompareDir::Ge => "GE",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    Sum,
    Max,
}

/// Values of a constant node: one value (a splat) or one per element, row-major. Floats are held
/// as f64 and rounded to the node's dtype when printed.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Float(Vec<f64>),
    Int(Vec<i64>),
    UInt(Vec<u64>),
    Pred(Vec<bool>),
}

impl Literal {
    pub fn len(&self) -> usize {
        match self {
            Literal::Float(v) => v.len(),
            Literal::Int(v) => v.len(),
            Literal::UInt(v) => v.len(),
            Literal::Pred(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One node's operation. Operands are handles to earlier nodes, so the arena is always in
/// topological order.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Argument `index` of `main`.
    Parameter {
        index: usize,
        name: String,
    },
    Constant(Literal),
    Iota {
        dim: usize,
    },
    Unary(UnaryOp, Tensor),
    /// Operands have equal shapes; broadcasting inserted explicit `BroadcastInDim` nodes.
    Binary(BinaryOp, Tensor, Tensor),
    Compare(CompareDir, Tensor, Tensor),
    Select {
        pred: Tensor,
        on_true: Tensor,
        on_false: Tensor,
    },
    Convert(Tensor),
    /// Identity in the program; a constant for differentiation.
    StopGradient(Tensor),
    /// `dims[i]` is the output axis that input axis `i` maps to (strictly increasing).
    BroadcastInDim {
        input: Tensor,
        dims: Vec<usize>,
    },
    Reshape(Tensor),
    /// Output axis `k` is input axis `perm[k]`.
    Transpose {
        input: Tensor,
        perm: Vec<usize>,
    },
    Slice {
        input: Tensor,
        start: Vec<usize>,
        limit: Vec<usize>,
        stride: Vec<usize>,
    },
    /// Zero-or-positive padding with `value` (a scalar node of the same dtype).
    Pad {
        input: Tensor,
        value: Tensor,
        low: Vec<usize>,
        high: Vec<usize>,
        interior: Vec<usize>,
    },
    Concatenate {
        inputs: Vec<Tensor>,
        axis: usize,
    },
    /// Output axes: batch, then lhs free axes, then rhs free axes (each in ascending order).
    DotGeneral {
        lhs: Tensor,
        rhs: Tensor,
        lhs_batch: Vec<usize>,
        rhs_batch: Vec<usize>,
        lhs_contract: Vec<usize>,
        rhs_contract: Vec<usize>,
    },
    /// Reduces the listed axes away (no kept dims).
    Reduce {
        input: Tensor,
        kind: ReduceKind,
        axes: Vec<usize>,
    },
    /// `table[V, D]` rows picked by `indices[N, 1]` (integer): output `[N, D]`.
    GatherRows {
        table: Tensor,
        indices: Tensor,
    },
    /// Zeros `[rows, D]` with `updates[N, D]` added at rows `indices[N, 1]` (duplicates add up).
    ScatterAddRows {
        indices: Tensor,
        updates: Tensor,
        rows: usize,
    },
    /// THREE_FRY random bits of this node's shape and dtype, from a `u64[2]` state. The next
    /// state is the sibling [`Op::RngNextState`] node; both are results of one StableHLO op.
    RngBits {
        state: Tensor,
    },
    /// The state after `rng` (an `RngBits` node).
    RngNextState {
        rng: Tensor,
    },
    /// Cross-replica sum: every replica of a group gets the elementwise sum of `input` over the
    /// group's replicas. `groups` lists replica ids (each replica in exactly one group).
    AllReduceSum {
        input: Tensor,
        groups: Vec<Vec<usize>>,
    },
    /// The id of the replica running the program (`ui32` scalar).
    ReplicaId,
    /// `operand` with `update` written at the run-time offsets `starts` (one `s32` scalar per
    /// axis, clamped by StableHLO so the update stays in bounds): the KV-cache write.
    DynamicUpdateSlice {
        operand: Tensor,
        update: Tensor,
        starts: Vec<Tensor>,
    },
    /// Result `index` of one `optimization_barrier` over `inputs` (the nodes of one barrier are
    /// consecutive, one per input, each the identity of its input). XLA may not move, fuse or
    /// CSE anything across it: gradient checkpointing uses it so that the recomputed block is
    /// not merged back into the forward pass.
    OptimizationBarrier {
        inputs: Vec<Tensor>,
        index: usize,
    },
}

impl Op {
    /// The StableHLO-ish name of the op, used in error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Parameter { .. } => "parameter",
            Op::Constant(_) => "constant",
            Op::Iota { .. } => "iota",
            Op::Unary(u, _) => u.name(),
            Op::Binary(b, _, _) => b.name(),
            Op::Compare(..) => "compare",
            Op::Select { .. } => "select",
            Op::Convert(_) => "convert",
            Op::StopGradient(_) => "stop_gradient",
            Op::BroadcastInDim { .. } => "broadcast_in_dim",
            Op::Reshape(_) => "reshape",
            Op::Transpose { .. } => "transpose",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concatenate { .. } => "concatenate",
            Op::DotGeneral { .. } => "dot_general",
            Op::Reduce { .. } => "reduce",
            Op::GatherRows { .. } => "gather",
            Op::ScatterAddRows { .. } => "scatter",
            Op::RngBits { .. } => "rng_bit_generator",
            Op::RngNextState { .. } => "rng_bit_generator.state",
            Op::AllReduceSum { .. } => "all_reduce",
            Op::ReplicaId => "replica_id",
            Op::DynamicUpdateSlice { .. } => "dynamic_update_slice",
            Op::OptimizationBarrier { .. } => "optimization_barrier",
        }
    }

    /// The operands of this op, in order (the order [`Op::map_operands`] visits them in).
    pub fn operands(&self) -> Vec<Tensor> {
        // (no clone of a constant's values for ops without operands)
        if matches!(
            self,
            Op::Parameter { .. } | Op::Constant(_) | Op::Iota { .. } | Op::ReplicaId
        ) {
            return Vec::new();
        }
        let mut operands = Vec::new();
        let _ = self.map_operands(|t| {
            operands.push(t);
            t
        });
        operands
    }
}

impl Op {
    /// The same op with every operand replaced by `f(operand)` (in [`Op::operands`] order);
    /// gradient checkpointing uses it to rebuild a block on barrier'd inputs.
    pub fn map_operands(&self, mut f: impl FnMut(Tensor) -> Tensor) -> Op {
        let mut op = self.clone();
        match &mut op {
            Op::Parameter { .. } | Op::Constant(_) | Op::Iota { .. } | Op::ReplicaId => {}
            Op::Unary(_, x)
            | Op::Convert(x)
            | Op::StopGradient(x)
            | Op::Reshape(x)
            | Op::BroadcastInDim { input: x, .. }
            | Op::Transpose { input: x, .. }
            | Op::Slice { input: x, .. }
            | Op::Reduce { input: x, .. }
            | Op::RngBits { state: x }
            | Op::RngNextState { rng: x }
            | Op::AllReduceSum { input: x, .. } => *x = f(*x),
            Op::Binary(_, a, b) | Op::Compare(_, a, b) => {
                *a = f(*a);
                *b = f(*b);
            }
            Op::Select {
                pred,
                on_true,
                on_false,
            } => {
                *pred = f(*pred);
                *on_true = f(*on_true);
                *on_false = f(*on_false);
            }
            Op::Pad { input, value, .. } => {
                *input = f(*input);
                *value = f(*value);
            }
            Op::Concatenate { inputs, .. } | Op::OptimizationBarrier { inputs, .. } => {
                inputs.iter_mut().for_each(|x| *x = f(*x));
            }
            Op::DotGeneral { lhs, rhs, .. } => {
                *lhs = f(*lhs);
                *rhs = f(*rhs);
            }
            Op::GatherRows { table, indices } => {
                *table = f(*table);
                *indices = f(*indices);
            }
            Op::ScatterAddRows {
                indices, updates, ..
            } => {
                *indices = f(*indices);
                *updates = f(*updates);
            }
            Op::DynamicUpdateSlice {
                operand,
                update,
                starts,
            } => {
                *operand = f(*operand);
                *update = f(*update);
                starts.iter_mut().for_each(|x| *x = f(*x));
            }
        }
        op
    }
}

/// One node: its op, static shape, element type and an optional readable name for lowering.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub op: Op,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub name: Option<String>,
}
