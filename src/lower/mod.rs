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
}

impl Default for LowerOptions {
    fn default() -> Self {
        Self {
            module_name: "xlatrain".into(),
            donations: Vec::new(),
        }
    }
}

impl LowerOptions {
    /// Donates argument `argument` into output `output`.
    pub fn donate(mut self, argument: usize, output: usize) -> Self {
        self.donations.push(Donation { argument, output });
        self
    }
}

/// The StableHLO text of a program whose arguments are `graph`'s parameters and whose results
/// are `outputs`, in order.
pub fn to_stablehlo(graph: &Graph, outputs: &[Tensor], options: &LowerOptions) -> Result<String> {
    print::Printer::new(graph, outputs, options)?.print()
}
