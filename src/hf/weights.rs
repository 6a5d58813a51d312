//! Where a model's parameter values come from: the memory-mapped safetensors files of a model
//! directory (one `model.safetensors`, or shards listed by `model.safetensors.index.json`), a
//! GGUF file (each tensor dequantized when it is asked for), or host f32 tensors.
//!
//! Files are parsed with the checkpoint module's safetensors parser and read through the one
//! mapping helper. A tensor is handed out as little-endian f32 bytes: F32 straight from the
//! mapping, BF16 and F16 converted into one reusable buffer, so uploading a model never holds a
//! second host copy of it.

use std::collections::HashMap;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::family::TensorTable;
use crate::checkpoint::{parse_index_bytes, parse_shard, DType, TensorSpec};
use crate::{Error, Result};

/// The single-file weights name.
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// The shard index name.
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// One f32 tensor held on the host: `(HF name, shape, values)`.
pub type HostTensor = (String, Vec<usize>, Vec<f32>);

/// The mapped safetensors files of a model directory.
pub struct SafetensorsFiles {
    files: Vec<(PathBuf, Mmap)>,
    /// name -> (file, spec, byte range in that file)
    tensors: HashMap<String, (usize, TensorSpec, Range<usize>)>,
}

/// Parameter values by HF name.
pub enum WeightSource {
    Safetensors(SafetensorsFiles),
    Gguf(Box<super::gguf::GgufModel>),
    Host(Vec<HostTensor>),
}

fn weights_error(path: &Path, tensor: &str, reason: impl Into<String>) -> Error {
    Error::HfWeights {
        path: path.to_path_buf(),
        tensor: tensor.to_string(),
        reason: reason.into(),
    }
}

impl SafetensorsFiles {
    /// Maps and parses the weights of model directory `dir`.
    pub fn open(dir: &Path) -> Result<SafetensorsFiles> {
        let single = dir.join(WEIGHTS_FILE);
        let index = dir.join(INDEX_FILE);
        let names: Vec<String> = if index.is_file() {
            let bytes = std::fs::read(&index).map_err(|e| Error::io("cannot read", &index, e))?;
            let parsed = parse_index_bytes(&index, &bytes)?;
            let mut files: Vec<String> = parsed.weight_map.into_values().collect();
            files.sort();
            files.dedup();
            files
        } else if single.is_file() {
            vec![WEIGHTS_FILE.to_string()]
        } else {
            return Err(weights_error(
                dir,
                "(files)",
                format!("neither {WEIGHTS_FILE} nor {INDEX_FILE} is in the model directory"),
            ));
        };
        let mut files = Vec::with_capacity(names.len());
        let mut tensors = HashMap::new();
        for name in names {
            let path = dir.join(&name);
            let file = File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
            let map = crate::mmap::map_read(&file, &path)?;
            let parsed = parse_shard(&path, &map)?;
            for (spec, range) in parsed.tensors {
                let tensor = spec.name.clone();
                if tensors
                    .insert(tensor.clone(), (files.len(), spec, range))
                    .is_some()
                {
                    return Err(weights_error(&path, &tensor, "appears in two weight files"));
                }
            }
            files.push((path, map));
        }
        Ok(SafetensorsFiles { files, tensors })
    }
}

impl WeightSource {
    /// Every tensor name the source holds.
    pub fn names(&self) -> Vec<String> {
        match self {
            WeightSource::Safetensors(f) => f.tensors.keys().cloned().collect(),
            WeightSource::Gguf(g) => g.tensor_specs().map(|(n, _)| n.to_string()).collect(),
            WeightSource::Host(t) => t.iter().map(|(n, _, _)| n.clone()).collect(),
        }
    }

    /// Where the source's tensors live (for messages).
    pub fn describe(&self) -> PathBuf {
        match self {
            WeightSource::Safetensors(f) => f
                .files
                .first()
                .and_then(|(p, _)| p.parent().map(Path::to_path_buf))
                .unwrap_or_default(),
            WeightSource::Gguf(g) => g.path().to_path_buf(),
            WeightSource::Host(_) => PathBuf::from("(host tensors)"),
        }
    }

    /// The f32 little-endian bytes of the parameter `name` (looked up under every name `table`
    /// allows), checked against `shape`. F32 data is borrowed from the mapping; BF16 and F16
    /// are upcast into `scratch`.
    pub fn tensor_bytes<'a>(
        &'a self,
        table: &TensorTable,
        name: &str,
        shape: &[usize],
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8]> {
        let origin = self.describe();
        let shape_error = |found: &[usize]| {
            weights_error(
                &origin,
                name,
                format!("shape {found:?} in the file, the config needs {shape:?}"),
            )
        };
        match self {
            WeightSource::Safetensors(files) => {
                let found = table
                    .file_names(name)
                    .into_iter()
                    .find_map(|n| files.tensors.get(n));
                let Some((file, spec, range)) = found else {
                    return Err(weights_error(
                        &origin,
                        name,
                        "missing from the weight files",
                    ));
                };
                if spec.shape != shape {
                    return Err(shape_error(&spec.shape));
                }
                let (path, map) = &files.files[*file];
                let raw = map
                    .get(range.clone())
                    .ok_or_else(|| weights_error(path, name, "byte range outside the file"))?;
                match spec.dtype {
                    DType::F32 => Ok(raw),
                    DType::BF16 | DType::F16 => {
                        scratch.clear();
                        scratch.reserve(raw.len() * 2);
                        for pair in raw.chunks_exact(2) {
                            let bits = u16::from_le_bytes([pair[0], pair[1]]);
                            let value = if spec.dtype == DType::BF16 {
                                half::bf16::from_bits(bits).to_f32()
                            } else {
                                half::f16::from_bits(bits).to_f32()
                            };
                            scratch.extend_from_slice(&value.to_le_bytes());
                        }
                        Ok(scratch)
                    }
                    other => Err(weights_error(
                        path,
                        name,
                        format!(
                            "dtype {} is not a float type xlatrain loads (F32, BF16, F16)",
                            other.safetensors_name()
                        ),
                    )),
                }
            }
            WeightSource::Gguf(file) => {
                let index = file
                    .tensor_specs()
                    .position(|(n, _)| n == name)
                    .ok_or_else(|| weights_error(&origin, name, "missing from the GGUF file"))?;
                let tensor = file.tensor(index)?;
                if tensor.shape != shape {
                    return Err(shape_error(&tensor.shape));
                }
                scratch.clear();
                scratch.reserve(tensor.data.len() * 4);
                for v in &tensor.data {
                    scratch.extend_from_slice(&v.to_le_bytes());
                }
                Ok(scratch)
            }
            WeightSource::Host(tensors) => {
                let Some((_, found, values)) = tensors.iter().find(|(n, _, _)| n == name) else {
                    return Err(weights_error(&origin, name, "missing from the model"));
                };
                if found != shape {
                    return Err(shape_error(found));
                }
                scratch.clear();
                for v in values {
                    scratch.extend_from_slice(&v.to_le_bytes());
                }
                Ok(scratch)
            }
        }
    }
}
