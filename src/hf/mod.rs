//! Hugging Face models from local files: `--model-name-or-path` resolves to a model directory
//! (`config.json` plus safetensors weights) or a `.gguf` file, read by family ([`config`]) through
//! one table of tensor names and layouts ([`family`]), and uploaded tensor by tensor in
//! declaration order from the mapped files ([`weights`]) or dequantized one at a time from a
//! GGUF file ([`gguf`]). Nothing is ever downloaded.

pub mod checkpoint;
pub mod config;
pub mod encoder;
pub mod family;
pub mod gguf;
pub mod weights;

use std::path::{Path, PathBuf};

pub use config::{Family, HfConfig};
pub use encoder::EncoderConfig;
pub use family::{tensor_table, Alias, HfTensor, LlamaLayer, TensorTable};
pub use weights::{HostTensor, SafetensorsFiles, WeightSource, INDEX_FILE, WEIGHTS_FILE};

use crate::pjrt::{Buffer, Client, DType};
use crate::{Error, Result};

/// Seeds the values of a fresh classification head.
const FRESH_HEAD_SEED: u64 = 0x5eed_c1a5;

/// The config file of a model directory.
pub const CONFIG_FILE: &str = "config.json";

/// A model opened from local files: its config and where its weights are.
pub struct HfModel {
    pub config: HfConfig,
    pub weights: WeightSource,
    /// The model directory (tokenizer files live beside the weights); `None` for a GGUF file.
    pub dir: Option<PathBuf>,
}

impl std::fmt::Debug for HfModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfModel")
            .field("family", &self.config.family)
            .field("dir", &self.dir)
            .finish()
    }
}

