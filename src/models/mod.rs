//! Models: the parameter specifications of the reference models ([`spec`]) and their forward
//! graphs ([`mlp`], [`gpt`]).

pub mod gpt;
pub mod mlp;
pub mod spec;

pub use spec::{
    describe_mismatch, init_params, Architecture, GptConfig, Init, MlpConfig, ModelConfig,
    ParamSignature, ParamSpec,
};

use crate::graph::{Graph, Tensor};
use crate::Result;

/// The logits of `x` under `config` (MLP `[B, classes]`, GPT `[B, T, vocab]`); `rng` feeds GPT
/// dropout and is advanced by it (`None` = no dropout).
pub fn logits(
    config: &ModelConfig,
    g: &mut Graph,
    params: &[Tensor],
    x: Tensor,
    rng: Option<&mut Tensor>,
) -> Result<Tensor> {
    match config {
        ModelConfig::Mlp(c) => mlp::logits(c, g, params, x),
        ModelConfig::Gpt(c) => gpt::logits(c, g, params, x, rng),
    }
}
