//! A llama GGUF file (llama.cpp's format) as a Hugging Face model: `config.json`, f32 tensors
//! with HF names and PyTorch shapes, and a `tokenizer.json`, as transformers' GGUF loader
//! produces them.
//!
//! [`read`] maps the file and parses the header ([`file`]); the config and tokenizer come from
//! the metadata ([`llama`], [`tokenizer`]); tensors are dequantized one at a time, in
//! declaration order, by [`GgufModel::tensors`] ([`types`]), so the host holds the mapped file
//! and one f32 tensor, never a second copy of the model. Architectures other than `llama`,
//! tensor types other than F32, F16, BF16, Q8_0, Q4_0 and Q4_1, and tensor names outside the
//! llama table are refused by name.

pub mod export;
pub mod file;
pub mod llama;
pub mod tokenizer;
pub mod types;

use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde_json::Value as Json;

pub use export::{export_gguf, GgufExport};
pub use file::{GgufHeader, TensorInfo, Value};
pub use types::GgmlType;

use crate::{Error, Result};

/// One dequantized tensor in Hugging Face terms.
#[derive(Debug, Clone, PartialEq)]
pub struct HfTensor {
    /// The HF name (`model.layers.0.self_attn.q_proj.weight`).
    pub name: String,
    /// The PyTorch shape (GGUF dims reversed).
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A parsed llama GGUF file, ready to dequantize.
#[derive(Debug)]
pub struct GgufModel {
    path: PathBuf,
    map: Mmap,
    pub header: GgufHeader,
    /// The HF `config.json` equivalent (LlamaConfig keys).
    pub config: Json,
    /// A `tokenizer.json` built from the metadata.
    pub tokenizer_json: String,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    /// Per tensor info (same order): its HF name and the heads its rows are permuted over.
    hf_names: Vec<(String, Option<usize>)>,
}

/// Maps and parses a llama GGUF file (no tensor is dequantized yet).
pub fn read(path: &Path) -> Result<GgufModel> {
    let bad = |reason: String| Error::Gguf {
        path: path.to_path_buf(),
        reason,
    };
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(bad("is not a regular file".into()));
    }
    let file = std::fs::File::open(path).map_err(|e| bad(format!("cannot open: {e}")))?;
    let map = crate::mmap::map_read(&file, path)?;
    let header = GgufHeader::parse(&map, path)?;
    let architecture = header
        .metadata
        .get("general.architecture")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no general.architecture string".into()))?;
    if architecture != "llama" {
        return Err(bad(format!(
            "architecture {architecture:?} is not supported (only \"llama\")"
        )));
    }
    let tied = !header.tensors.iter().any(|t| t.name == "output.weight");
    let vocab_from_tokens = header
        .metadata
        .get("tokenizer.ggml.tokens")
        .and_then(Value::as_array)
        .map(<[Value]>::len);
    let config = llama::config(&header.metadata, vocab_from_tokens, tied).map_err(&bad)?;
    let count = |key: &str| config.get(key).and_then(Json::as_u64).unwrap_or(0) as usize;
    let (heads, kv_heads) = (count("num_attention_heads"), count("num_key_value_heads"));
    let (tokenizer_json, bos_token_id, eos_token_id) =
        tokenizer::tokenizer_json(&header.metadata).map_err(&bad)?;
    let mut hf_names = Vec::with_capacity(header.tensors.len());
    for info in &header.tensors {
        let (name, permuted) = llama::hf_name(&info.name, heads, kv_heads).ok_or_else(|| {
            bad(format!(
                "tensor {} is not part of a llama model xlatrain knows",
                info.name
            ))
        })?;
        if !info.ggml_type.is_supported() {
            return Err(bad(format!(
                "tensor {} is {}, which xlatrain does not dequantize (supported: F32, F16, \
                 BF16, Q8_0, Q4_0, Q4_1)",
                info.name,
                info.ggml_type.name()
            )));
        }
        if permuted.is_some() && info.dims.len() != 2 {
            return Err(bad(format!("tensor {} is not a matrix", info.name)));
        }
        hf_names.push((name, permuted));
    }
    Ok(GgufModel {
        path: path.to_path_buf(),
        map,
        header,
        config,
        tokenizer_json,
        bos_token_id,
        eos_token_id,
        hf_names,
    })
}

impl GgufModel {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.header.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.header.tensors.is_empty()
    }

    /// HF name and PyTorch shape of every tensor, in declaration order.
    pub fn tensor_specs(&self) -> impl Iterator<Item = (&str, Vec<usize>)> {
        self.hf_names
            .iter()
            .zip(&self.header.tensors)
            .map(|((name, _), info)| (name.as_str(), info.torch_shape()))
    }

    /// Tensor `index` dequantized to f32, with its HF name and shape (q/k rows un-permuted).
    pub fn tensor(&self, index: usize) -> Result<HfTensor> {
        let bad = |reason: String| Error::Gguf {
            path: self.path.clone(),
            reason,
        };
        let (info, (name, permuted)) = self
            .header
            .tensors
            .get(index)
            .zip(self.hf_names.get(index))
            .ok_or_else(|| bad(format!("no tensor {index}")))?;
        // The header checked that the range lies inside the file.
        let bytes = self
            .map
            .get(info.start as usize..(info.start + info.n_bytes) as usize)
            .ok_or_else(|| bad(format!("tensor {} lies outside the file", info.name)))?;
        let mut data = Vec::with_capacity(info.n_elements() as usize);
        info.ggml_type
            .dequantize(bytes, &mut data)
            .ok_or_else(|| bad(format!("tensor {} cannot be dequantized", info.name)))?;
        let shape = info.torch_shape();
        if let Some(heads) = permuted {
            data = llama::unpermute_rows(&data, shape[0], shape[1], *heads).ok_or_else(|| {
                bad(format!(
                    "tensor {} has {} rows, which do not split into {heads} heads of even size",
                    info.name, shape[0]
                ))
            })?;
        }
        Ok(HfTensor {
            name: name.clone(),
            shape,
            data,
        })
    }

    /// Every tensor, dequantized one at a time in declaration order.
    pub fn tensors(&self) -> impl Iterator<Item = Result<HfTensor>> + '_ {
        (0..self.len()).map(|i| self.tensor(i))
    }

    /// The tokenizer built from the metadata, with the file's BOS/EOS ids.
    pub fn tokenizer(&self) -> Result<crate::tokenizer::Tokenizer> {
        let tokenizer = crate::tokenizer::Tokenizer::from_json(&self.tokenizer_json, &self.path)?;
        Ok(tokenizer.with_special_ids(self.bos_token_id, self.eos_token_id.into_iter().collect()))
    }
}
