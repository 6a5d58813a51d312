//! `xlatrain export CHECKPOINT DIR`: a deploy-ready model directory, `model.safetensors` (the
//! parameters only) plus `config.json`, and for a run started from a Hugging Face model the
//! tokenizer files its checkpoint carries (see [`crate::hf::checkpoint`]).
//!
//! The GPT is exported as a Hugging Face GPT-2 (`GPT2LMHeadModel`): our pre-LN blocks, fused
//! q/k/v projection with heads as column blocks, GELU-tanh MLP, learned positions and tied
//! embeddings are GPT-2's architecture, and our linear weights are stored `[in, out]`, which is
//! GPT-2's Conv1D layout, so only names change. `lm_head.weight` is left out (tied to
//! `transformer.wte.weight`, as in the original GPT-2 files); so are the `attn.bias` causal-mask
//! buffers, which transformers rebuilds. The MLP keeps its own names with a small config.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::checkpoint::{
    fsync_dir, open_checkpoint, write_safetensors_file, TensorSource, TensorSpec, Verify,
};
use crate::hf::HfConfig;
use crate::models::{GptConfig, MlpConfig, ModelConfig};
use crate::{Error, Result};

/// The weights file of an export.
pub const EXPORT_WEIGHTS_FILE: &str = "model.safetensors";
/// The config file of an export.
pub const EXPORT_CONFIG_FILE: &str = "config.json";

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSummary {
    pub dir: PathBuf,
    /// `"gpt2"` or `"xlatrain-mlp"`.
    pub model_type: &'static str,
    pub step: u64,
    pub tensors: usize,
    pub weights_bytes: u64,
}

/// `(our name, Hugging Face GPT-2 name)` of every parameter of our GPT, in order: the names come
/// from the one GPT-2 table ([`crate::hf::tensor_table`]) for the config [`hf_gpt2_config`]
/// describes, matched by position and checked by shape, so import and export cannot disagree.
pub fn hf_gpt2_names(c: &GptConfig) -> Result<Vec<(String, String)>> {
    let hf = HfConfig::from_json(Path::new("(export config)"), &hf_gpt2_config(c))?;
    let table = crate::hf::tensor_table(&hf);
    let ours = c.param_specs()?;
    if ours.len() != table.params.len() {
        return Err(Error::Lower {
            reason: format!(
                "the GPT has {} parameters, the GPT-2 table {}",
                ours.len(),
                table.params.len()
            ),
        });
    }
    ours.into_iter()
        .zip(table.params)
        .map(|(o, h)| {
            if o.shape != h.shape {
                return Err(Error::Lower {
                    reason: format!(
                        "{} {:?} does not match GPT-2's {} {:?}",
                        o.name, o.shape, h.name, h.shape
                    ),
                });
            }
            Ok((o.name, h.name))
        })
        .collect()
}

/// `config.json` of a GPT export, as transformers' `GPT2Config` reads it.
pub fn hf_gpt2_config(c: &GptConfig) -> Value {
    json!({
        "model_type": "gpt2",
        "architectures": ["GPT2LMHeadModel"],
        "vocab_size": c.vocab_size,
        "n_positions": c.seq_len,
        "n_ctx": c.seq_len,
        "n_embd": c.d_model,
        "n_layer": c.n_layers,
        "n_head": c.n_heads,
        "n_inner": c.d_ff,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": c.layer_norm_eps,
        "resid_pdrop": c.dropout,
        "embd_pdrop": c.dropout,
        "attn_pdrop": 0.0,
        "initializer_range": c.init_std,
        "scale_attn_weights": true,
        "tie_word_embeddings": true,
        "bos_token_id": null,
        "eos_token_id": null,
        "torch_dtype": "float32",
    })
}

fn mlp_config(c: &MlpConfig) -> Value {
    json!({
        "model_type": "xlatrain-mlp",
        "architectures": ["XlatrainMlp"],
        "layers": c.layers,
        "activation_function": "relu",
        "weight_layout": "fc{i}.w is [in, out]: y = x @ w + b",
        "torch_dtype": "float32",
    })
}

/// Parameters borrowed from a checkpoint's mapping under their export names, written in the
/// specs' dtype (F32 as stored, or rounded to BF16).
struct Renamed<'a> {
    specs: Vec<TensorSpec>,
    data: Vec<&'a [u8]>,
}

/// The element type of exported weights (`--save-dtype`). Checkpoints always keep f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SaveDtype {
    #[default]
    F32,
    Bf16,
}

impl SaveDtype {
    fn dtype(self) -> crate::checkpoint::DType {
        match self {
            SaveDtype::F32 => crate::checkpoint::DType::F32,
            SaveDtype::Bf16 => crate::checkpoint::DType::BF16,
        }
    }

    /// `torch_dtype` of the exported `config.json`.
    pub fn torch_dtype(self) -> &'static str {
        match self {
            SaveDtype::F32 => "float32",
            SaveDtype::Bf16 => "bfloat16",
        }
    }
}

impl TensorSource for Renamed<'_> {
    fn specs(&self) -> &[TensorSpec] {
        &self.specs
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> Result<()> {
        let src = self.data.get(index).ok_or_else(|| Error::InvalidTensor {
            tensor: format!("#{index}"),
            reason: "index out of range".into(),
        })?;
        let narrow = self.specs[index].dtype == crate::checkpoint::DType::BF16;
        let expected = if narrow { dst.len() * 2 } else { dst.len() };
        if src.len() != expected {
            return Err(Error::TensorByteCount {
                tensor: self.specs[index].name.clone(),
                expected: expected as u64,
                found: src.len() as u64,
            });
        }
        if narrow {
            // round to nearest even, as torch's `.to(torch.bfloat16)` does
            for (out, f) in dst.chunks_exact_mut(2).zip(src.chunks_exact(4)) {
                let value = f32::from_le_bytes([f[0], f[1], f[2], f[3]]);
                out.copy_from_slice(&half::bf16::from_f32(value).to_le_bytes());
            }
        } else {
            dst.copy_from_slice(src);
        }
        Ok(())
    }
}

