//! Fine-tuning a sequence classifier end to end on the real CPU plugin: a tiny random-initialised
//! BERT, saved as a base encoder only (`BertModel` names, no `bert.` prefix, no classifier, a
//! pre-training tensor to ignore), learns a toy task (label "yes" when the keyword "apple"
//! occurs) with `xlatrain train --data --eval-data --label-column`: a fresh head of the data's
//! two string labels, eval accuracy above 0.9, eval_f1/precision/recall logged, the best
//! checkpoint picked by eval_f1 and kept under --save-total-limit 1, the label map in the
//! checkpoint's config.json, `xlatrain predict` on it, and transformers'
//! FlaxBertForSequenceClassification loading the checkpoint with from_pretrained and computing
//! the logits `predict` prints.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};
use xlatrain::checkpoint::{write_safetensors_file, DType, HostTensors, TensorSpec};

const WORDS: [&str; 16] = [
    "apple", "tree", "house", "river", "stone", "cloud", "green", "quick", "slow", "table", "door",
    "light", "night", "bird", "song", "road",
];
const SPECIALS: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

fn tokenizer_json() -> String {
    let mut vocab = serde_json::Map::new();
    for (i, w) in SPECIALS.iter().chain(WORDS.iter()).enumerate() {
        vocab.insert(w.to_string(), json!(i));
    }
    let special = |id: usize, content: &str| {
        json!({"id": id, "content": content, "single_word": false, "lstrip": false,
               "rstrip": false, "normalized": false, "special": true})
    };
    let token = |id: &str, type_id: u32| json!({"SpecialToken": {"id": id, "type_id": type_id}});
    let seq = |id: &str, type_id: u32| json!({"Sequence": {"id": id, "type_id": type_id}});
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": SPECIALS.iter().enumerate().map(|(i, s)| special(i, s)).collect::<Vec<_>>(),
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [token("[CLS]", 0), seq("A", 0), token("[SEP]", 0)],
            "pair": [token("[CLS]", 0), seq("A", 0), token("[SEP]", 0), seq("B", 1),
                     token("[SEP]", 1)],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
    .to_string()
}

fn config() -> Value {
    json!({"model_type": "bert", "architectures": ["BertModel"],
           "vocab_size": SPECIALS.len() + WORDS.len(), "hidden_size": 32,
           "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 64,
           "max_position_embeddings": 32, "type_vocab_size": 2, "pad_token_id": 0,
           "initializer_range": 0.02})
}

/// A base BERT encoder as `BertModel.save_pretrained` names it, initialised as transformers
/// does (normal 0.02 weights, zero biases, unit LayerNorm scales), plus a stray MLM bias.
fn base_model(dir: &Path) -> PathBuf {
    let model = dir.join("bert-base-tiny");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(model.join("config.json"), config().to_string()).unwrap();
    std::fs::write(model.join("tokenizer.json"), tokenizer_json()).unwrap();
    let parsed = xlatrain::hf::HfConfig::from_json(Path::new("config.json"), &config()).unwrap();
    let table = xlatrain::hf::tensor_table(&parsed);
    let mut tensors = HostTensors::new();
    let keep = table.params.len() - 2; // no classifier
    for (i, p) in table.params[..keep].iter().enumerate() {
        let n: usize = p.shape.iter().product();
        let values: Vec<f32> = if p.name.contains("LayerNorm.weight") {
            vec![1.0; n]
        } else if p.shape.len() == 1 {
            vec![0.0; n]
        } else {
            xlatrain::rng::normal_init(1000 + i as u64, n, 0.02)
        };
        let name = p.name.strip_prefix("bert.").unwrap();
        let shape = p.shape.clone();
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors
            .push(TensorSpec::new(name, DType::F32, shape), bytes)
            .unwrap();
    }
    let vocab = SPECIALS.len() + WORDS.len();
    let stray = vec![0u8; vocab * 4];
    tensors
        .push(
            TensorSpec::new("cls.predictions.bias", DType::F32, vec![vocab]),
            stray,
        )
        .unwrap();
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    write_safetensors_file(&model.join("model.safetensors"), &tensors, &metadata).unwrap();
    model
}

