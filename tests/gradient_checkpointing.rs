//! `--gradient-checkpointing` (HF's flag): each transformer block is recomputed in the backward
//! pass behind an `optimization_barrier`, so the compiled step keeps fewer bytes alive (XLA's
//! own buffer assignment, read through `PJRT_Executable_GetCompiledMemoryStats`) while the
//! losses stay those of the run without it: bit-identical (losses and trained state) for the
//! HF llama graph, equal to rounding for the reference GPT (with dropout, so the recomputed
//! block must redraw the same bits) and HF GPT-2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use xlatrain::config::{LrSchedulerType, OptimizerKind};
use xlatrain::data::BatchLayout;
use xlatrain::graph::{ComputePolicy, Precision};
use xlatrain::hf::HfConfig;
use xlatrain::models::{GptConfig, ModelConfig};
use xlatrain::optim::{OptimizerSpec, Schedule};
use xlatrain::pjrt::{Arg, Buffer, Client, CompileOptions, Executable};
use xlatrain::train::{state_layout, train_step_program_on, Mesh, StateLayout, RNG_KEY, STEP};

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn stdout_of(args: &[&str]) -> String {
    let output = xlatrain(args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn barriers(program: &str) -> usize {
    program
        .matches("\"stablehlo.optimization_barrier\"")
        .count()
}

#[test]
fn lower_prints_one_optimization_barrier_per_block_only_when_on() {
    let args = ["lower", "--model", "gpt", "--n-layers", "3"];
    let plain = stdout_of(&args);
    let mut on_args = args.to_vec();
    on_args.push("--gradient-checkpointing");
    let checkpointed = stdout_of(&on_args);
    assert_eq!(barriers(&plain), 0);
    assert_eq!(
        barriers(&checkpointed),
        3,
        "one barrier per transformer block"
    );
    // the recomputed blocks add forward work: more dots than the plain step
    let dots = |p: &str| p.matches("stablehlo.dot_general").count();
    assert!(dots(&checkpointed) > dots(&plain));
}

#[test]
fn gradient_checkpointing_on_the_mlp_is_refused_by_name() {
    let output = xlatrain(&["lower", "--model", "mlp", "--gradient-checkpointing"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("gradient_checkpointing"), "{stderr}");
}

fn optimizer() -> OptimizerSpec {
    OptimizerSpec {
        kind: OptimizerKind::AdamW,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.01,
        momentum: 0.0,
        max_grad_norm: Some(1.0),
        schedule: Schedule {
            kind: LrSchedulerType::Constant,
            base_lr: 3e-3,
            warmup_steps: 0,
            total_steps: 4,
        },
    }
}

fn reference_gpt() -> ModelConfig {
    ModelConfig::Gpt(GptConfig {
        vocab_size: 64,
        d_model: 32,
        n_layers: 3,
        n_heads: 4,
        d_ff: 64,
        seq_len: 16,
        dropout: 0.1,
        init_std: 0.02,
        layer_norm_eps: 1e-5,
        init_seed: 7,
    })
}

fn hf(json: serde_json::Value) -> ModelConfig {
    ModelConfig::Hf(HfConfig::from_json(Path::new("config.json"), &json).unwrap())
}

fn hf_llama() -> ModelConfig {
    hf(serde_json::json!({
        "model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2,
        "max_position_embeddings": 32, "rms_norm_eps": 1e-5, "tie_word_embeddings": false
    }))
}

fn hf_gpt2() -> ModelConfig {
    hf(serde_json::json!({
        "model_type": "gpt2", "vocab_size": 64, "n_embd": 32, "n_layer": 3, "n_head": 4,
        "n_positions": 32
    }))
}

/// One model's train step, compiled with and without checkpointing.
struct Step {
    exe: Executable,
    n_state: usize,
}

fn compile(client: &Client, model: &ModelConfig, layout: &BatchLayout, on: bool) -> Step {
    let policy = ComputePolicy {
        precision: Precision::F32,
        gradient_checkpointing: on,
    };
    let state = StateLayout::new(model, &optimizer(), Mesh::single(), Vec::new()).unwrap();
    let program = train_step_program_on(model, &optimizer(), layout, 1, &state, policy).unwrap();
    assert_eq!(barriers(&program.mlir) > 0, on);
    let exe = client
        .compile(&program.mlir, &CompileOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    Step {
        exe,
        n_state: state_layout(model, &optimizer()).unwrap().len(),
    }
}

/// Deterministic small parameters (HF models have no spec init), zero moments, step 0, a key.
fn initial_state(client: &Client, model: &ModelConfig) -> Vec<Buffer> {
    let mut state = Vec::new();
    for (k, d) in state_layout(model, &optimizer())
        .unwrap()
        .iter()
        .enumerate()
    {
        let dims = d.dims();
        state.push(if d.name == STEP {
            client.upload(&[0i32], &dims, 0).unwrap()
        } else if d.name == RNG_KEY {
            client.upload(&[3u64, 4], &dims, 0).unwrap()
        } else if d.name.starts_with("exp_avg") {
            client
                .upload(&vec![0f32; d.numel().unwrap()], &dims, 0)
                .unwrap()
        } else {
            let values: Vec<f32> = (0..d.numel().unwrap())
                .map(|i| (((i * 7919 + k * 104_729) % 2001) as f32 / 1000.0 - 1.0) * 0.05 + 0.0)
                .collect();
            let values = if d.name.contains("norm") || d.name.contains("ln_") {
                values.iter().map(|v| 1.0 + v).collect()
            } else {
                values
            };
            client.upload(&values, &dims, 0).unwrap()
        });
    }
    state
}

/// Losses of `steps` steps on a fixed batch and the final state's bytes.
fn run(
    client: &Client,
    model: &ModelConfig,
    step: &Step,
    layout: &BatchLayout,
    steps: usize,
) -> (Vec<u32>, Vec<Vec<u32>>) {
    let (b, t) = (layout.x_shape[0], layout.x_shape[1]);
    let (x, y) = common::next_token_batch(b, t, 64);
    let dims = [1, b as i64, t as i64];
    let xb = client.upload(&x, &dims, 0).unwrap();
    let yb = client.upload(&y, &dims, 0).unwrap();
    let mut state = initial_state(client, model);
    let mut losses = Vec::new();
    for _ in 0..steps {
        let mut args: Vec<Arg> = state.into_iter().map(Arg::Donated).collect();
        args.push(Arg::Borrowed(&xb));
        args.push(Arg::Borrowed(&yb));
        let mut out = step.exe.execute(args).unwrap();
        let metrics = out.split_off(step.n_state);
        losses.push(metrics[0].to_vec::<f32>().unwrap()[0].to_bits());
        state = out;
    }
    // every f32 tensor of the state (parameters and moments), as bits
    let descs = state_layout(model, &optimizer()).unwrap();
    let bits = descs
        .iter()
        .zip(&state)
        .filter(|(d, _)| d.name != STEP && d.name != RNG_KEY)
        .map(|(_, b)| {
            b.to_vec::<f32>()
                .unwrap()
                .iter()
                .map(|v| v.to_bits())
                .collect()
        })
        .collect();
    (losses, bits)
}

const STEPS: usize = 20;

fn check(name: &str, model: ModelConfig, exact: bool) {
    let client = Client::cpu().expect("the CPU PJRT plugin must be available");
    let layout = BatchLayout {
        x_type: xlatrain::DType::S32,
        x_shape: vec![4, 16],
        y_shape: vec![4, 16],
    };
    let plain = compile(&client, &model, &layout, false);
    let checkpointed = compile(&client, &model, &layout, true);
    let (plain_mem, ckpt_mem) = (
        plain.exe.memory_stats().unwrap(),
        checkpointed.exe.memory_stats().unwrap(),
    );
    eprintln!("{name}: plain {plain_mem:?}\n{name}: checkpointed {ckpt_mem:?}");
    assert!(plain_mem.temp_bytes > 0, "{plain_mem:?}");
    assert_eq!(plain_mem.argument_bytes, ckpt_mem.argument_bytes);
    assert!(
        ckpt_mem.temp_bytes < plain_mem.temp_bytes,
        "{name}: checkpointing must lower the step's temporary bytes: {} -> {}",
        plain_mem.temp_bytes,
        ckpt_mem.temp_bytes
    );
    let (plain_losses, plain_state) = run(&client, &model, &plain, &layout, STEPS);
    let (ckpt_losses, ckpt_state) = run(&client, &model, &checkpointed, &layout, STEPS);
    let as_f32: Vec<f32> = plain_losses.iter().map(|&b| f32::from_bits(b)).collect();
    assert!(
        as_f32[3] < as_f32[0],
        "{name}: the loss must fall: {as_f32:?}"
    );
    if exact {
        assert_eq!(
            plain_losses, ckpt_losses,
            "{name}: losses must be bit-identical"
        );
        assert!(
            plain_state == ckpt_state,
            "{name}: the trained state must be bit-identical"
        );
    } else {
        // Known gap: in the GPT blocks, reductions of a block's incoming cotangent (the bias
        // gradients) are accumulated in another order by XLA's CPU backend when their operand
        // is the barrier's result rather than a fused producer: already at step 1, 2 of the 32
        // `c_proj.bias` gradients of the last block differ by rounding, and the losses drift
        // by 1-2 ulp from step 5-7 on. The curves must agree to rounding.
        for (a, b) in plain_losses.iter().zip(&ckpt_losses) {
            let (a, b) = (f32::from_bits(*a), f32::from_bits(*b));
            assert!((a - b).abs() <= 1e-6 * a.abs(), "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn the_reference_gpt_with_dropout_follows_its_loss_curve_to_rounding_in_less_memory() {
    check("gpt", reference_gpt(), false);
}

#[test]
fn the_hf_llama_graph_keeps_its_losses_and_state_bit_identical_in_less_memory() {
    check("llama", hf_llama(), true);
}

#[test]
fn the_hf_gpt2_graph_follows_its_loss_curve_to_rounding_in_less_memory() {
    check("gpt2", hf_gpt2(), false);
}

#[test]
fn train_takes_the_flag_and_the_config_key_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let config = dir.path().join("args.toml");
    std::fs::write(&config, "gradient_checkpointing = true\n").unwrap();
    let common = [
        "train",
        "--model",
        "gpt",
        "--n-layers",
        "2",
        "--d-model",
        "32",
        "--n-heads",
        "2",
        "--d-ff",
        "64",
        "--seq-len",
        "16",
        "--max-steps",
        "2",
        "--save-strategy",
        "no",
    ];
    let mut args = common.to_vec();
    args.extend(["--config", config.to_str().unwrap()]);
    args.extend(["--output-dir", out.to_str().unwrap()]);
    stdout_of(&args);
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("training_args.json")).unwrap()).unwrap();
    assert_eq!(
        recorded["gradient_checkpointing"],
        serde_json::Value::Bool(true)
    );
    // the flag spelling, on a model without blocks: refused by name before any work
    let mut args = vec!["train", "--model", "mlp", "--max-steps", "1"];
    args.extend([
        "--output-dir",
        out.to_str().unwrap(),
        "--gradient-checkpointing",
    ]);
    let refused = xlatrain(&args);
    assert_eq!(refused.status.code(), Some(2));
}
