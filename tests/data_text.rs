//! Text data as a user gives it (`--data FILE.txt|FILE.jsonl --tokenizer tokenizer.json`):
//! tokenized once into a token file beside the data, documents joined with EOS, ids equal to
//! Python `tokenizers` on the same tokenizer, a cache named by the hashes of the data and the
//! tokenizer, and bad lines refused with the file and line (exit 2).

mod hftext_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hftext_support::{qwen3_tokenizer, reference, scratch};
use xlatrain::data::text::{cache_path, tokenize_cached};
use xlatrain::tokenizer::Tokenizer;
use xlatrain::Error;

const DOCS: [&str; 3] = [
    "The first document.\nIt has two lines.",
    "Second: naïve café 🦀, 2024!",
    "third one",
];

fn read_u32s(path: &Path) -> Vec<u32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn jsonl(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn doc_lines(docs: &[&str]) -> Vec<String> {
    docs.iter()
        .enumerate()
        .map(|(i, d)| serde_json::json!({"id": i, "text": d}).to_string())
        .collect()
}

#[test]
fn jsonl_documents_are_joined_with_eos_and_equal_python_tokenizers() {
    let dir = scratch("data_text_join");
    let tokenizer_file = qwen3_tokenizer();
    let tokenizer = Tokenizer::from_file(&tokenizer_file).unwrap();
    let mut lines = doc_lines(&DOCS);
    lines.insert(1, "   ".into()); // blank lines are skipped
    let data = jsonl(&dir, "corpus.jsonl", &lines);

    let texts = dir.join("texts.json");
    std::fs::write(&texts, serde_json::to_string(&DOCS).unwrap()).unwrap();
    let python = reference("tokenize", [tokenizer_file.as_os_str(), texts.as_os_str()]);
    let per_doc: Vec<Vec<u32>> = serde_json::from_value(python["with_special"].clone()).unwrap();
    let eos = tokenizer.eos_id().unwrap();
    let expected: Vec<u32> = per_doc.join(&[eos][..]);

    let first = tokenize_cached(&data, "text", &tokenizer).unwrap();
    assert!(!first.reused);
    assert_eq!(first.documents, 3);
    assert_eq!(first.path.parent(), data.parent(), "cached beside the data");
    assert_eq!(read_u32s(&first.path), expected);
    assert_eq!(first.tokens, expected.len() as u64);

    let again = tokenize_cached(&data, "text", &tokenizer).unwrap();
    assert!(
        again.reused,
        "the second open reads the cache, not the text"
    );
    assert_eq!(again.path, first.path);

    // A .txt file is one document.
    let txt = dir.join("one.txt");
    std::fs::write(&txt, DOCS.join("\n\n")).unwrap();
    let one = tokenize_cached(&txt, "text", &tokenizer).unwrap();
    assert_eq!(one.documents, 1);
    assert_eq!(
        read_u32s(&one.path),
        tokenizer.encode(&DOCS.join("\n\n"), true).unwrap()
    );
}

#[test]
fn the_cache_name_changes_with_the_data_the_tokenizer_and_the_column() {
    let dir = scratch("data_text_cache_names");
    let tokenizer_file = qwen3_tokenizer();
    let tokenizer = Tokenizer::from_file(&tokenizer_file).unwrap();
    let data = jsonl(&dir, "corpus.jsonl", &doc_lines(&DOCS));
    let base = cache_path(&data, "text", &tokenizer).unwrap();

    // Another tokenizer (same vocabulary, one added token): another cache.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tokenizer_file).unwrap()).unwrap();
    json["added_tokens"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "id": 151669, "content": "<|xlatrain|>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }));
    let other_file = dir.join("tokenizer.json");
    std::fs::write(&other_file, json.to_string()).unwrap();
    let other = Tokenizer::from_file(&other_file).unwrap();
    assert_ne!(cache_path(&data, "text", &other).unwrap(), base);
    assert_ne!(cache_path(&data, "body", &tokenizer).unwrap(), base);

    let before = tokenize_cached(&data, "text", &tokenizer).unwrap();
    let mut edited = DOCS;
    edited[2] = "third one, edited";
    let data = jsonl(&dir, "corpus.jsonl", &doc_lines(&edited));
    let after = tokenize_cached(&data, "text", &tokenizer).unwrap();
    assert!(!after.reused, "changed data is tokenized again");
    assert_ne!(after.path, before.path);
    assert!(
        before.path.is_file(),
        "the old cache is left alone, never overwritten"
    );
    let leftovers: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn bad_jsonl_lines_are_errors_naming_the_file_and_line() {
    let dir = scratch("data_text_bad");
    let tokenizer = Tokenizer::from_file(&qwen3_tokenizer()).unwrap();
    let good = r#"{"text": "fine"}"#.to_string();
    let cases = [
        (
            "invalid.jsonl",
            r#"{"text": "unterminated"#,
            "line 2: invalid JSON",
        ),
        ("array.jsonl", r#"["text"]"#, "line 2: is not a JSON object"),
        (
            "missing.jsonl",
            r#"{"body": "x", "id": 1}"#,
            "line 2: no `text` field (fields: body, id)",
        ),
        (
            "number.jsonl",
            r#"{"text": 5}"#,
            "line 2: the `text` field is 5, not a string",
        ),
    ];
    for (name, bad_line, expected) in cases {
        let data = jsonl(&dir, name, &[good.clone(), bad_line.to_string()]);
        let err = tokenize_cached(&data, "text", &tokenizer).unwrap_err();
        assert!(matches!(err, Error::DataFile { .. }), "{name}: {err}");
        let message = err.to_string();
        assert!(
            message.contains(name) && message.contains(expected),
            "{message}"
        );
        assert_eq!(err.exit_code(), 2);
        assert!(!cache_path(&data, "text", &tokenizer).unwrap().exists());
    }
    let empty = jsonl(&dir, "empty.jsonl", &[String::new()]);
    let err = tokenize_cached(&empty, "text", &tokenizer).unwrap_err();
    assert!(err.to_string().contains("no text"), "{err}");
    let latin1 = dir.join("latin1.txt");
    std::fs::write(&latin1, b"caf\xe9").unwrap();
    let err = tokenize_cached(&latin1, "text", &tokenizer).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    leftover_free(&dir);
}

fn leftover_free(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".tmp") && !name.ends_with(".u32"),
            "{name} left behind"
        );
    }
}

/// A word-level tokenizer with an end-of-text token, small enough for a tiny GPT.
fn word_tokenizer(dir: &Path) -> PathBuf {
    let words = [
        "[UNK]",
        "<|endoftext|>",
        "the",
        "cat",
        "sat",
        "on",
        "mat",
        "a",
        "dog",
        "ran",
        ".",
    ];
    let vocab: serde_json::Map<String, serde_json::Value> = words
        .iter()
        .enumerate()
        .map(|(i, w)| (w.to_string(), serde_json::json!(i)))
        .collect();
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 1, "content": "<|endoftext|>", "single_word": false,
            "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    path
}

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

#[test]
fn train_tokenizes_jsonl_once_and_a_resume_reuses_the_cache() {
    let dir = scratch("data_text_train");
    let tokenizer = word_tokenizer(&dir);
    let docs: Vec<String> = (0..60)
        .map(|i| {
            let text = if i % 2 == 0 {
                "the cat sat on the mat ."
            } else {
                "a dog ran ."
            };
            serde_json::json!({ "text": text }).to_string()
        })
        .collect();
    let data = jsonl(&dir, "corpus.jsonl", &docs);
    let out = dir.join("out");
    let args = |steps: &str| -> Vec<String> {
        [
            "train",
            "--model",
            "gpt",
            "--data",
            data.to_str().unwrap(),
            "--tokenizer",
            tokenizer.to_str().unwrap(),
            "--vocab-size",
            "11",
            "--d-model",
            "16",
            "--n-layers",
            "1",
            "--n-heads",
            "2",
            "--d-ff",
            "32",
            "--seq-len",
            "8",
            "--per-device-train-batch-size",
            "2",
            "--max-steps",
            steps,
            "--save-steps",
            "2",
            "--logging-steps",
            "1",
            "--eval-strategy",
            "no",
            "--output-dir",
            out.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |extra: &[&str], steps: &str| {
        let mut all = args(steps);
        all.extend(extra.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let output = xlatrain(&refs);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(&[], "2");
    let caches: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tokens.u32"))
        .collect();
    assert_eq!(caches.len(), 1, "{caches:?}");
    let ids = read_u32s(&caches[0]);
    // 30 x (7 words) + 30 x (4 words) + 59 EOS between 60 documents.
    assert_eq!(ids.len(), 30 * 7 + 30 * 4 + 59);
    assert_eq!(&ids[..8], &[2, 3, 4, 5, 2, 6, 10, 1]);
    let modified = std::fs::metadata(&caches[0]).unwrap().modified().unwrap();

    run(&["--resume-from-checkpoint"], "4");
    assert_eq!(
        std::fs::metadata(&caches[0]).unwrap().modified().unwrap(),
        modified,
        "the resume read the cache instead of tokenizing again"
    );
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert!(metrics.contains("\"step\":4"), "{metrics}");

    // Bad text data and flag combinations exit 2 naming the problem.
    let bad = jsonl(
        &dir,
        "bad.jsonl",
        &[r#"{"text": "the cat"}"#.into(), "{oops".into()],
    );
    let mut bad_args = args("1");
    bad_args[4] = bad.to_str().unwrap().to_string();
    let refs: Vec<&str> = bad_args.iter().map(String::as_str).collect();
    let output = xlatrain(&refs);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("bad.jsonl") && stderr.contains("line 2"),
        "{stderr}"
    );
    for (extra, named) in [
        (
            vec!["--text-column", "body", "--model", "gpt"],
            "text_column",
        ),
        (
            vec!["--tokenizer", tokenizer.to_str().unwrap(), "--model", "gpt"],
            "tokenizer",
        ),
    ] {
        let mut all = vec!["train", "--max-steps", "1"];
        all.extend(extra);
        let output = xlatrain(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
    }
}

#[test]
fn eval_tokenizes_jsonl_with_the_models_own_tokenizer() {
    let dir = scratch("data_text_eval");
    let gguf = hftext_support::smollm2_gguf();
    let docs: Vec<String> = [
        "The capital of France is Paris. The capital of Germany is Berlin.",
        "Water boils at one hundred degrees Celsius at sea level.",
        "The quick brown fox jumps over the lazy dog.",
    ]
    .iter()
    .map(|t| serde_json::json!({ "body": t }).to_string())
    .collect();
    let data = jsonl(&dir, "valid.jsonl", &docs);
    let eval = |data: &Path, extra: &[&str]| -> serde_json::Value {
        let mut args = vec![
            "eval",
            "--model-name-or-path",
            gguf.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--seq-len",
            "8",
            "--json",
        ];
        args.extend(extra);
        let output = xlatrain(&args);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
    };
    let from_text = eval(&data, &["--text-column", "body"]);
    // The cache holds what the GGUF's tokenizer makes of the documents, EOS-joined ...
    let model = xlatrain::hf::gguf::read(&gguf).unwrap();
    let tokenizer = model.tokenizer().unwrap();
    let cache = cache_path(&data, "body", &tokenizer).unwrap();
    let ids = read_u32s(&cache);
    assert_eq!(
        ids.iter().filter(|&&id| id == 2).count(),
        2,
        "EOS (<|im_end|>) between 3 docs"
    );
    // ... and evaluating the cache as a u32 token file gives the same numbers.
    let from_tokens = eval(&cache, &["--data-format", "u32"]);
    assert_eq!(from_text, from_tokens);
    let tokens = from_text["eval_tokens"].as_u64().unwrap();
    assert_eq!(
        tokens,
        (ids.len() as u64 / 9) * 8,
        "non-overlapping windows of seq_len + 1"
    );
    let loss = from_text["eval_loss"].as_f64().unwrap();
    assert!(
        loss.is_finite() && loss < 6.0,
        "a pretrained model reads plain English: {loss}"
    );
}
