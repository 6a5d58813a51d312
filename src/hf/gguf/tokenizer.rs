//! A Hugging Face `tokenizer.json` built from a GGUF file's `tokenizer.ggml.*` metadata, for the
//! byte-level BPE vocabularies (`tokenizer.ggml.model = "gpt2"`), as transformers' GGUF loader
//! does: the vocabulary is `tokenizer.ggml.tokens` in id order, the merges
//! `tokenizer.ggml.merges` in rank order, tokens of `token_type` 3 (control) are special added
//! tokens and 4 (user-defined) plain added tokens.
//!
//! The pre-tokenizer follows `tokenizer.ggml.pre`, llama.cpp's name for the pre-tokenizer the
//! original model used: the GPT-2 regex for `default`/`gpt2`/`mpt`/`olmo`/`jais`, and single
//! digits split off first, then the GPT-2 regex, for `smollm`/`starcoder`/`refact`/`command-r`/
//! `codeshell`/`exaone`/`minerva`. (transformers ignores `pre` and always uses the GPT-2 regex,
//! so it splits numbers differently from the original SmolLM2 tokenizer; we follow the original.)
//! Other `pre` names and other tokenizer models (SentencePiece `llama`, ...) are refused by
//! name. `tokenizer.ggml.add_bos_token` / `add_eos_token` become a template post-processor.

use std::collections::BTreeMap;

use serde_json::{json, Map};

use super::file::Value;

const SPLIT_DIGITS: [&str; 7] = [
    "smollm",
    "starcoder",
    "refact",
    "command-r",
    "codeshell",
    "exaone",
    "minerva",
];
const GPT2_REGEX: [&str; 6] = ["default", "gpt2", "gpt-2", "mpt", "olmo", "jais"];

/// The tokenizer.json text and the BOS/EOS ids, or why it cannot be built.
pub fn tokenizer_json(
    metadata: &BTreeMap<String, Value>,
) -> Result<(String, Option<u32>, Option<u32>), String> {
    let get = |key: &str| metadata.get(key);
    let model = get("tokenizer.ggml.model")
        .ok_or("no tokenizer.ggml.model (the file has no tokenizer; pass --tokenizer)")?
        .as_str()
        .ok_or("tokenizer.ggml.model is not a string")?;
    if model != "gpt2" {
        return Err(format!(
            "tokenizer.ggml.model = {model:?} is not supported (only byte-level BPE, \"gpt2\"); \
             pass --tokenizer tokenizer.json"
        ));
    }
    let strings = |key: &str| -> Result<Vec<&str>, String> {
        get(key)
            .and_then(Value::as_array)
            .ok_or(format!("{key} is missing or not an array"))?
            .iter()
            .map(|v| v.as_str().ok_or(format!("{key} holds a non-string")))
            .collect()
    };
    let tokens = strings("tokenizer.ggml.tokens")?;
    let merges = strings("tokenizer.ggml.merges")?;
    let types: Vec<i128> = match get("tokenizer.ggml.token_type") {
        None => vec![1; tokens.len()],
        Some(v) => v
            .as_array()
            .ok_or("tokenizer.ggml.token_type is not an array")?
            .iter()
            .map(|t| {
                t.as_int()
                    .ok_or("tokenizer.ggml.token_type holds a non-integer")
            })
            .collect::<Result<_, _>>()?,
    };
    if types.len() != tokens.len() {
        return Err(format!(
            "tokenizer.ggml.token_type has {} entries for {} tokens",
            types.len(),
            tokens.len()
        ));
    }
    let id_of = |key: &str| -> Result<Option<u32>, String> {
        match get(key) {
            None => Ok(None),
            Some(v) => v
                .as_int()
                .and_then(|i| u32::try_from(i).ok())
                .filter(|&i| (i as usize) < tokens.len())
                .map(Some)
                .ok_or(format!("{key} is not a token id below {}", tokens.len())),
        }
    };
    let bos = id_of("tokenizer.ggml.bos_token_id")?;
    let eos = id_of("tokenizer.ggml.eos_token_id")?;
    let flag = |key: &str| get(key).and_then(Value::as_bool).unwrap_or(false);
    let add_prefix_space = flag("tokenizer.ggml.add_space_prefix");

    let mut vocab = Map::new();
    let mut added = Vec::new();
    for (id, (token, kind)) in tokens.iter().zip(&types).enumerate() {
        if vocab.insert((*token).to_string(), json!(id)).is_some() {
            return Err(format!(
                "token {token:?} appears twice in tokenizer.ggml.tokens"
            ));
        }
        if *kind == 3 || *kind == 4 {
            added.push(json!({
                "id": id, "content": token, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": *kind == 3,
            }));
        }
    }
    for merge in &merges {
        if merge.split(' ').count() != 2 {
            return Err(format!(
                "merge {merge:?} is not two tokens separated by one space"
            ));
        }
    }

    let pre_name = get("tokenizer.ggml.pre")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let byte_level = json!({
        "type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": true,
        "use_regex": true,
    });
    let pre_tokenizer = if GPT2_REGEX.contains(&pre_name) {
        byte_level.clone()
    } else if SPLIT_DIGITS.contains(&pre_name) {
        json!({"type": "Sequence", "pretokenizers": [
            {"type": "Digits", "individual_digits": true},
            byte_level.clone(),
        ]})
    } else {
        return Err(format!(
            "tokenizer.ggml.pre = {pre_name:?} is not a pre-tokenizer xlatrain knows (known: {}, \
             {}); pass --tokenizer tokenizer.json",
            GPT2_REGEX.join(", "),
            SPLIT_DIGITS.join(", ")
        ));
    };

    let with_special = |id: Option<u32>, key: &str| -> Result<Option<(u32, &str)>, String> {
        match (flag(key), id) {
            (false, _) => Ok(None),
            (true, Some(id)) => Ok(Some((id, tokens[id as usize]))),
            (true, None) => Err(format!("{key} is set but the token id is missing")),
        }
    };
    let prefix = with_special(bos, "tokenizer.ggml.add_bos_token")?;
    let suffix = with_special(eos, "tokenizer.ggml.add_eos_token")?;
    let post_processor = if prefix.is_none() && suffix.is_none() {
        json!({"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false,
               "use_regex": true})
    } else {
        let special = |(_, t): (u32, &str), type_id: u32| json!({"SpecialToken": {"id": t, "type_id": type_id}});
        let seq = |name: &str, type_id: u32| json!({"Sequence": {"id": name, "type_id": type_id}});
        let mut single = Vec::new();
        let mut pair = Vec::new();
        single.extend(prefix.map(|p| special(p, 0)));
        single.push(seq("A", 0));
        single.extend(suffix.map(|s| special(s, 0)));
        pair.extend(single.iter().cloned());
        pair.extend(prefix.map(|p| special(p, 1)));
        pair.push(seq("B", 1));
        pair.extend(suffix.map(|s| special(s, 1)));
        let mut specials = Map::new();
        for (id, token) in prefix.into_iter().chain(suffix) {
            specials.insert(
                token.into(),
                json!({"id": token, "ids": [id], "tokens": [token]}),
            );
        }
        json!({"type": "TemplateProcessing", "single": single, "pair": pair,
               "special_tokens": specials})
    };

    let tokenizer = json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": null,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post_processor,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true,
                    "use_regex": true},
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
            "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
            "ignore_merges": false, "vocab": vocab, "merges": merges,
        },
    });
    Ok((tokenizer.to_string(), bos, eos))
}
