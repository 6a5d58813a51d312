//! Shared fixtures of the Hugging Face model tests: tiny random models and their reference
//! values, made by scripts/hf_reference.py (numpy written from transformers' modeling semantics,
//! and transformers' own Flax classes), cached under the target directory by the hash of the
//! script and the cases.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The Python interpreter of the pinned reference environment (tests/common/python.rs).
pub fn python() -> PathBuf {
    crate::common::python::reference_python()
}

/// The reference cases: shapes chosen to cover each family and the numerics-changing keys.
pub fn cases() -> Value {
    let llama = json!({"vocab_size": 96, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48,
        "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "eos_token_id": 95});
    let with = |base: &Value, extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let prompt = json!([3, 17, 42, 8, 61, 25, 90]);
    json!({
        "gpt2": {"family": "gpt2", "config": {"vocab_size": 96, "n_embd": 32, "n_layer": 2,
            "n_head": 4, "n_positions": 32, "layer_norm_epsilon": 1e-5},
            "prompt": prompt, "new_tokens": 8, "flax": true, "eval_seq_len": 12, "eval_tokens": 100},
        "llama_gqa_untied": {"family": "llama",
            "config": with(&llama, json!({"tie_word_embeddings": false})),
            "prompt": prompt, "new_tokens": 8, "flax": true, "eval_seq_len": 12, "eval_tokens": 100},
        "llama_theta_tied_head_dim": {"family": "llama",
            "config": with(&llama, json!({"tie_word_embeddings": true, "rope_theta": 500000.0,
                "head_dim": 16})),
            "prompt": prompt, "new_tokens": 8, "seed": 1},
        "qwen2_biases": {"family": "qwen2",
            "config": with(&llama, json!({"rope_theta": 1000000.0, "tie_word_embeddings": true})),
            "prompt": prompt, "new_tokens": 8, "seed": 2, "eval_seq_len": 10, "eval_tokens": 80},
        "llama_bf16_sharded": {"family": "llama",
            "config": with(&llama, json!({"tie_word_embeddings": false})),
            "dtype": "bfloat16", "shards": 3, "prompt": prompt, "new_tokens": 8, "seed": 3,
            "flax": true},
        "qwen2_f16": {"family": "qwen2",
            "config": with(&llama, json!({"tie_word_embeddings": false})),
            "dtype": "float16", "prompt": prompt, "new_tokens": 8, "seed": 5},
        "mistral": {"family": "mistral",
            "config": with(&llama, json!({"sliding_window": 4096, "rope_theta": 1000000.0})),
            "prompt": prompt, "new_tokens": 8, "seed": 4},
    })
}

/// The generated models and reference values: `(root, results)`; case `NAME`'s model
/// directory is `root/NAME/model`.
pub fn reference() -> &'static (PathBuf, Value) {
    static REFERENCE: OnceLock<(PathBuf, Value)> = OnceLock::new();
    REFERENCE.get_or_init(|| generate("hf_reference.py", &[], &cases()))
}

/// Runs `scripts/SCRIPT LEADING.. CASES OUT_DIR` in the reference environment once per content
/// of the script and the cases, caching OUT_DIR (with the printed results as results.json) under
/// the target directory; returns `(OUT_DIR, results)`.
pub fn generate(script: &str, leading: &[&str], cases: &Value) -> (PathBuf, Value) {
    let stem = script.trim_end_matches(".py");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let text = std::fs::read(&script).unwrap_or_else(|e| panic!("{}: {e}", script.display()));
    let cases = cases.to_string();
    let digest = Sha256::digest([text.as_slice(), cases.as_bytes()].concat());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{stem}-{hex}"));
    let results = root.join("results.json");
    if let Ok(bytes) = std::fs::read(&results) {
        if let Ok(v) = serde_json::from_slice(&bytes) {
            return (root, v);
        }
    }
    let staging = root.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).unwrap();
    let out = Command::new(python())
        .arg(&script)
        .args(leading)
        .arg(&cases)
        .arg(&staging)
        .env("JAX_PLATFORMS", "cpu")
        .output()
        .expect("the reference Python interpreter must run");
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(staging.join("results.json"), &out.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&root);
    if std::fs::rename(&staging, &root).is_err() {
        // another test process won the race: use its copy
        let _ = std::fs::remove_dir_all(&staging);
    }
    let v = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    (root, v)
}

/// Model directory of a case.
pub fn model_dir(case: &str) -> PathBuf {
    reference().0.join(case).join("model")
}

/// Reference results of a case.
pub fn result(case: &str) -> &'static Value {
    &reference().1[case]
}

pub fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub fn ids(v: &Value) -> Vec<u32> {
    floats(v).into_iter().map(|x| x as u32).collect()
}

/// `max |got - want| / max |want|`: the error relative to the logits' scale.
pub fn relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let scale = want.iter().fold(0f64, |m, x| m.max(x.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}
