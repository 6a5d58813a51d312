//! The tokenizer wrapper against the real thing: Qwen3's tokenizer.json and the tokenizer
//! built from SmolLM2's GGUF metadata give the same ids as Hugging Face's Python libraries on
//! the same files, and bad files are errors, never panics.

mod hftext_support;

use std::path::Path;

use hftext_support::{qwen3_tokenizer, reference, scratch, smollm2_gguf, DIGIT_TEXTS, TEXTS};
use serde_json::Value;
use xlatrain::tokenizer::Tokenizer;
use xlatrain::Error;

fn ids(value: &Value) -> Vec<Vec<u32>> {
    serde_json::from_value(value.clone()).unwrap()
}

fn write_texts(dir: &Path, texts: &[&str]) -> std::path::PathBuf {
    let path = dir.join("texts.json");
    std::fs::write(&path, serde_json::to_string(texts).unwrap()).unwrap();
    path
}

#[test]
fn qwen3_ids_and_decodes_equal_python_tokenizers() {
    let file = qwen3_tokenizer();
    let dir = scratch("hf_tokenizer_qwen3");
    let mut texts: Vec<&str> = TEXTS.to_vec();
    texts.extend(DIGIT_TEXTS);
    texts.push("<|im_start|>user\nhi<|im_end|><|endoftext|>");
    let expected = reference(
        "tokenize",
        [file.as_os_str(), write_texts(&dir, &texts).as_os_str()],
    );

    let tokenizer = Tokenizer::from_file(&file).unwrap();
    let plain: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| tokenizer.encode(t, false).unwrap())
        .collect();
    let special: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| tokenizer.encode(t, true).unwrap())
        .collect();
    assert_eq!(plain, ids(&expected["plain"]));
    assert_eq!(special, ids(&expected["with_special"]));
    let decoded: Vec<String> = plain
        .iter()
        .map(|i| tokenizer.decode(i, false).unwrap())
        .collect();
    assert_eq!(serde_json::to_value(&decoded).unwrap(), expected["decoded"]);
    // Special tokens are single ids, as in the reference.
    let chat = plain.last().unwrap();
    assert_eq!(chat[0], tokenizer.token_to_id("<|im_start|>").unwrap());
    // No config beside it: the EOS is the tokenizer's own end-of-text token.
    assert_eq!(tokenizer.eos_id(), tokenizer.token_to_id("<|endoftext|>"));
    assert_eq!(tokenizer.sha256().len(), 64);
}