/// `n` sentences of 3-8 words; label "yes" exactly when "apple" is one of them (about half).
fn toy_data(path: &Path, n: usize, seed: u64) -> Vec<(String, bool)> {
    let mut state = seed;
    let mut next = |m: u64| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    let mut rows = Vec::new();
    let mut text = String::new();
    for _ in 0..n {
        let len = 3 + next(6) as usize;
        let mut words: Vec<&str> = (0..len).map(|_| WORDS[1 + next(15) as usize]).collect();
        let keyword = next(2) == 1;
        if keyword {
            let at = next(len as u64) as usize;
            words[at] = "apple";
        }
        let sentence = words.join(" ");
        let label = if keyword { "yes" } else { "no" };
        text.push_str(&json!({"sentence": sentence, "label": label}).to_string());
        text.push('\n');
        rows.push((sentence, keyword));
    }
    std::fs::write(path, text).unwrap();
    rows
}

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("the xlatrain binary runs")
}

/// Runs xlatrain, which must succeed; returns (stdout, stderr).
fn succeed(args: &[&str]) -> (String, String) {
    let out = xlatrain(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "xlatrain {args:?} failed:\n{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

fn eval_entries(out: &Path) -> Vec<Value> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v.get("eval_f1").is_some())
        .collect()
}

