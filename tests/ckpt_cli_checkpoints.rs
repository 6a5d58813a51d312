//! `xlatrain checkpoints list|verify|inspect` and `xlatrain export`, run as a user would: what
//! they print and their exit codes, on checkpoints written by the library.

mod checkpoint_support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use checkpoint_support::*;
use serde_json::Value;
use xlatrain::checkpoint::*;
use xlatrain::models::{GptConfig, ModelConfig};

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// An output directory with checkpoints 10, 20, 30; 20 is recorded as the best.
fn output_dir_with_three(dir: &Path) {
    let mut fx = Fixture::new(3);
    fx.state.best_metric = Some(0.25);
    fx.state.best_global_step = Some(20);
    fx.state.best_model_checkpoint = Some(dir.join("checkpoint-20").display().to_string());
    for step in [10, 20, 30] {
        save_checkpoint(dir, &fx.contents(step), &SaveOptions::default()).unwrap();
    }
}

#[test]
fn list_shows_steps_sizes_validity_with_reason_and_the_best_marker() {
    let dir = tempfile::tempdir().unwrap();
    output_dir_with_three(dir.path());
    // Truncate a shard of the newest checkpoint.
    let shard = dir.path().join("checkpoint-30/model.safetensors");
    let len = fs::metadata(&shard).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len - 4)
        .unwrap();
    let output = xlatrain(&["checkpoints", "list", p(dir.path())]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    let row = |step: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(step))
            .unwrap_or_else(|| panic!("no row for step {step}:\n{out}"))
            .to_string()
    };
    assert!(
        row("10").contains("valid") && !row("10").contains("best"),
        "{out}"
    );
    assert!(
        row("20").contains("valid") && row("20").contains("* best"),
        "{out}"
    );
    assert!(row("30").contains("INVALID"), "{out}");
    assert!(
        row("20").contains("checkpoint-20") && row("20").contains("kB"),
        "{out}"
    );
    assert!(
        out.contains("reason:") && out.contains("model.safetensors"),
        "the reason names the file:\n{out}"
    );
    assert!(out.contains("3 checkpoints, 2 valid"), "{out}");
}

#[test]
fn verify_passes_an_intact_checkpoint_and_names_the_damaged_file_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    output_dir_with_three(dir.path());
    let good = dir.path().join("checkpoint-10");
    let output = xlatrain(&["checkpoints", "verify", p(&good)]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(out.starts_with("OK ") && out.contains("step 10"), "{out}");

    // Flip one byte inside the tensor data: only the checksum can notice.
    let shard = dir.path().join("checkpoint-20/optimizer.safetensors");
    let mut bytes = fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    fs::write(&shard, bytes).unwrap();
    let output = xlatrain(&[
        "checkpoints",
        "verify",
        p(&dir.path().join("checkpoint-20")),
    ]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("checksum mismatch") && err.contains("optimizer.safetensors"),
        "{err}"
    );

    // The whole output directory: every checkpoint listed, exit 1 for the bad one.
    let output = xlatrain(&["checkpoints", "verify", p(dir.path())]);
    let (out, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}{err}");
    assert!(out.contains("OK      ") && out.contains("INVALID"), "{out}");
    assert!(err.contains("checkpoint-20"), "{err}");
}