#[test]
fn special_ids_come_from_the_model_configs_in_hf_order() {
    let file = qwen3_tokenizer();
    let dir = scratch("hf_tokenizer_specials");
    std::fs::copy(&file, dir.join("tokenizer.json")).unwrap();
    let im_end = 151645;
    let endoftext = 151643;
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"eos_token": {"content": "<|im_end|>"}, "bos_token": null}"#,
    )
    .unwrap();
    let tokenizer = Tokenizer::from_file(&dir).unwrap();
    assert_eq!(tokenizer.eos_id(), Some(im_end));
    assert_eq!(tokenizer.bos_id(), None);

    std::fs::write(
        dir.join("config.json"),
        r#"{"eos_token_id": [151643, 151645], "bos_token_id": 151643}"#,
    )
    .unwrap();
    let tokenizer = Tokenizer::from_file(&dir.join("tokenizer.json")).unwrap();
    assert_eq!(tokenizer.eos_ids(), &[endoftext, im_end]);
    assert_eq!(tokenizer.bos_id(), Some(endoftext));

    std::fs::write(
        dir.join("generation_config.json"),
        r#"{"eos_token_id": 151645}"#,
    )
    .unwrap();
    let tokenizer = Tokenizer::for_model(&dir, None).unwrap();
    assert_eq!(
        tokenizer.eos_ids(),
        &[im_end],
        "generation_config.json wins"
    );

    std::fs::write(
        dir.join("generation_config.json"),
        r#"{"eos_token_id": "x"}"#,
    )
    .unwrap();
    let err = Tokenizer::for_model(&dir, None).unwrap_err();
    assert!(matches!(err, Error::Tokenizer { .. }), "{err}");
    assert!(err.to_string().contains("eos_token_id"), "{err}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn bad_tokenizer_files_are_errors_naming_the_file() {
    let dir = scratch("hf_tokenizer_bad");
    let good = std::fs::read(qwen3_tokenizer()).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.json", Vec::new()),
        ("not_json.json", b"hello".to_vec()),
        ("truncated.json", good[..good.len() / 2].to_vec()),
        ("wrong_shape.json", br#"{"model": 3}"#.to_vec()),
        ("bad_utf8.json", vec![0xff, 0xfe, 0x00]),
        ("bad_merges.json", br#"{"version":"1.0","added_tokens":[],"normalizer":null,"pre_tokenizer":null,"post_processor":null,"decoder":null,"truncation":null,"padding":null,"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}"#.to_vec()),
    ];
    for (name, bytes) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Tokenizer::from_file(&path).unwrap_err();
        assert!(matches!(err, Error::Tokenizer { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{name}: {err}");
        assert_eq!(err.exit_code(), 2);
    }
    let missing = Tokenizer::from_file(&dir.join("absent")).unwrap_err();
    assert!(missing.to_string().contains("absent"), "{missing}");
    let tokenizer = Tokenizer::from_file(&qwen3_tokenizer()).unwrap();
    let err = tokenizer.decode(&[u32::MAX], false).unwrap_err();
    assert!(err.to_string().contains("outside the vocabulary"), "{err}");
}

#[test]
fn smollm2_gguf_tokenizer_equals_transformers_and_python_tokenizers() {
    let gguf = smollm2_gguf();
    let dir = scratch("hf_tokenizer_gguf");
    let model = xlatrain::hf::gguf::read(&gguf).unwrap();
    let tokenizer = model.tokenizer().unwrap();
    assert_eq!(tokenizer.vocab_size(), 49152);
    assert_eq!(tokenizer.bos_id(), Some(1));
    assert_eq!(tokenizer.eos_id(), Some(2));
    assert_eq!(tokenizer.token_to_id("<|im_end|>"), Some(2));

    // transformers' GGUF conversion (GPT-2 regex, no digit split): equal on text without digits.
    let texts = write_texts(&dir, &TEXTS);
    let transformers = reference("gguf-tokenize", [gguf.as_os_str(), texts.as_os_str()]);
    let ours: Vec<Vec<u32>> = TEXTS
        .iter()
        .map(|t| tokenizer.encode(t, false).unwrap())
        .collect();
    assert_eq!(ours, ids(&transformers["plain"]));
    assert_eq!(ours[0], [504, 3575, 282, 4649, 314]);

    // Our tokenizer.json loaded by Python tokenizers: equal on everything, digits included.
    let all: Vec<&str> = TEXTS.iter().chain(&DIGIT_TEXTS).copied().collect();
    let json_path = dir.join("tokenizer.json");
    std::fs::write(&json_path, &model.tokenizer_json).unwrap();
    let python = reference(
        "tokenize",
        [json_path.as_os_str(), write_texts(&dir, &all).as_os_str()],
    );
    let ours: Vec<Vec<u32>> = all
        .iter()
        .map(|t| tokenizer.encode(t, true).unwrap())
        .collect();
    assert_eq!(
        ours,
        ids(&python["with_special"]),
        "GGUF says add_bos_token = false"
    );
    for (text, ids) in all.iter().zip(&ours) {
        assert_eq!(&tokenizer.decode(ids, false).unwrap(), text);
    }
    // tokenizer.ggml.pre = "smollm": digits are split one by one, as llama.cpp and the original
    // SmolLM2 tokenizer do.
    let year = tokenizer.encode(" 2024", false).unwrap();
    let digits: Vec<u32> = ["Ġ", "2", "0", "2", "4"]
        .iter()
        .map(|t| tokenizer.token_to_id(t).unwrap())
        .collect();
    assert_eq!(year, digits);
}
