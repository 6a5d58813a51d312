//! Training-step speed of the reference models, timed the way the JAX reference times it (the
//! trainer's own step program and state, batch on the device before the timer starts), and the
//! analytic FLOP counts the achieved rate is computed from: the
//! usual 6 FLOPs per parameter per example (forward 2, backward 4) for the MLP, and for the GPT
//! `6 * params * tokens` plus the attention score and mix products that the parameter count does
//! not see (`12 * layers * seq * d_model` per token: QK^T and AV, forward and backward).

use std::time::Instant;

use serde::Serialize;

use super::models::BenchModel;
use super::stats::Summary;
use crate::config::{ModelKind, TrainingArgs};
use crate::data::{Dataset, Inputs};
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Arg, Client, CompileOptions};
use crate::train::{train_step_program, TrainState};
use crate::{Error, Result};

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

/// Analytic FLOPs of one training step (forward + backward) of `model` on `batch` examples of
/// `seq_len` tokens (the MLP has no sequence: pass 1): 6 · params · tokens plus the attention
/// products.
pub fn step_flops(model: &ModelConfig, batch: usize, seq_len: usize) -> Result<f64> {
    let params = model.param_count()? as f64;
    let tokens = (batch * seq_len) as f64;
    Ok(match model {
        ModelConfig::Mlp(_) => 6.0 * params * batch as f64,
        ModelConfig::Gpt(gpt) => {
            6.0 * params * tokens
                + attention_flops_per_token(gpt.n_layers, seq_len, gpt.d_model) * tokens
        }
        ModelConfig::Hf(c) => {
            let width = c.num_attention_heads * c.head_dim;
            6.0 * params * tokens
                + attention_flops_per_token(c.num_hidden_layers, seq_len, width) * tokens
        }
    })
}

/// Forward + backward FLOPs per token of the attention products (full, unmasked T x T scores,
/// which is what a dense causal implementation computes) over `width` = heads · head_dim.
fn attention_flops_per_token(layers: usize, seq_len: usize, width: usize) -> f64 {
    12.0 * layers as f64 * seq_len as f64 * width as f64
}

/// The models.json reference run of a model kind: its settings, model, optimizer and data.
pub struct ReferenceRun {
    pub args: TrainingArgs,
    pub model: ModelConfig,
    pub optimizer: OptimizerSpec,
    pub dataset: Dataset,
}

impl ReferenceRun {
    pub fn new(kind: ModelKind) -> Result<ReferenceRun> {
        let args = TrainingArgs::defaults(kind);
        let model = args.model_config()?;
        let dataset = Dataset::open(&args.data_spec()?)?;
        let optimizer = OptimizerSpec::from_args(&args, args.max_steps.unwrap_or(500));
        Ok(ReferenceRun {
            args,
            model,
            optimizer,
            dataset,
        })
    }

    /// The trainer's step program for this run (one micro-batch per step).
    pub fn step_program(&self) -> Result<crate::train::Program> {
        train_step_program(
            &self.model,
            &self.optimizer,
            &self.dataset.batch_layout(),
            1,
        )
    }
}

/// The reference name of a model kind, as the peers' results name it.
pub fn reference_name(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Mlp => BenchModel::Mlp.reference_name(),
        ModelKind::Gpt => BenchModel::Gpt.reference_name(),
    }
}