fn path_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::HfModelPath {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether `text` reads like a hub id (`org/name` or `name`) rather than a file path.
fn looks_like_hub_id(text: &str) -> bool {
    let parts: Vec<&str> = text.split('/').collect();
    parts.len() <= 2
        && !text.starts_with('.')
        && !text.starts_with('~')
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

impl HfModel {
    /// Opens `--model-name-or-path`: a local model directory or a `.gguf` file.
    pub fn open(path: &Path) -> Result<HfModel> {
        if !path.exists() {
            let text = path.to_string_lossy();
            let reason = if looks_like_hub_id(&text) {
                "is not a local path; xlatrain never downloads models: fetch it yourself (for \
                 example `huggingface-cli download` into a directory) and pass that directory"
            } else {
                "does not exist"
            };
            return Err(path_error(path, reason));
        }
        if path.is_file() {
            if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
            {
                let file = gguf::read(path)?;
                let config = HfConfig::from_json(path, &file.config)?;
                return Ok(HfModel {
                    config,
                    weights: WeightSource::Gguf(Box::new(file)),
                    dir: None,
                });
            }
            return Err(path_error(
                path,
                "is a file: pass a model directory (config.json + model.safetensors) or a .gguf file",
            ));
        }
        let config_path = path.join(CONFIG_FILE);
        if !config_path.is_file() {
            return Err(path_error(
                path,
                "has no config.json: not a model directory",
            ));
        }
        let config = HfConfig::read(&config_path)?;
        let weights = WeightSource::Safetensors(SafetensorsFiles::open(path)?);
        Ok(HfModel {
            config,
            weights,
            dir: Some(path.to_path_buf()),
        })
    }

    /// A model whose weights are host f32 tensors, e.g. dequantized from a GGUF file; `config`
    /// is an HF `config.json` value.
    pub fn from_host(config: &serde_json::Value, tensors: Vec<HostTensor>) -> Result<HfModel> {
        let config = HfConfig::from_json(Path::new("(gguf metadata)"), config)?;
        Ok(HfModel {
            config,
            weights: WeightSource::Host(tensors),
            dir: None,
        })
    }

    /// The tokenizer: `explicit` (a `tokenizer.json`), else the model directory's, else the one a
    /// GGUF file carries; `None` when the model has none.
    pub fn tokenizer(
        &self,
        explicit: Option<&Path>,
    ) -> Result<Option<crate::tokenizer::Tokenizer>> {
        use crate::tokenizer::Tokenizer;
        if let Some(dir) = &self.dir {
            if explicit.is_some() || dir.join("tokenizer.json").is_file() {
                return Tokenizer::for_model(dir, explicit).map(Some);
            }
            return Ok(None);
        }
        match (&self.weights, explicit) {
            (_, Some(file)) => Tokenizer::from_file(file).map(Some),
            (WeightSource::Gguf(file), None) => file.tokenizer().map(Some),
            _ => Ok(None),
        }
    }

    /// The parameter table of this model.
    pub fn table(&self) -> TensorTable {
        tensor_table(&self.config)
    }

    /// Uploads every parameter to device `device`, one at a time in declaration order, straight
    /// from the mapped files (BF16/F16 through one tensor-sized conversion buffer). Tensors the
    /// files hold that are no parameter (and no tied alias or known buffer) are refused.
    pub fn upload(&self, client: &Client, device: usize) -> Result<Vec<Buffer>> {
        self.upload_as(client, device, &self.config)
    }

    /// [`Self::upload`] for `config`: this model's config, or the same model with another label
    /// set (`--num-labels`, the labels of the data). A task head the files lack (a base
    /// encoder's directory) starts fresh as transformers initialises it, and the log says so;
    /// a head the files hold must have `config`'s shape.
    pub fn upload_as(
        &self,
        client: &Client,
        device: usize,
        config: &HfConfig,
    ) -> Result<Vec<Buffer>> {
        let mut buffers = Vec::new();
        self.for_each_param(config, |shape, bytes| {
            let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            buffers.push(client.buffer_from_bytes(bytes, DType::F32, &dims, device)?);
            Ok(())
        })?;
        Ok(buffers)
    }

    /// Calls `visit(shape, f32 bytes)` for every parameter of `config` in declaration order, each
    /// borrowed from the mapped files where it is stored as f32 (BF16/F16 through one
    /// tensor-sized conversion buffer); a task head the files lack starts fresh (see
    /// [`Self::upload_as`]). Tensors the files hold that are no parameter are refused first.
    pub fn for_each_param(
        &self,
        config: &HfConfig,
        mut visit: impl FnMut(&[usize], &[u8]) -> Result<()>,
    ) -> Result<()> {
        let table = tensor_table(config);
        self.check_no_stray_tensors(&table)?;
        let fresh = self.fresh_head(&table, config)?;
        let mut scratch = Vec::new();
        for p in &table.params {
            if let Some((_, values)) = fresh.iter().find(|(n, _)| *n == p.name) {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                visit(&p.shape, &bytes)?;
                continue;
            }
            let bytes = self
                .weights
                .tensor_bytes(&table, &p.name, &p.shape, &mut scratch)?;
            visit(&p.shape, bytes)?;
        }
        Ok(())
    }

    /// Fresh values of the head tensors the files do not hold: weights normal with standard
    /// deviation `initializer_range`, biases zero (`_init_weights` of BERT and RoBERTa), drawn
    /// from a fixed seed so a run is reproducible.
    fn fresh_head(
        &self,
        table: &TensorTable,
        config: &HfConfig,
    ) -> Result<Vec<(String, Vec<f32>)>> {
        let missing: Vec<&HfTensor> = table.params[table.head_start()..]
            .iter()
            .filter(|p| !self.weights.has(table, &p.name))
            .collect();
        if missing.is_empty() {
            return Ok(Vec::new());
        }
        let std = config.encoder()?.initializer_range;
        let names: Vec<&str> = missing.iter().map(|p| p.name.as_str()).collect();
        log::info!(
            "{}: no {} in the weights: a fresh classification head of {} labels starts \
             (normal std={std} weights, zero biases, as transformers initialises it); train it \
             before use",
            self.weights.describe().display(),
            names.join(", "),
            config.encoder()?.num_labels,
        );
        Ok(missing
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let n: usize = p.shape.iter().product();
                let values = if p.shape.len() == 1 {
                    vec![0.0; n]
                } else {
                    crate::rng::normal_init(crate::rng::derive(FRESH_HEAD_SEED, k as u64), n, std)
                };
                (p.name.clone(), values)
            })
            .collect())
    }

    /// A file tensor the table does not know would be silently dropped, changing the model.
    fn check_no_stray_tensors(&self, table: &TensorTable) -> Result<()> {
        let known: std::collections::HashSet<std::borrow::Cow<str>> = table
            .params
            .iter()
            .flat_map(|p| table.file_names(&p.name))
            .collect();
        let mut stray: Vec<String> = self
            .weights
            .names()
            .into_iter()
            .filter(|n| !known.contains(n.as_str()) && !table.is_ignored_file_tensor(n))
            .collect();
        stray.sort();
        match stray.first() {
            None => Ok(()),
            Some(first) => Err(Error::HfWeights {
                path: self.weights.describe(),
                tensor: first.clone(),
                reason: format!(
                    "is not a parameter of a {} model with this config ({} such tensors); the \
                     config and the weights disagree",
                    self.config.family.model_type(),
                    stray.len()
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_ids_are_told_apart_from_paths() {
        assert!(looks_like_hub_id("HuggingFaceTB/SmolLM2-135M"));
        assert!(looks_like_hub_id("gpt2"));
        assert!(!looks_like_hub_id("./models/x"));
        assert!(!looks_like_hub_id("/abs/path/model"));
        assert!(!looks_like_hub_id("a/b/c"));
        let e = HfModel::open(Path::new("nobody-has/this-model"))
            .err()
            .unwrap();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("never downloads"), "{e}");
    }
}
