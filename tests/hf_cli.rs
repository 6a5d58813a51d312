//! `xlatrain eval` and `xlatrain generate` from the command line: `--json` objects equal to the
//! reference values (scripts/hf_reference.py), text prompts through the model's tokenizer.json,
//! and bad input (a hub id, a refused config key, a text prompt with no tokenizer) exiting 2
//! with a message naming the problem.

mod common;
mod hf_support;

use std::path::Path;
use std::process::{Command, Output};

use hf_support::{ids, model_dir, result};
use serde_json::{json, Value};

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

fn json_of(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "xlatrain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
}

/// A copy of a case's model directory with `edit` applied to its config.json.
fn edited_copy(case: &str, dir: &Path, edit: impl Fn(&mut Value)) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(model_dir(case)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let path = dir.join("config.json");
    let mut config: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(&path, config.to_string()).unwrap();
}

#[test]
fn eval_json_equals_the_reference_loss() {
    let case = "llama_gqa_untied";
    let data = model_dir(case).parent().unwrap().join("eval.u16");
    let dir = model_dir(case);
    let out = xlatrain(&[
        "eval",
        "--model-name-or-path",
        dir.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--data-format",
        "u16",
        "--seq-len",
        "12",
        "--json",
    ]);
    let got = json_of(&out);
    let want = result(case)["eval_loss"].as_f64().unwrap();
    let loss = got["eval_loss"].as_f64().unwrap();
    assert!(
        (loss - want).abs() <= 1e-4 * want,
        "eval_loss {loss} vs {want}"
    );
    assert_eq!(got["eval_tokens"], result(case)["eval_tokens"]);
    let ppl = got["eval_perplexity"].as_f64().unwrap();
    assert!((ppl - loss.exp()).abs() <= 1e-9 * ppl);
}

#[test]
fn generate_json_gives_the_reference_greedy_ids_and_text_through_the_tokenizer() {
    let case = "gpt2";
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gpt2");
    edited_copy(case, &dir, |_| {});
    // a word-level tokenizer over the tiny vocabulary: "w0".."w95"
    let vocab: serde_json::Map<String, Value> =
        (0..96).map(|i| (format!("w{i}"), json!(i))).collect();
    let tokenizer = json!({"version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [], "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": null, "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "w0"}});
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
    let prompt = ids(&hf_support::cases()[case]["prompt"]);
    let want = ids(&result(case)["greedy_numpy"]);
    let prompt_ids: Vec<String> = prompt.iter().map(u32::to_string).collect();
    let by_ids = json_of(&xlatrain(&[
        "generate",
        dir.to_str().unwrap(),
        "--prompt-ids",
        &prompt_ids.join(","),
        "--max-new-tokens",
        "8",
        "--json",
    ]));
    assert_eq!(ids(&by_ids["ids"]), want);
    assert_eq!(ids(&by_ids["prompt_ids"]), prompt);
    let words: Vec<String> = prompt.iter().map(|i| format!("w{i}")).collect();
    let by_text = json_of(&xlatrain(&[
        "generate",
        "--model-name-or-path",
        dir.to_str().unwrap(),
        "--prompt",
        &words.join(" "),
        "--max-new-tokens",
        "8",
        "--json",
    ]));
    assert_eq!(ids(&by_text["prompt_ids"]), prompt);
    assert_eq!(ids(&by_text["ids"]), want);
    let text: Vec<String> = want.iter().map(|i| format!("w{i}")).collect();
    assert_eq!(by_text["text"], json!(text.join(" ")));
}

#[test]
fn sampling_is_reproducible_by_seed() {
    let dir = model_dir("llama_gqa_untied");
    let run = |seed: &str| {
        json_of(&xlatrain(&[
            "generate",
            dir.to_str().unwrap(),
            "--prompt-ids",
            "3,17,42",
            "--max-new-tokens",
            "12",
            "--temperature",
            "1.5",
            "--top-k",
            "40",
            "--top-p",
            "0.95",
            "--seed",
            seed,
            "--json",
        ]))["ids"]
            .clone()
    };
    let a = run("1");
    assert_eq!(a, run("1"), "the same seed must give the same tokens");
    assert_eq!(a.as_array().unwrap().len(), 12);
}

#[test]
fn bad_models_and_prompts_exit_2_naming_the_problem() {
    refused(
        &xlatrain(&[
            "generate",
            "HuggingFaceTB/SmolLM2-135M",
            "--prompt-ids",
            "1",
        ]),
        "never downloads",
    );
    let tmp = tempfile::tempdir().unwrap();
    let scaled = tmp.path().join("scaled");
    edited_copy("llama_gqa_untied", &scaled, |c| {
        c["rope_scaling"] = json!({"rope_type": "llama3", "factor": 8.0});
    });
    refused(
        &xlatrain(&["generate", scaled.to_str().unwrap(), "--prompt-ids", "1,2"]),
        "rope_scaling",
    );
    let window = tmp.path().join("window");
    edited_copy("mistral", &window, |c| c["sliding_window"] = json!(4));
    refused(
        &xlatrain(&[
            "generate",
            window.to_str().unwrap(),
            "--prompt-ids",
            "1,2,3,4,5,6",
        ]),
        "sliding_window",
    );
    let dir = model_dir("llama_gqa_untied");
    refused(
        &xlatrain(&["generate", dir.to_str().unwrap(), "--prompt", "hello"]),
        "tokenizer",
    );
    refused(
        &xlatrain(&["generate", dir.to_str().unwrap(), "--prompt-ids", "1,x"]),
        "prompt_ids",
    );
    let wrong = tmp.path().join("wrong");
    edited_copy("llama_gqa_untied", &wrong, |c| {
        c["num_hidden_layers"] = json!(1)
    });
    refused(
        &xlatrain(&["generate", wrong.to_str().unwrap(), "--prompt-ids", "1"]),
        "model.layers.1",
    );
}