/// Fully verifies `checkpoint`, then writes the export into `dir` (created if needed; existing
/// export files are replaced atomically, other files left alone).
pub fn export_checkpoint(checkpoint: &Path, dir: &Path) -> Result<ExportSummary> {
    export_checkpoint_as(checkpoint, dir, SaveDtype::F32)
}

/// [`export_checkpoint`] with the weights in `save_dtype` (`torch_dtype` set to match).
pub fn export_checkpoint_as(
    checkpoint: &Path,
    dir: &Path,
    save_dtype: SaveDtype,
) -> Result<ExportSummary> {
    let opened = open_checkpoint(checkpoint, Verify::Full)?;
    let model = crate::hf::checkpoint::model_config_of(checkpoint, &opened.config)?;
    let expected: Vec<TensorSpec> = model
        .param_specs()?
        .iter()
        .map(|p| TensorSpec::new(p.name.clone(), crate::DType::F32, p.shape.clone()))
        .collect();
    let data = opened.model.matching(checkpoint, &expected)?;
    let (model_type, config, names): (&'static str, Value, Vec<String>) = match &model {
        ModelConfig::Gpt(c) => {
            let names = hf_gpt2_names(c)?.into_iter().map(|(_, hf)| hf).collect();
            ("gpt2", hf_gpt2_config(c), names)
        }
        // HF models already carry HF names and layouts: the config they were read from goes back.
        ModelConfig::Hf(c) => (
            c.family.model_type(),
            crate::hf::checkpoint::config_json(c),
            expected.iter().map(|s| s.name.clone()).collect(),
        ),
        ModelConfig::Mlp(c) => (
            "xlatrain-mlp",
            mlp_config(c),
            expected.iter().map(|s| s.name.clone()).collect(),
        ),
    };
    let specs = expected
        .iter()
        .zip(names)
        .map(|(s, name)| TensorSpec::new(name, save_dtype.dtype(), s.shape.clone()))
        .collect();
    let mut config = config;
    if let Some(obj) = config.as_object_mut() {
        obj.insert("torch_dtype".into(), save_dtype.torch_dtype().into());
    }
    let source = Renamed { specs, data };
    fs::create_dir_all(dir).map_err(|e| Error::io("cannot create export directory", dir, e))?;
    let metadata = BTreeMap::from([
        ("format".to_string(), "pt".to_string()),
        ("xlatrain_step".to_string(), opened.step().to_string()),
    ]);
    let weights_bytes = write_safetensors_file(&dir.join(EXPORT_WEIGHTS_FILE), &source, &metadata)?;
    let mut config_text = serde_json::to_vec_pretty(&config).map_err(|e| Error::Export {
        path: dir.join(EXPORT_CONFIG_FILE),
        reason: e.to_string(),
    })?;
    config_text.push(b'\n');
    replace_file(dir, EXPORT_CONFIG_FILE, &config_text)?;
    if let ModelConfig::Hf(_) = model {
        // the tokenizer files the checkpoint carries (verified with it above)
        for name in crate::hf::checkpoint::MODEL_DIR_FILES {
            let path = checkpoint.join(name);
            if path.is_file() {
                let bytes = fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
                replace_file(dir, name, &bytes)?;
            }
        }
    }
    fsync_dir(dir)?;
    Ok(ExportSummary {
        dir: dir.to_path_buf(),
        model_type,
        step: opened.step(),
        tensors: source.specs.len(),
        weights_bytes,
    })
}

/// Writes `dir/name` durably under a temporary name and renames it into place.
fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let temporary = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    crate::checkpoint::write_durable(&temporary, bytes)?;
    fs::rename(&temporary, &path).map_err(|e| Error::io("cannot rename into place", &path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_gpt_parameter_has_its_gpt2_name() {
        let config = GptConfig {
            n_layers: 2,
            ..GptConfig::default()
        };
        let pairs = hf_gpt2_names(&config).unwrap();
        let name = |ours: &str| pairs.iter().find(|(o, _)| o == ours).unwrap().1.clone();
        assert_eq!(name("wte"), "transformer.wte.weight");
        assert_eq!(name("wpe"), "transformer.wpe.weight");
        assert_eq!(name("h.0.ln_1.scale"), "transformer.h.0.ln_1.weight");
        assert_eq!(name("h.0.ln_1.bias"), "transformer.h.0.ln_1.bias");
        assert_eq!(
            name("h.0.attn.c_attn.w"),
            "transformer.h.0.attn.c_attn.weight"
        );
        assert_eq!(
            name("h.0.attn.c_proj.b"),
            "transformer.h.0.attn.c_proj.bias"
        );
        assert_eq!(
            name("h.0.mlp.c_proj.w"),
            "transformer.h.0.mlp.c_proj.weight"
        );
        assert_eq!(name("h.1.ln_1.scale"), "transformer.h.1.ln_1.weight");
        assert_eq!(name("ln_f.scale"), "transformer.ln_f.weight");
        assert_eq!(name("ln_f.bias"), "transformer.ln_f.bias");
        let unique: std::collections::HashSet<&String> = pairs.iter().map(|(_, h)| h).collect();
        assert_eq!(unique.len(), pairs.len());
    }
}
