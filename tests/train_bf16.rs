//! `--bf16` (mixed precision) as a user runs it: the lowered step computes its matmuls in bf16
//! and its reductions (softmax, norms, loss, gradient norm) in f32; a bf16 run follows the f32
//! run's loss curve within 2%; checkpoints hold the f32 master state and resume bit-exactly; a
//! resume under another precision is refused unless `--allow-precision-change`.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn ok(output: Output) -> Output {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A GPT small enough for 200 CPU steps in bf16 (the CPU plugin emulates bf16 dots slowly).
const SMALL_GPT: [&str; 14] = [
    "--model",
    "gpt",
    "--d-model",
    "64",
    "--n-layers",
    "2",
    "--n-heads",
    "4",
    "--d-ff",
    "128",
    "--seq-len",
    "32",
    "--per-device-train-batch-size",
    "8",
];

fn train(extra: &[&str]) -> Output {
    let mut args = vec!["train"];
    args.extend(SMALL_GPT);
    args.extend(["--report-to", "jsonl"]);
    args.extend(extra);
    xlatrain(&args)
}

/// The `(operand types, result type)` text of every `stablehlo.<op>` line.
fn op_types<'a>(program: &'a str, op: &str) -> Vec<&'a str> {
    program
        .lines()
        .filter(|l| {
            l.contains(&format!("stablehlo.{op} ")) || l.contains(&format!("stablehlo.{op}("))
        })
        .filter_map(|l| l.rsplit_once(" : ").map(|(_, types)| types))
        .collect()
}

#[test]
fn lower_bf16_prints_bf16_dots_and_f32_reductions_and_f32_state() {
    let f32_program = String::from_utf8(ok(xlatrain(&["lower", "--model", "gpt"])).stdout).unwrap();
    let output = ok(xlatrain(&["lower", "--model", "gpt", "--bf16"]));
    let program = String::from_utf8(output.stdout).unwrap();
    assert!(!f32_program.contains("bf16"), "the f32 program has no bf16");
    let dots = op_types(&program, "dot_general");
    // forward, and both operands' backward dots: as many as the f32 program has
    assert_eq!(dots.len(), op_types(&f32_program, "dot_general").len());
    assert!(dots.len() >= 3 * 8, "{}", dots.len());
    for types in &dots {
        let (operands, result) = types.split_once(" -> ").unwrap();
        assert_eq!(operands.matches("xbf16>").count(), 2, "{types}");
        assert!(result.ends_with("xbf16>"), "{types}");
    }
    // softmax (max, sum), layer norms, cross-entropy and the gradient norm reduce in f32
    let reduces = op_types(&program, "reduce");
    assert!(reduces.len() > 10, "{}", reduces.len());
    for types in &reduces {
        assert!(!types.contains("bf16"), "a reduction in bf16: {types}");
    }
    assert!(program.contains("stablehlo.maximum across"), "softmax max");
    // the state (parameters, AdamW moments) enters and leaves the step as f32
    let main = program
        .lines()
        .find(|l| l.contains("func.func public @main"))
        .unwrap();
    assert!(main.contains("%wte: tensor<256x256xf32>"), "{main}");
    assert!(
        main.contains("%exp_avg_sq.wte: tensor<256x256xf32>"),
        "{main}"
    );
    assert!(!main.contains("bf16"), "{main}");
}

fn losses(dir: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|e| Some((e["step"].as_u64()?, e.get("loss")?.as_f64()?)))
        .collect()
}

#[test]
fn a_bf16_run_follows_the_f32_loss_curve_within_2_percent_over_200_steps() {
    let dir = tempfile::tempdir().unwrap();
    let (f32_dir, bf16_dir) = (dir.path().join("f32"), dir.path().join("bf16"));
    let common = ["--max-steps", "200", "--save-strategy", "no"];
    let mut f32_args = common.to_vec();
    f32_args.extend(["--output-dir", f32_dir.to_str().unwrap()]);
    ok(train(&f32_args));
    let mut bf16_args = common.to_vec();
    bf16_args.extend(["--output-dir", bf16_dir.to_str().unwrap(), "--bf16"]);
    ok(train(&bf16_args));
    let (reference, mixed) = (losses(&f32_dir), losses(&bf16_dir));
    assert_eq!(reference.len(), 20);
    assert_eq!(
        reference.iter().map(|e| e.0).collect::<Vec<_>>(),
        mixed.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs();
    for ((step, a), (_, b)) in reference.iter().zip(&mixed) {
        assert!(rel(*a, *b) < 0.02, "step {step}: f32 {a}, bf16 {b}");
    }
    let (last_f32, last_bf16) = (reference[19].1, mixed[19].1);
    assert!(rel(last_f32, last_bf16) < 0.02, "{last_f32} vs {last_bf16}");
    // it learned, and bf16 really computed something else
    assert!(last_f32 < 0.6 * reference[0].1, "{reference:?}");
    assert!(
        reference.iter().zip(&mixed).any(|(a, b)| a.1 != b.1),
        "bf16 losses are bit-identical to f32: the policy did nothing"
    );
}

/// The tensors of a safetensors file's JSON header, by name.
fn safetensors_header(path: &Path) -> serde_json::Map<String, Value> {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes[8..8 + len]).unwrap();
    header.remove("__metadata__");
    header
}

