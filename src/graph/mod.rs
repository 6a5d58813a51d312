//! The typed graph builder: a [`Graph`] arena of nodes with static shapes and element types,
//! built through checked methods that return [`Tensor`] handles, plus reverse-mode [`grad`].
//!
//! ```
//! use xlatrain::graph::{grad, DType, Graph};
//! let mut g = Graph::new();
//! let x = g.parameter("x", &[4, 3], DType::F32)?;
//! let w = g.parameter("w", &[3, 2], DType::F32)?;
//! let y = g.matmul(x, w)?;
//! let loss = g.mean(y, &[0, 1])?;
//! let grads = grad(&mut g, loss, &[w])?;
//! assert_eq!(g.shape(grads[0])?, &[3, 2]);
//! # Ok::<(), xlatrain::Error>(())
//! ```
//!
//! Files: `types.rs` (dtypes, ops, nodes), `builder.rs` (arena, elementwise ops, broadcasting),
//! `structural.rs` (shape-moving and contracting ops), `nn.rs` (helpers made of core ops),
//! `autodiff.rs` (the gradient rules), `precision.rs` (the bf16 matmul policy), `remat.rs` (gradient checkpointing), `collective.rs` (cross-replica ops for data parallelism).

mod autodiff;
mod builder;
mod collective;
mod nn;
mod precision;
mod remat;
mod structural;
mod types;

pub use autodiff::{grad, is_differentiable};
pub use builder::Graph;
pub use collective::all_replicas;
pub use precision::{ComputePolicy, Precision};
pub use types::{BinaryOp, CompareDir, DType, Literal, Node, Op, ReduceKind, Tensor, UnaryOp};
