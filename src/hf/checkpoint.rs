//! Checkpoints of a run started from a Hugging Face model are that model's own directory
//! layout, so `from_pretrained("out/checkpoint-N")` loads them with no export step (as it
//! loads HF Trainer checkpoints): the parameters keep their HF names in `model*.safetensors`
//! (a tied head is stored once, as its embedding), `config.json` is the model's own config with
//! `torch_dtype` saying what is stored (float32), and the tokenizer files of the model (or the
//! `tokenizer.json` built from a GGUF file's metadata) are copied in. `xlatrain export` writes
//! the same documents.
//!
//! The checkpoint module stays generic: it gets the config as its `config.json` document and
//! the tokenizer files as extra documents ([`crate::checkpoint::SaveOptions::extra_documents`]).

use std::path::Path;

use serde_json::Value;

use super::{HfConfig, CONFIG_FILE};
use crate::models::ModelConfig;
use crate::{Error, Result};

/// The files of a model directory besides config and weights that a checkpoint carries along,
/// where the directory has them: fast and slow tokenizer files and the generation defaults.
pub const MODEL_DIR_FILES: [&str; 8] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "generation_config.json",
];

/// The dtype every checkpoint stores (the f32 master copy).
pub const STORED_DTYPE: &str = "float32";

/// `config.json` of a checkpoint or export of `c`: the model's own config as read, with
/// `model_type` and `architectures` of its family and `torch_dtype` the stored dtype.
pub fn config_json(c: &HfConfig) -> Value {
    let mut config = match &c.source {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    config.insert("model_type".into(), c.family.model_type().into());
    let has_architectures = config
        .get("architectures")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !has_architectures || c.family.is_encoder() {
        config.insert("architectures".into(), vec![c.family.architecture()].into());
    }
    config.insert("torch_dtype".into(), STORED_DTYPE.into());
    if config.contains_key("dtype") {
        // transformers >= 4.56 writes `dtype` (and reads it first)
        config.insert("dtype".into(), STORED_DTYPE.into());
    }
    Value::Object(config)
}

/// The tokenizer and generation files a checkpoint of a run from `model` (a model directory or
/// a `.gguf` file) carries: `tokenizer` (an explicit `tokenizer.json`, its directory or a GGUF
/// file) replaces the model's tokenizer files; a GGUF file gives the `tokenizer.json` built
/// from its metadata.
pub fn tokenizer_documents(
    model: &Path,
    tokenizer: Option<&Path>,
) -> Result<Vec<(String, Vec<u8>)>> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| Error::io("cannot read", path, e));
    let mut documents: Vec<(String, Vec<u8>)> = Vec::new();
    if model.is_dir() {
        for name in MODEL_DIR_FILES {
            let is_tokenizer_file = name != "generation_config.json";
            let path = model.join(name);
            if path.is_file() && !(tokenizer.is_some() && is_tokenizer_file) {
                documents.push((name.to_string(), read(&path)?));
            }
        }
    } else {
        let gguf = super::gguf::read(model)?;
        for (name, text) in super::gguf::export::hf_documents(&gguf)? {
            let replaced = tokenizer.is_some() && name.starts_with("tokenizer");
            if name != CONFIG_FILE && !replaced {
                documents.push((name.to_string(), text.into_bytes()));
            }
        }
    }
    if let Some(explicit) = tokenizer {
        // a tokenizer.json, its directory or a GGUF file: what it parses to is what is stored
        let json = crate::tokenizer::Tokenizer::from_file(explicit)?
            .json()
            .to_string();
        documents.push(("tokenizer.json".into(), json.into_bytes()));
    }
    Ok(documents)
}

/// The model a checkpoint's `config.json` describes: an HF config (it has a `model_type`), or
/// the serialized [`ModelConfig`] of xlatrain's own models.
pub fn model_config_of(checkpoint: &Path, config: &Value) -> Result<ModelConfig> {
    if config.get("model_type").is_some() {
        return HfConfig::from_json(&checkpoint.join(CONFIG_FILE), config).map(ModelConfig::Hf);
    }
    serde_json::from_value(config.clone()).map_err(|e| Error::Export {
        path: checkpoint.to_path_buf(),
        reason: format!("config.json describes neither an HF model nor an xlatrain model: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_checkpoint_config_is_the_model_config_with_the_stored_dtype() {
        let source = json!({"model_type": "llama", "vocab_size": 10, "hidden_size": 8,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 12,
            "torch_dtype": "bfloat16", "rope_theta": 500000.0, "custom_key": 7});
        let c = HfConfig::from_json(Path::new("c"), &source).unwrap();
        let written = config_json(&c);
        assert_eq!(written["torch_dtype"], "float32");
        assert_eq!(written["architectures"], json!(["LlamaForCausalLM"]));
        assert_eq!(written["custom_key"], 7);
        assert_eq!(written["rope_theta"], 500000.0);
        let back = model_config_of(Path::new("ckpt"), &written).unwrap();
        assert_eq!(
            back,
            ModelConfig::Hf(HfConfig::from_json(Path::new("c"), &written).unwrap())
        );
        assert!(matches!(back, ModelConfig::Hf(ref r) if r.rope_theta == 500000.0));
    }
}