/// Element types of every tensor of a safetensors file.
fn safetensors_dtypes(path: &Path) -> Vec<(String, String)> {
    safetensors_header(path)
        .iter()
        .map(|(name, t)| (name.clone(), t["dtype"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn bf16_checkpoints_hold_the_f32_master_state_resume_bit_exactly_and_refuse_a_precision_change() {
    let dir = tempfile::tempdir().unwrap();
    let straight = dir.path().join("straight");
    let straight_s = straight.to_str().unwrap();
    let save = ["--max-steps", "4", "--save-steps", "2", "--no-async-save"];
    let mut args = save.to_vec();
    args.extend(["--output-dir", straight_s, "--bf16"]);
    ok(train(&args));
    let ckpt = straight.join("checkpoint-2");
    let model = safetensors_dtypes(&ckpt.join("model.safetensors"));
    let optimizer = safetensors_dtypes(&ckpt.join("optimizer.safetensors"));
    assert!(model.len() > 10 && optimizer.len() > 20);
    for (name, dtype) in model.iter().chain(&optimizer) {
        let expected = match name.as_str() {
            "step" => "I32",
            "rng_key" => "U64",
            _ => "F32",
        };
        assert_eq!(dtype, expected, "{name}");
    }
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("trainer_state.json")).unwrap())
            .unwrap();
    assert_eq!(state["mixed_precision"], "bf16");

    // the same policy resumes bit-exactly
    let resumed = dir.path().join("resumed");
    let resume = ["--resume-from-checkpoint", ckpt.to_str().unwrap()];
    let mut args = save.to_vec();
    args.extend(resume);
    args.extend(["--output-dir", resumed.to_str().unwrap(), "--bf16"]);
    ok(train(&args));
    for file in ["model.safetensors", "optimizer.safetensors"] {
        let a = std::fs::read(straight.join("checkpoint-4").join(file)).unwrap();
        let b = std::fs::read(resumed.join("checkpoint-4").join(file)).unwrap();
        assert!(a == b, "{file} differs after a bf16 resume");
    }

    // another policy is refused, naming the flag, and loses nothing
    let changed = dir.path().join("changed");
    let mut args = save.to_vec();
    args.extend(resume);
    args.extend(["--output-dir", changed.to_str().unwrap()]);
    let refused = train(&args);
    assert_eq!(refused.status.code(), Some(2));
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("mixed_precision = \"bf16\""), "{message}");
    assert!(message.contains("--allow-precision-change"), "{message}");
    assert!(!changed.join("checkpoint-4").exists());
    assert!(ckpt.join("model.safetensors").exists());

    // and allowed with the flag, with a warning
    args.push("--allow-precision-change");
    let allowed = ok(train(&args));
    let message = String::from_utf8_lossy(&allowed.stderr);
    assert!(
        message.contains("warning:") && message.contains("\"no\""),
        "{message}"
    );
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(changed.join("checkpoint-4/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["mixed_precision"], "no");
}

#[test]
fn fp16_is_refused_with_the_reason() {
    for args in [
        vec!["train", "--model", "gpt", "--fp16"],
        vec!["train", "--model", "gpt", "--mixed-precision", "fp16"],
        vec!["lower", "--model", "gpt", "--set", "mixed_precision=fp16"],
    ] {
        let out = xlatrain(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let message = String::from_utf8_lossy(&out.stderr);
        assert!(message.contains("loss scaling"), "{message}");
    }
}

#[test]
fn log_events_and_the_summary_carry_tflops_per_device_and_mfu_from_the_analytic_flops() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let run = ok(train(&[
        "--max-steps",
        "20",
        "--logging-steps",
        "10",
        "--save-steps",
        "20",
        "--peak-tflops",
        "0.5",
        "--output-dir",
        out.to_str().unwrap(),
    ]));
    // parameters counted from the checkpoint, not from our FLOP code
    let header = safetensors_header(&out.join("checkpoint-20/model.safetensors"));
    let params: f64 = header
        .values()
        .filter_map(|t| t.get("shape")?.as_array().cloned())
        .map(|shape| shape.iter().map(|d| d.as_f64().unwrap()).product::<f64>())
        .sum();
    let (tokens, layers, seq, width) = (8.0 * 32.0, 2.0, 32.0, 64.0);
    let flops_per_step = 6.0 * params * tokens + 12.0 * layers * seq * width * tokens;
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let training: Vec<&Value> = events.iter().filter(|e| e.get("loss").is_some()).collect();
    assert_eq!(training.len(), 2);
    for e in training {
        let steps_per_second = e["tokens_per_second"].as_f64().unwrap() / tokens;
        let tflops = e["tflops_per_device"].as_f64().unwrap();
        let expected = flops_per_step * steps_per_second / 1e12;
        assert!((tflops - expected).abs() <= 1e-9 * expected, "{e}");
        let mfu = e["mfu"].as_f64().unwrap();
        assert!((mfu - tflops / 0.5).abs() <= 1e-12, "{e}");
    }
    let summary = events.last().unwrap();
    let steps_per_second = summary["train_steps_per_second"].as_f64().unwrap();
    let tflops = summary["train_tflops_per_device"].as_f64().unwrap();
    let expected = flops_per_step * steps_per_second / 1e12;
    assert!((tflops - expected).abs() <= 1e-9 * expected, "{summary}");
    assert!(summary["train_mfu"].as_f64().unwrap() > 0.0, "{summary}");
    assert!(String::from_utf8_lossy(&run.stdout).contains("mfu="));

    // on the CPU, no peak is known: TFLOP/s without MFU
    let cpu = dir.path().join("cpu");
    ok(train(&[
        "--max-steps",
        "10",
        "--save-strategy",
        "no",
        "--output-dir",
        cpu.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(cpu.join("metrics.jsonl")).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(
        first["tflops_per_device"].as_f64().unwrap() > 0.0,
        "{first}"
    );
    assert!(first.get("mfu").is_none(), "{first}");
}

/// The bytes of tensor `name` of a safetensors file.
fn tensor_bytes(path: &Path, name: &str) -> Vec<u8> {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = safetensors_header(path);
    let offsets = header[name]["data_offsets"].as_array().unwrap();
    let (start, end) = (
        offsets[0].as_u64().unwrap() as usize,
        offsets[1].as_u64().unwrap() as usize,
    );
    bytes[8 + len + start..8 + len + end].to_vec()
}

#[test]
fn export_save_dtype_bf16_writes_rounded_bf16_weights_and_torch_dtype_while_the_checkpoint_stays_f32(
) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    ok(train(&[
        "--max-steps",
        "2",
        "--save-steps",
        "2",
        "--bf16",
        "--output-dir",
        out.to_str().unwrap(),
    ]));
    let ckpt = out.join("checkpoint-2");
    let export = dir.path().join("export");
    ok(xlatrain(&[
        "export",
        ckpt.to_str().unwrap(),
        export.to_str().unwrap(),
        "--save-dtype",
        "bf16",
    ]));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(export.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["torch_dtype"], "bfloat16");
    let weights = export.join("model.safetensors");
    let dtypes = safetensors_dtypes(&weights);
    assert!(!dtypes.is_empty());
    assert!(dtypes.iter().all(|(_, d)| d == "BF16"), "{dtypes:?}");
    // GPT-2's `transformer.wte.weight` is our `wte`: the bf16 value is the f32 one rounded
    let master = tensor_bytes(&ckpt.join("model.safetensors"), "wte");
    let narrow = tensor_bytes(&weights, "transformer.wte.weight");
    assert_eq!(master.len(), 2 * narrow.len());
    for (f, b) in master.chunks_exact(4).zip(narrow.chunks_exact(2)) {
        let f = f32::from_le_bytes(f.try_into().unwrap());
        let b = f32::from_bits(u32::from(u16::from_le_bytes(b.try_into().unwrap())) << 16);
        assert!((f - b).abs() <= f.abs() * 2f32.powi(-8), "{f} vs {b}");
    }
    assert!(safetensors_dtypes(&ckpt.join("model.safetensors"))
        .iter()
        .all(|(_, d)| d == "F32"));
    // the default stays f32
    let f32_export = dir.path().join("export32");
    ok(xlatrain(&[
        "export",
        ckpt.to_str().unwrap(),
        f32_export.to_str().unwrap(),
    ]));
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(f32_export.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(config["torch_dtype"], "float32");
}