#[test]
fn inspect_shows_tensors_metadata_and_trainer_state() {
    let dir = tempfile::tempdir().unwrap();
    output_dir_with_three(dir.path());
    let output = xlatrain(&[
        "checkpoints",
        "inspect",
        p(&dir.path().join("checkpoint-20")),
    ]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    for want in [
        "step 20",
        "model tensors: 14",
        "transformer.h.0.attn.c_attn.weight",
        "F16[8, 24]",
        "optimizer tensors: 4",
        "U32[2]",
        "model.safetensors metadata: format=pt",
        "global_step 20",
        "best_metric 0.25, best_global_step 20",
        "log_history: 1 entries",
        "architecture (none recorded: not a training run's checkpoint)",
        "\"offset\":4096",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
}

#[test]
fn missing_paths_are_usage_errors() {
    let output = xlatrain(&["checkpoints", "inspect", "/nonexistent/checkpoint-1"]);
    assert_eq!(output.status.code(), Some(2));
    let output = xlatrain(&["export", "/nonexistent/checkpoint-1", "/tmp/x"]);
    assert_eq!(output.status.code(), Some(2));
}

/// A checkpoint of a 2-layer GPT at its initial parameters, as the trainer lays it out.
fn gpt_checkpoint(dir: &Path) -> (std::path::PathBuf, GptConfig, Vec<Vec<f32>>) {
    let config = GptConfig {
        vocab_size: 32,
        d_model: 16,
        n_layers: 2,
        n_heads: 2,
        d_ff: 24,
        seq_len: 8,
        ..GptConfig::default()
    };
    let model = ModelConfig::Gpt(config.clone());
    let values = model.init_params().unwrap();
    let mut tensors = HostTensors::new();
    for (spec, v) in model.param_specs().unwrap().iter().zip(&values) {
        let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        tensors
            .push(
                TensorSpec::new(spec.name.clone(), DType::F32, spec.shape.clone()),
                bytes,
            )
            .unwrap();
    }
    let state = TrainerState::at_step(5);
    let contents = CheckpointContents {
        step: 5,
        model: &tensors,
        optimizer: None,
        trainer_state: &state,
        training_args: &serde_json::json!({}),
        config: &serde_json::to_value(&model).unwrap(),
    };
    let saved = save_checkpoint(dir, &contents, &SaveOptions::default()).unwrap();
    (saved.path, config, values)
}

#[test]
fn export_writes_gpt2_names_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoint, config, values) = gpt_checkpoint(&dir.path().join("run"));
    let out_dir = dir.path().join("export");
    let output = xlatrain(&["export", p(&checkpoint), p(&out_dir)]);
    let (out, err) = text(&output);
    assert!(output.status.success(), "{err}");
    assert!(
        out.contains("as gpt2") && out.contains("28 tensors"),
        "{out}"
    );

    let (tensors, metadata) = minimal_read(&out_dir.join("model.safetensors"));
    assert_eq!(metadata.get("format").map(String::as_str), Some("pt"));
    assert_eq!(tensors.len(), 4 + 12 * 2);
    let wte = &tensors["transformer.wte.weight"];
    assert_eq!(
        (wte.dtype.as_str(), wte.shape.as_slice()),
        ("F32", &[32usize, 16][..])
    );
    let first: Vec<u8> = values[0].iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(wte.bytes, first, "values unchanged");
    let c_attn = &tensors["transformer.h.1.attn.c_attn.weight"];
    assert_eq!(c_attn.shape, [16, 48], "Conv1D layout [in, out]");
    for name in [
        "transformer.wpe.weight",
        "transformer.h.0.ln_1.weight",
        "transformer.h.0.ln_1.bias",
        "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.attn.c_proj.weight",
        "transformer.h.0.ln_2.weight",
        "transformer.h.0.mlp.c_fc.weight",
        "transformer.h.0.mlp.c_proj.bias",
        "transformer.ln_f.weight",
        "transformer.ln_f.bias",
    ] {
        assert!(tensors.contains_key(name), "{name}");
    }
    assert!(!tensors.contains_key("lm_head.weight"), "tied to wte");

    let hf: Value =
        serde_json::from_slice(&fs::read(out_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(hf["model_type"], "gpt2");
    assert_eq!(hf["architectures"][0], "GPT2LMHeadModel");
    assert_eq!(hf["n_embd"], config.d_model);
    assert_eq!(hf["n_layer"], config.n_layers);
    assert_eq!(hf["n_head"], config.n_heads);
    assert_eq!(hf["n_inner"], config.d_ff);
    assert_eq!(hf["n_positions"], config.seq_len);
    assert_eq!(hf["vocab_size"], config.vocab_size);
    assert_eq!(hf["layer_norm_epsilon"], config.layer_norm_eps);
    assert_eq!(hf["activation_function"], "gelu_new");
}

#[test]
fn export_refuses_a_corrupt_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (checkpoint, _, _) = gpt_checkpoint(&dir.path().join("run"));
    let shard = checkpoint.join("model.safetensors");
    let mut bytes = fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    fs::write(&shard, bytes).unwrap();
    let out_dir = dir.path().join("export");
    let output = xlatrain(&["export", p(&checkpoint), p(&out_dir)]);
    let (_, err) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert!(!out_dir.join("model.safetensors").exists());
}
