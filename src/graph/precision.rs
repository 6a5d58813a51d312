//! The compute-dtype policy of a graph (`--bf16`, config `mixed_precision = "bf16"`).
//!
//! Under [`Precision::Bf16`] every `dot_general` built on the graph rounds its f32 operands to
//! bf16, runs the dot in bf16 (accumulated in f32 inside the dot on GPUs and TPUs, as JAX's
//! bf16 matmuls are) and converts its result back to f32. Everything else stays f32:
//! parameters, optimizer moments, softmax, norms, the loss and the gradient reduction. Because the policy lives in
//! [`super::Graph::dot_general`], every model gets it with no per-model code, and the backward
//! matmuls that [`super::grad`] builds on the same graph are bf16 too. This is the policy
//! MaxText, Levanter and torchtitan use; a pure-bf16 AdamW (bf16 master weights) is the known
//! failure it avoids. fp16 is refused: it needs loss scaling, which xlatrain does not do.

use serde::{Deserialize, Serialize};

use super::types::DType;

/// Which element type matmul operands are computed in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Precision {
    /// Everything in f32 (HF accelerate's `mixed_precision = "no"`).
    #[default]
    F32,
    /// bf16 matmul operands with f32 accumulation; f32 master state and reductions.
    Bf16,
}

impl Precision {
    /// The name used in configs, `training_args.json` and `trainer_state.json`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "no",
            Precision::Bf16 => "bf16",
        }
    }

    /// The element type `dot_general` operands are rounded to, when it is not theirs.
    pub fn matmul_operand_dtype(self) -> Option<DType> {
        match self {
            Precision::F32 => None,
            Precision::Bf16 => Some(DType::BF16),
        }
    }

    /// `no` (also `f32`, `fp32`) or `bf16`; `fp16` is refused with the reason.
    pub fn parse(text: &str) -> Result<Precision, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "no" | "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "fp16" | "f16" | "float16" => Err("fp16 needs loss scaling, which xlatrain does not \
                 do; use bf16 (same exponent range as f32, no scaling needed)"
                .into()),
            other => Err(format!(
                "unknown mixed precision `{other}`: use `no` or `bf16`"
            )),
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Precision {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        Precision::parse(&text)
    }
}

impl From<Precision> for String {
    fn from(p: Precision) -> String {
        p.name().to_string()
    }
}

/// How a train step computes: the matmul [`Precision`] and whether the transformer blocks are
/// recomputed in the backward pass (gradient checkpointing, see `remat.rs`). A plain
/// [`Precision`] converts into it with checkpointing off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ComputePolicy {
    pub precision: Precision,
    pub gradient_checkpointing: bool,
}

impl From<Precision> for ComputePolicy {
    fn from(precision: Precision) -> Self {
        ComputePolicy {
            precision,
            gradient_checkpointing: false,
        }
    }
}

impl super::Graph {
    /// Applies both parts of `policy` to the nodes built from now on.
    pub fn set_policy(&mut self, policy: ComputePolicy) {
        self.set_precision(policy.precision);
        self.set_gradient_checkpointing(policy.gradient_checkpointing);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_fp16_is_refused_with_the_reason() {
        for p in [Precision::F32, Precision::Bf16] {
            assert_eq!(Precision::parse(p.name()), Ok(p));
        }
        assert!(Precision::parse("fp16")
            .unwrap_err()
            .contains("loss scaling"));
        assert!(Precision::parse("int8").is_err());
    }
}