/// Times the train step of `model` (its reference spec: init, data, optimizer, batch) as the
/// JAX peer does: lowering, an uncached XLA compile, then `warmup + steps` steps with the state
/// donated from step to step and each batch uploaded before its timer starts.
pub fn measure(
    client: &Client,
    model: BenchModel,
    steps: usize,
    warmup: usize,
    matmul_flops_per_s: Option<f64>,
) -> Result<TrainReport> {
    let started = Instant::now();
    let mut run = model.run()?;
    let program = run.step_program()?;
    let lower_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let executable = client.compile_uncached(&program.mlir, &CompileOptions::default())?;
    let compile_s = started.elapsed().as_secs_f64();
    let mut state = run.initial_state(client)?;
    let (x_dims, y_dims) = (program.x.dims(), program.y.dims());
    let mut times = Vec::with_capacity(steps);
    let (mut first_step_s, mut loss_first, mut loss_last) = (0.0, f64::NAN, f64::NAN);
    for step in 0..warmup + steps {
        let (x, y) = run.next_batch();
        let x = match &x {
            Inputs::F32(values) => client.upload(values, &x_dims, 0)?,
            Inputs::I32(values) => client.upload(values, &x_dims, 0)?,
        };
        let y = client.upload(&y, &y_dims, 0)?;
        let (descs, buffers) = state.into_parts();
        let n = descs.len();
        let mut step_args: Vec<Arg> = buffers.into_iter().map(Arg::Donated).collect();
        step_args.push(Arg::Borrowed(&x));
        step_args.push(Arg::Borrowed(&y));
        let started = Instant::now();
        let mut outputs = executable.execute(step_args)?;
        let elapsed = started.elapsed().as_secs_f64();
        let metrics = outputs.split_off(n.min(outputs.len()));
        state = TrainState::from_parts(descs, outputs)?;
        let loss = || -> Result<f64> {
            let values = metrics
                .first()
                .ok_or_else(|| Error::BenchCheck {
                    check: "train step".into(),
                    reason: "no loss output".into(),
                })?
                .to_vec::<f32>()?;
            Ok(values.first().copied().map_or(f64::NAN, f64::from))
        };
        if step == 0 {
            first_step_s = elapsed;
            loss_first = loss()?;
        }
        if step >= warmup {
            times.push(elapsed);
        }
        if step + 1 == warmup + steps {
            loss_last = loss()?;
        }
    }
    let step_s = Summary::of(&times).ok_or_else(|| Error::BenchCheck {
        check: "train step".into(),
        reason: "no timed steps".into(),
    })?;
    let batch_size = run.batch_size;
    let items_per_step = run.layout.y_shape.iter().product::<usize>();
    let seq_len = run.layout.x_shape.get(1).copied().unwrap_or(1);
    let flops_per_step = step_flops(&run.model, batch_size, seq_len)?;
    let achieved_flops_per_s = flops_per_step / step_s.median;
    Ok(TrainReport {
        model: model.reference_name().to_string(),
        params: run.model.param_count()?,
        batch_size,
        items_per_step,
        steps_timed: steps,
        warmup_steps: warmup,
        lower_s,
        compile_s,
        first_step_s,
        throughput: items_per_step as f64 / step_s.median,
        throughput_unit: model.throughput_unit(),
        flops_per_step,
        achieved_flops_per_s,
        fraction_of_matmul: matmul_flops_per_s.map(|m| achieved_flops_per_s / m),
        loss_first,
        loss_last,
        step_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{GptConfig, MlpConfig};

    #[test]
    fn mlp_step_is_six_flops_per_parameter_per_example() {
        let mlp = ModelConfig::Mlp(MlpConfig::default());
        assert_eq!(step_flops(&mlp, 128, 1).unwrap(), 6.0 * 669_706.0 * 128.0);
    }

    #[test]
    fn gpt_step_adds_attention_to_the_parameter_flops() {
        let gpt = ModelConfig::Gpt(GptConfig::default());
        let tokens = 16.0 * 128.0;
        let expected = 6.0 * 3_257_856.0 * tokens + 12.0 * 4.0 * 128.0 * 256.0 * tokens;
        assert_eq!(
            step_flops(&gpt, 16, GptConfig::default().seq_len).unwrap(),
            expected
        );
        // About 42.6 GFLOP per step: at the peers' 570 ms per step that is ~75 GFLOP/s, the figure
        // quoted in peers/RESULTS.md.
        assert!((expected / 0.5705 / 1e9 - 75.0).abs() < 1.0);
    }

    #[test]
    fn hf_step_counts_attention_over_heads_times_head_dim_at_the_run_sequence_length() {
        let json = serde_json::json!({"model_type": "llama", "vocab_size": 64, "hidden_size": 32,
            "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "head_dim": 16, "intermediate_size": 48});
        let hf =
            crate::hf::HfConfig::from_json(std::path::Path::new("config.json"), &json).unwrap();
        let model = ModelConfig::Hf(hf);
        let params = model.param_count().unwrap() as f64;
        let tokens = 4.0 * 128.0;
        // width 4 heads x 16 = 64, not hidden_size 32
        let expected = 6.0 * params * tokens + 12.0 * 2.0 * 128.0 * 64.0 * tokens;
        assert_eq!(step_flops(&model, 4, 128).unwrap(), expected);
    }
}