#[test]
fn a_random_bert_learns_the_keyword_task_and_its_best_checkpoint_loads_in_transformers() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hf_classify-keyword");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = base_model(&dir);
    let train = dir.join("train.jsonl");
    let eval = dir.join("eval.jsonl");
    toy_data(&train, 384, 1);
    let eval_rows = toy_data(&eval, 96, 2);
    let out = dir.join("out");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (model_s, train_s, eval_s, out_s) = (s(&model), s(&train), s(&eval), s(&out));
    let (_, train_log) = succeed(&[
        "train",
        "--model-name-or-path",
        &model_s,
        "--data",
        &train_s,
        "--eval-data",
        &eval_s,
        "--text-column",
        "sentence",
        "--label-column",
        "label",
        "--max-seq-length",
        "12",
        "--per-device-train-batch-size",
        "16",
        "--learning-rate",
        "2e-3",
        "--weight-decay",
        "0.01",
        "--num-train-epochs",
        "4",
        "--eval-strategy",
        "epoch",
        "--save-strategy",
        "epoch",
        "--metric-for-best-model",
        "eval_f1",
        "--load-best-model-at-end",
        "--save-total-limit",
        "1",
        "--logging-steps",
        "8",
        "--output-dir",
        &out_s,
    ]);
    // the base encoder has no classifier: the run says that it starts a fresh head
    assert!(
        train_log.contains("a fresh classification head of 2 labels starts"),
        "{train_log}"
    );

    // metrics: every eval logs the classification metrics, and the task is learnt
    let evals = eval_entries(&out);
    assert_eq!(evals.len(), 4, "one eval per epoch: {evals:?}");
    for e in &evals {
        for key in [
            "eval_loss",
            "eval_accuracy",
            "eval_precision",
            "eval_recall",
        ] {
            assert!(e[key].is_number(), "{key} missing in {e}");
        }
    }
    // the first eval with the highest F1 (a later tie is no improvement, as in HF)
    let top = evals
        .iter()
        .filter_map(|e| e["eval_f1"].as_f64())
        .fold(f64::NEG_INFINITY, f64::max);
    let best = evals
        .iter()
        .find(|e| e["eval_f1"].as_f64() == Some(top))
        .unwrap();
    let lowest_loss = evals
        .iter()
        .min_by(|a, b| {
            a["eval_loss"]
                .as_f64()
                .partial_cmp(&b["eval_loss"].as_f64())
                .unwrap()
        })
        .unwrap();
    eprintln!("evals: {evals:?}");
    let accuracy = best["eval_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.9, "best eval accuracy {accuracy}");

    // best model: chosen by eval_f1 (greater is better by default), kept despite the limit
    let best_step = best["step"].as_u64().unwrap();
    let best_dir = out.join(format!("checkpoint-{best_step}"));
    assert!(
        best_dir.is_dir(),
        "the best checkpoint {best_dir:?} was deleted"
    );
    let state: Value = serde_json::from_slice(
        &std::fs::read(out.join(format!(
            "checkpoint-{}/trainer_state.json",
            evals.last().unwrap()["step"]
        )))
        .unwrap_or_else(|_| std::fs::read(best_dir.join("trainer_state.json")).unwrap()),
    )
    .unwrap();
    assert_eq!(state["best_metric"].as_f64(), best["eval_f1"].as_f64());
    assert_eq!(state["best_global_step"].as_u64(), Some(best_step));
    assert_ne!(
        lowest_loss["step"], best["step"],
        "the run must tell selection by eval_f1 from selection by eval_loss"
    );
    let kept: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("checkpoint-"))
        .collect();
    assert!(
        kept.len() <= 2,
        "save_total_limit 1 keeps the newest and the best: {kept:?}"
    );

    // the label map travels in config.json: sorted string labels
    let saved: Value =
        serde_json::from_slice(&std::fs::read(best_dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["id2label"], json!({"0": "no", "1": "yes"}));
    assert_eq!(saved["label2id"], json!({"no": 0, "yes": 1}));
    assert_eq!(
        saved["architectures"],
        json!(["BertForSequenceClassification"])
    );

    // predict: one JSON line per input, right on the eval set
    let (printed, _) = succeed(&[
        "predict",
        &s(&best_dir),
        "--data",
        &eval_s,
        "--text-column",
        "sentence",
        "--batch-size",
        "7",
    ]);
    let predictions: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(predictions.len(), eval_rows.len());
    let right = predictions
        .iter()
        .zip(&eval_rows)
        .filter(|(p, (_, yes))| p["label"] == if *yes { "yes" } else { "no" })
        .count();
    assert!(right as f64 / eval_rows.len() as f64 > 0.9, "{right} right");
    for p in &predictions {
        let prob = p["probability"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&prob), "{p}");
        assert_eq!(p["logits"].as_array().unwrap().len(), 2);
    }

    // transformers loads the checkpoint and computes the same logits
    let inputs = dir.join("inputs.json");
    let ids = |text: &str, len: usize| {
        let mut v = vec![2];
        v.extend(
            text.split(' ')
                .map(|w| SPECIALS.len() + WORDS.iter().position(|x| *x == w).unwrap()),
        );
        v.push(3);
        let n = v.len();
        v.resize(len, 0);
        (v, n)
    };
    let (a, na) = ids(&eval_rows[0].0, 12);
    let (b, nb) = ids(&eval_rows[1].0, 12);
    let mask = |n: usize| (0..12).map(|i| usize::from(i < n)).collect::<Vec<_>>();
    std::fs::write(
        &inputs,
        json!({"ids": [a, b], "mask": [mask(na), mask(nb)], "types": [vec![0; 12], vec![0; 12]]})
            .to_string(),
    )
    .unwrap();
    let flax = common::python::run_reference_script(
        Path::new("scripts/bert_reference.py"),
        &["logits".as_ref(), best_dir.as_os_str(), inputs.as_os_str()],
    );
    let flax: Vec<Vec<f64>> = serde_json::from_str(flax.trim()).unwrap();
    for (row, p) in flax.iter().zip(&predictions) {
        let ours: Vec<f64> = p["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let scale = row.iter().fold(0f64, |m, x| m.max(x.abs()));
        let err = row
            .iter()
            .zip(&ours)
            .fold(0f64, |m, (x, y)| m.max((x - y).abs()))
            / scale;
        assert!(err < 1e-4, "Flax {row:?} vs predict {ours:?}");
    }
}

#[test]
fn classification_keys_without_an_encoder_are_usage_errors() {
    let out = xlatrain(&["train", "--max-steps", "1", "--num-labels", "3"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("num_labels"));
    let out = xlatrain(&[
        "train",
        "--max-steps",
        "1",
        "--metric-for-best-model",
        "eval_bleu",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("metric_for_best_model"));
}
