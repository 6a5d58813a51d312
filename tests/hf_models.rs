//! Hugging Face models on the real CPU plugin against references we did not write with the
//! graph: logits within 1e-4 (relative to the logits' scale) of a numpy forward written from
//! transformers' modeling semantics and of transformers' own Flax classes (where their
//! semantics apply), greedy generation through the KV cache equal to the reference's greedy
//! decode, and `eval` equal to the reference loss. Shapes: GPT-2; llama with GQA and an untied
//! head; llama with rope_theta 500000, a tied head and head_dim != hidden/heads; qwen2 with q/k/v
//! biases; llama with bf16 weights in three shards; qwen2 with f16 weights; mistral.

mod common;
mod hf_support;

use hf_support::{floats, ids, model_dir, relative_error, result};
use xlatrain::data::TokenFormat;
use xlatrain::infer::{eval_loss, GenerateOptions, Generator, Sampling, Session};

const TOLERANCE: f64 = 1e-4;

fn check_logits(case: &str) {
    let client = common::cpu();
    let session = Session::open(&client, &model_dir(case)).unwrap();
    let r = result(case);
    let prompt: Vec<i32> = ids(&hf_support::cases()[case]["prompt"])
        .into_iter()
        .map(|t| t as i32)
        .collect();
    let got: Vec<f64> = session
        .logits(&prompt, 1)
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    let numpy = floats(&r["logits_numpy"]);
    let err = relative_error(&got, &numpy);
    eprintln!("{case}: max relative logit error vs numpy {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{case}: logits differ from numpy by {err:e}"
    );
    if let Some(flax) = r.get("logits_flax") {
        let flax = floats(flax);
        let err = relative_error(&got, &flax);
        let refs = relative_error(&numpy, &flax);
        eprintln!("{case}: vs Flax {err:.2e} (numpy vs Flax {refs:.2e})");
        assert!(
            err <= TOLERANCE,
            "{case}: logits differ from Flax by {err:e}"
        );
        assert!(
            refs <= 1e-5,
            "{case}: the two references disagree by {refs:e}"
        );
    }
}

fn check_greedy(case: &str) {
    let client = common::cpu();
    let session = Session::open(&client, &model_dir(case)).unwrap();
    let r = result(case);
    let spec = &hf_support::cases()[case];
    let prompt = ids(&spec["prompt"]);
    let new = spec["new_tokens"].as_u64().unwrap() as usize;
    let generator = Generator::new(&session, prompt.len(), prompt.len() + new).unwrap();
    let options = GenerateOptions {
        max_new_tokens: new,
        sampling: Sampling::default(),
    };
    let out = generator.generate(&prompt, &options).unwrap();
    let want = ids(&r["greedy_numpy"]);
    eprintln!("{case}: greedy {:?}", out.ids);
    assert!(
        want.windows(2).any(|w| w[0] != w[1]),
        "{case}: the fixture's greedy decode repeats one token, so it would not test the cache"
    );
    assert_eq!(
        out.ids, want,
        "{case}: greedy ids differ from the numpy reference"
    );
    if let Some(flax) = r.get("greedy_flax") {
        assert_eq!(out.ids, ids(flax), "{case}: greedy ids differ from Flax");
    }
    assert_eq!(out.prompt_ids, prompt);
}

fn check_eval(case: &str) {
    let client = common::cpu();
    let session = Session::open(&client, &model_dir(case)).unwrap();
    let r = result(case);
    let seq_len = hf_support::cases()[case]["eval_seq_len"].as_u64().unwrap() as usize;
    let data = model_dir(case).parent().unwrap().join("eval.u16");
    let report = eval_loss(&session, &data, TokenFormat::U16, seq_len).unwrap();
    let want = r["eval_loss"].as_f64().unwrap();
    let err = (report.eval_loss - want).abs() / want;
    eprintln!(
        "{case}: eval loss {} vs {want} (relative {err:.2e})",
        report.eval_loss
    );
    assert!(
        err <= TOLERANCE,
        "{case}: eval loss {} vs {want}",
        report.eval_loss
    );
    assert_eq!(report.eval_tokens, r["eval_tokens"].as_u64().unwrap());
    assert!((report.eval_perplexity - report.eval_loss.exp()).abs() < 1e-9);
}

#[test]
fn gpt2_logits_match_transformers() {
    check_logits("gpt2");
}

