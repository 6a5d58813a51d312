//! `xlatrain export model.gguf DIR`: a GGUF file as a normal Hugging Face model directory that
//! `from_pretrained` loads: `model.safetensors` (f32, HF names and PyTorch shapes, dequantized
//! one tensor at a time straight into the mapped file), `config.json`, `generation_config.json`,
//! `tokenizer.json` and `tokenizer_config.json`. Each file is written to a temporary name and
//! renamed into place, so an interrupted export never leaves a half-written file under a final
//! name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{json, Value as Json};

use super::GgufModel;
use crate::checkpoint::{fsync_dir, write_durable, write_safetensors_file};
use crate::checkpoint::{DType, TensorSource, TensorSpec};
use crate::{Error, Result};

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufExport {
    pub dir: PathBuf,
    pub tensors: usize,
    pub weights_bytes: u64,
}

/// The tensors of a GGUF file as a [`TensorSource`] of f32 tensors with HF names.
struct Dequantized<'a> {
    model: &'a GgufModel,
    specs: Vec<TensorSpec>,
}

impl<'a> Dequantized<'a> {
    fn new(model: &'a GgufModel) -> Self {
        let specs = model
            .tensor_specs()
            .map(|(name, shape)| TensorSpec::new(name, DType::F32, shape.to_vec()))
            .collect();
        Dequantized { model, specs }
    }
}

impl TensorSource for Dequantized<'_> {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        let tensor = self.model.tensor(index)?;
        if tensor.data.len() * 4 != dst.len() {
            return Err(Error::TensorByteCount {
                tensor: tensor.name,
                expected: dst.len() as u64,
                found: tensor.data.len() as u64 * 4,
            });
        }
        for (out, value) in dst.chunks_exact_mut(4).zip(&tensor.data) {
            out.copy_from_slice(&value.to_le_bytes());
        }
        Ok(())
    }
}

/// The JSON and tokenizer files of `model` as an HF directory holds them: `config.json`,
/// `generation_config.json`, `tokenizer.json` and `tokenizer_config.json` (the tokenizer is
/// checked first).
pub fn hf_documents(model: &GgufModel) -> Result<Vec<(&'static str, String)>> {
    let tokenizer = model.tokenizer()?;
    let token = |id: Option<u32>| id.and_then(|id| tokenizer.decode(&[id], false).ok());
    let generation = json!({
        "bos_token_id": model.bos_token_id,
        "eos_token_id": model.eos_token_id,
    });
    let tokenizer_config = json!({
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": token(model.bos_token_id),
        "eos_token": token(model.eos_token_id),
        "clean_up_tokenization_spaces": false,
    });
    let pretty = |v: &Json| serde_json::to_string_pretty(v).unwrap_or_default() + "\n";
    Ok(vec![
        ("config.json", pretty(&model.config)),
        ("generation_config.json", pretty(&generation)),
        ("tokenizer.json", model.tokenizer_json.clone()),
        ("tokenizer_config.json", pretty(&tokenizer_config)),
    ])
}

/// Writes `model` as an HF directory into `dir` (created if needed; our files are replaced,
/// other files left alone).
pub fn export_gguf(model: &GgufModel, dir: &Path) -> Result<GgufExport> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    // The tokenizer is checked before anything is written.
    let documents = hf_documents(model)?;
    let source = Dequantized::new(model);
    let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    let weights_bytes = write_safetensors_file(&dir.join("model.safetensors"), &source, &metadata)?;
    for (name, text) in documents {
        let path = dir.join(name);
        let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        write_durable(&temporary, text.as_bytes())?;
        std::fs::rename(&temporary, &path)
            .map_err(|e| Error::io("cannot rename into place", &path, e))?;
    }
    fsync_dir(dir)?;
    Ok(GgufExport {
        dir: dir.to_path_buf(),
        tensors: model.len(),
        weights_bytes,
    })
}
