//! Training-step benchmark figures and the analytic FLOP counts they are compared with: the
//! usual 6 FLOPs per parameter per example (forward 2, backward 4) for the MLP, and for the GPT
//! `6 * params * tokens` plus the attention score and mix products that the parameter count does
//! not see (`12 * layers * seq * d_model` per token: QK^T and AV, forward and backward).

use serde::Serialize;

use super::stats::Summary;
use crate::models::{GptConfig, ModelConfig};
use crate::Result;

/// One model's training speed.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    /// The reference name (models.json), e.g. `mlp_784_512_512_10`.
    pub model: String,
    pub params: usize,
    pub batch_size: usize,
    /// Examples per step for the MLP, tokens per step for the GPT.
    pub items_per_step: usize,
    pub steps_timed: usize,
    pub warmup_steps: usize,
    /// Building, differentiating and lowering the step program.
    pub lower_s: f64,
    /// XLA compilation (cache bypassed).
    pub compile_s: f64,
    pub first_step_s: f64,
    /// Seconds per step (program execution with the batch already on the device).
    pub step_s: Summary,
    pub throughput: f64,
    /// `samples/s` or `tokens/s`.
    pub throughput_unit: &'static str,
    pub flops_per_step: f64,
    /// `flops_per_step / median step`.
    pub achieved_flops_per_s: f64,
    /// Achieved over the matmul probe's FLOP/s of the same run, when it ran.
    pub fraction_of_matmul: Option<f64>,
    pub loss_first: f64,
    pub loss_last: f64,
}

/// Analytic FLOPs of one training step (forward + backward) of `model` on `batch` examples.
pub fn step_flops(model: &ModelConfig, batch: usize) -> Result<f64> {
    let params = model.param_count()? as f64;
    Ok(match model {
        ModelConfig::Mlp(_) => 6.0 * params * batch as f64,
        ModelConfig::Gpt(gpt) => {
            let tokens = (batch * gpt.seq_len) as f64;
            6.0 * params * tokens + attention_flops_per_token(gpt) * tokens
        }
    })
}

/// Forward + backward FLOPs per token of the attention products (full, unmasked T x T scores,
/// which is what a dense causal implementation computes).
fn attention_flops_per_token(gpt: &GptConfig) -> f64 {
    12.0 * gpt.n_layers as f64 * gpt.seq_len as f64 * gpt.d_model as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::MlpConfig;

    #[test]
    fn mlp_step_is_six_flops_per_parameter_per_example() {
        let mlp = ModelConfig::Mlp(MlpConfig::default());
        assert_eq!(step_flops(&mlp, 128).unwrap(), 6.0 * 669_706.0 * 128.0);
    }

    #[test]
    fn gpt_step_adds_attention_to_the_parameter_flops() {
        let gpt = ModelConfig::Gpt(GptConfig::default());
        let tokens = 16.0 * 128.0;
        let expected = 6.0 * 3_257_856.0 * tokens + 12.0 * 4.0 * 128.0 * 256.0 * tokens;
        assert_eq!(step_flops(&gpt, 16).unwrap(), expected);
        // About 42.6 GFLOP per step: at the peers' 570 ms per step that is ~75 GFLOP/s, the figure
        // quoted in peers/RESULTS.md.
        assert!((expected / 0.5705 / 1e9 - 75.0).abs() < 1.0);
    }
}