#[test]
fn llama_gqa_untied_logits_match_transformers() {
    check_logits("llama_gqa_untied");
}

#[test]
fn llama_rope_theta_tied_head_dim_logits_match_the_numpy_reference() {
    check_logits("llama_theta_tied_head_dim");
}

#[test]
fn qwen2_biases_logits_match_the_numpy_reference() {
    check_logits("qwen2_biases");
}

#[test]
fn bf16_sharded_weights_load_and_match_transformers() {
    check_logits("llama_bf16_sharded");
}

#[test]
fn f16_weights_load_and_match_the_numpy_reference() {
    check_logits("qwen2_f16");
}

#[test]
fn mistral_logits_match_the_numpy_reference() {
    check_logits("mistral");
}

#[test]
fn greedy_generation_through_the_kv_cache_equals_the_reference_decode() {
    for case in [
        "gpt2",
        "llama_gqa_untied",
        "llama_theta_tied_head_dim",
        "qwen2_biases",
    ] {
        check_greedy(case);
    }
}

#[test]
fn eval_equals_the_reference_loss() {
    for case in ["gpt2", "llama_gqa_untied", "qwen2_biases"] {
        check_eval(case);
    }
}

/// The trainer's own step program (forward, loss, backward, clipping, AdamW) runs on an HF
/// model: its graph differentiates, its state follows the HF names, and the loss of a fixed
/// batch falls over a few steps.
#[test]
fn the_trainers_step_program_fine_tunes_an_hf_llama() {
    use xlatrain::config::{LrSchedulerType, OptimizerKind};
    use xlatrain::data::BatchLayout;
    use xlatrain::optim::{OptimizerSpec, Schedule};
    use xlatrain::pjrt::{Arg, CompileOptions};
    use xlatrain::train::{state_layout, train_step_program, RNG_KEY, STEP};

    let client = common::cpu();
    let mut session = Session::open(&client, &model_dir("llama_gqa_untied")).unwrap();
    let optimizer = OptimizerSpec {
        kind: OptimizerKind::AdamW,
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
        weight_decay: 0.01,
        momentum: 0.0,
        max_grad_norm: Some(1.0),
        schedule: Schedule {
            kind: LrSchedulerType::Constant,
            base_lr: 1e-2,
            warmup_steps: 0,
            total_steps: 6,
        },
    };
    let (b, t) = (2, 12);
    let layout = BatchLayout {
        x_type: xlatrain::DType::S32,
        x_shape: vec![b, t],
        y_shape: vec![b, t],
    };
    let program = train_step_program(&session.model, &optimizer, &layout, 1).unwrap();
    let exe = client
        .compile(&program.mlir, &CompileOptions::default())
        .unwrap();
    let descs = state_layout(&session.model, &optimizer).unwrap();
    assert!(descs
        .iter()
        .any(|d| d.name == "exp_avg.model.layers.1.mlp.down_proj.weight"));
    let mut state = std::mem::take(&mut session.params);
    for d in &descs[state.len()..] {
        let dims = d.dims();
        state.push(if d.name == STEP {
            client.upload(&[0i32], &dims, 0).unwrap()
        } else if d.name == RNG_KEY {
            client.upload(&[1u64, 2], &dims, 0).unwrap()
        } else {
            client
                .upload(&vec![0f32; d.numel().unwrap()], &dims, 0)
                .unwrap()
        });
    }
    let (x, y) = common::next_token_batch(b, t, 96);
    let dims = [1, b as i64, t as i64];
    let xb = client.upload(&x, &dims, 0).unwrap();
    let yb = client.upload(&y, &dims, 0).unwrap();
    let mut losses = Vec::new();
    for _ in 0..6 {
        let mut args: Vec<Arg> = state.into_iter().map(Arg::Donated).collect();
        args.push(Arg::Borrowed(&xb));
        args.push(Arg::Borrowed(&yb));
        let mut out = exe.execute(args).unwrap();
        let metrics = out.split_off(descs.len());
        losses.push(metrics[0].to_vec::<f32>().unwrap()[0]);
        state = out;
    }
    eprintln!("llama fine-tuning losses: {losses:?}");
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(
        losses[5] < 0.8 * losses[0],
        "the loss of a fixed batch must fall: {losses:?}"
    );
}
