//! Lowering: prints a [`Graph`] as one StableHLO text program, `func.func @main`, that the PJRT
//! plugins compile.
//!
//! Only the nodes the outputs depend on are printed; every parameter becomes an argument of
//! `main`, in creation order, whether used or not (so argument positions are stable). The text is
//! deterministic (same graph, same bytes) and readable: parameters and named nodes keep their
//! names (`%fc0.w`, `%logits`), the rest are numbered in print order.
//!
//! Only core ops of StableHLO 1.13 are used; see `print.rs` for the exact spellings.

mod literal;
mod print;

pub use literal::{bf16_bits, float_literal};

use crate::graph::{Graph, Tensor};
use crate::Result;

/// Argument `argument` of `main` is donated: its buffer may be reused for output `output`
/// (printed as `{tf.aliasing_output = output : i32}`). Types must match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Donation {
    pub argument: usize,
    pub output: usize,
}

/// Options of [`to_stablehlo`].
#[derive(Clone, Debug)]
pub struct LowerOptions {
    /// The `module @name` of the program (a plain identifier).
    pub module_name: String,
    pub donations: Vec<Donation>,
    /// Operand precision of every `dot_general`. `Default` lets the backend choose (XLA on
    /// recent NVIDIA GPUs may then use TF32 for f32 dots); `Highest` asks for full f32.
    pub dot_precision: DotPrecision,
    /// SPMD: the `mhlo.sharding` of each argument of `main` (by position; `None` or missing =
    /// no annotation), e.g. `{devices=[4,1]0,1,2,3}` or `{replicated}`.
    pub argument_shardings: Vec<Option<String>>,
    /// SPMD: the `mhlo.sharding` of each result.
    pub result_shardings: Vec<Option<String>>,
    /// SPMD: printed as the module attribute `mhlo.num_partitions`.
    pub num_partitions: Option<usize>,
}

/// The `precision` config of `stablehlo.dot_general`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DotPrecision {
    /// Nothing printed: the backend's default.
    #[default]
    Default,
    High,
    Highest,
}

impl Default for LowerOptions {
    fn default() -> Self {
        Self {
            module_name: "xlatrain".into(),
            donations: Vec::new(),
            dot_precision: DotPrecision::Default,
            argument_shardings: Vec::new(),
            result_shardings: Vec::new(),
            num_partitions: None,
        }
    }
}

impl LowerOptions {
    /// Donates argument `argument` into output `output`.
    pub fn donate(mut self, argument: usize, output: usize) -> Self {
        self.donations.push(Donation { argument, output });
        self
    }

    /// Sets the precision of every `dot_general`.
    pub fn with_dot_precision(mut self, precision: DotPrecision) -> Self {
        self.dot_precision = precision;
        self
    }
}

/// The StableHLO text of a program whose arguments are `graph`'s parameters and whose results
/// are `outputs`, in order.
pub fn to_stablehlo(graph: &Graph, outputs: &[Tensor], options: &LowerOptions) -> Result<String> {
    print::Printer::new(graph, outputs, options)?.print()
}
