//! The GGUF container (versions 2 and 3): header, metadata key-values of every value type, tensor
//! infos and the aligned data section, parsed defensively from bytes.
//!
//! Layout (little-endian): magic `GGUF`, `u32` version, `u64` tensor count, `u64` key-value
//! count; then each key-value (a string key, a `u32` value type, the value); then each tensor
//! info (a string name, `u32` dimension count, that many `u64` dimensions with the fastest-varying
//! first, `u32` ggml type, `u64` offset into the data section). The data section starts at the
//! next multiple of `general.alignment` (default 32) after the infos. Strings are a `u64` length
//! and UTF-8 bytes.
//!
//! Nothing here trusts a count or an offset: every length is checked against the bytes that are
//! left before anything is allocated for it, arithmetic is checked, nesting is bounded, and every
//! tensor's byte range must lie inside the file, so a truncated or corrupted file is an
//! [`Error::Gguf`] naming what is wrong, never a panic or a huge allocation.

use std::collections::BTreeMap;
use std::path::Path;

use super::types::GgmlType;
use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// Arrays of arrays deeper than this are refused (the format does not need more than 2).
const MAX_NESTING: usize = 8;
/// More dimensions than ggml's maximum (4) are refused.
const MAX_DIMS: u32 = 4;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// An integer value of any width as `i128` (for checked conversions by the caller).
    pub fn as_int(&self) -> Option<i128> {
        Some(match *self {
            Value::U8(v) => v.into(),
            Value::I8(v) => v.into(),
            Value::U16(v) => v.into(),
            Value::I16(v) => v.into(),
            Value::U32(v) => v.into(),
            Value::I32(v) => v.into(),
            Value::U64(v) => v.into(),
            Value::I64(v) => v.into(),
            _ => return None,
        })
    }

    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(f64::from(v)),
            Value::F64(v) => Some(v),
            _ => self.as_int().map(|v| v as f64),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The GGUF name of the value's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::U8(_) => "uint8",
            Value::I8(_) => "int8",
            Value::U16(_) => "uint16",
            Value::I16(_) => "int16",
            Value::U32(_) => "uint32",
            Value::I32(_) => "int32",
            Value::F32(_) => "float32",
            Value::Bool(_) => "bool",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::U64(_) => "uint64",
            Value::I64(_) => "int64",
            Value::F64(_) => "float64",
        }
    }
}

/// One tensor's description: name, ggml dimensions (fastest-varying first), type and its byte
/// range in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Absolute byte offset of the tensor's data in the file.
    pub start: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    pub fn n_elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The PyTorch shape: the ggml dimensions reversed (slowest-varying first).
    pub fn torch_shape(&self) -> Vec<usize> {
        self.dims.iter().rev().map(|&d| d as usize).collect()
    }
}

/// A parsed GGUF header: version, metadata in file order, tensor infos in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    pub data_start: u64,
}

impl GgufHeader {
    /// Parses the header of a whole GGUF file's bytes; `path` names it in errors.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<GgufHeader> {
        let mut r = Reader { bytes, at: 0, path };
        let magic = r.take(4, "the magic number")?;
        if magic != MAGIC {
            return Err(r.error(format!(
                "not a GGUF file: starts with {magic:02x?}, expected \"GGUF\""
            )));
        }
        let version = r.u32("the version")?;
        if !(2..=3).contains(&version) {
            return Err(r.error(format!(
                "GGUF version {version} is not supported (versions 2 and 3 are)"
            )));
        }
        let tensor_count = r.u64("the tensor count")?;
        let kv_count = r.u64("the metadata count")?;
        // A key-value takes at least 8 (key length) + 4 (type) + 1 bytes; a tensor info at
        // least 8 + 4 + 4 + 8.
        r.check_count(kv_count, 13, "metadata entries")?;
        r.check_count(tensor_count, 24, "tensor infos")?;
        let mut metadata = BTreeMap::new();
        for i in 0..kv_count {
            let key = r.string(&format!("the key of metadata entry {i}"))?;
            let value_type = r.u32(&format!("the type of `{key}`"))?;
            let value = r.value(value_type, &key, 0)?;
            if metadata.insert(key.clone(), value).is_some() {
                return Err(r.error(format!("metadata key `{key}` appears twice")));
            }
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(Value::U32(a)) if *a > 0 && a.is_power_of_two() => u64::from(*a),
            Some(other) => {
                return Err(r.error(format!(
                    "general.alignment must be a power-of-two uint32, found {other:?}"
                )))
            }
        };
        let mut raw = Vec::with_capacity(tensor_count as usize);
        for i in 0..tensor_count {
            let name = r.string(&format!("the name of tensor {i}"))?;
            let n_dims = r.u32(&format!("the dimension count of {name}"))?;
            if n_dims == 0 || n_dims > MAX_DIMS {
                return Err(r.error(format!(
                    "tensor {name} has {n_dims} dimensions (1 to {MAX_DIMS} allowed)"
                )));
            }
            let dims = (0..n_dims)
                .map(|_| r.u64(&format!("the dimensions of {name}")))
                .collect::<Result<Vec<u64>>>()?;
            let type_id = r.u32(&format!("the type of {name}"))?;
            let offset = r.u64(&format!("the offset of {name}"))?;
            raw.push((name, dims, type_id, offset));
        }
        let data_start = r.at.div_ceil(alignment as usize) as u64 * alignment;
        let file_len = bytes.len() as u64;
        let mut tensors = Vec::with_capacity(raw.len());
        let mut names = std::collections::HashSet::new();
        for (name, dims, type_id, offset) in raw {
            if !names.insert(name.clone()) {
                return Err(r.error(format!("tensor {name} is declared twice")));
            }
            let ggml_type = GgmlType::from_id(type_id);
            let n_elements = dims
                .iter()
                .try_fold(1u64, |acc, &d| acc.checked_mul(d))
                .ok_or_else(|| r.error(format!("tensor {name}: dimensions {dims:?} overflow")))?;
            if dims.contains(&0) {
                return Err(r.error(format!("tensor {name} has an empty dimension {dims:?}")));
            }
            let n_bytes = ggml_type.byte_size(dims[0], n_elements).ok_or_else(|| {
                r.error(format!(
                    "tensor {name}: {} with rows of {} elements is not a whole number of blocks",
                    ggml_type.name(),
                    dims[0]
                ))
            })?;
            if offset % alignment != 0 {
                return Err(r.error(format!(
                    "tensor {name}: offset {offset} is not a multiple of the alignment {alignment}"
                )));
            }
            let start = data_start.checked_add(offset);
            let end = start.and_then(|s| s.checked_add(n_bytes));
            match (start, end) {
                (Some(start), Some(end)) if end <= file_len => tensors.push(TensorInfo {
                    name,
                    dims,
                    ggml_type,
                    start,
                    n_bytes,
                }),
                _ => {
                    return Err(r.error(format!(
                        "tensor {name}: {n_bytes} bytes at data offset {offset} run past the end \
                         of the file ({file_len} bytes, data section at {data_start}); the file \
                         is truncated or corrupt"
                    )))
                }
            }
        }
        Ok(GgufHeader {
            version,
            metadata,
            tensors,
            alignment,
            data_start,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn error(&self, reason: String) -> Error {
        Error::Gguf {
            path: self.path.to_path_buf(),
            reason,
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.at) as u64;
        if n > left {
            return Err(self.error(format!(
                "truncated: {what} needs {n} bytes at offset {}, {left} left",
                self.at
            )));
        }
        let slice = &self.bytes[self.at..self.at + n as usize];
        self.at += n as usize;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// Refuses a count of items of at least `min_size` bytes each that cannot fit in the rest.
    fn check_count(&self, count: u64, min_size: u64, what: &str) -> Result<()> {
        let left = (self.bytes.len() - self.at) as u64;
        if count.saturating_mul(min_size) > left {
            return Err(self.error(format!(
                "{count} {what} cannot fit in the {left} bytes left at offset {}; the file is \
                 truncated or corrupt",
                self.at
            )));
        }
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = self.u64(what)?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.error(format!("{what} is not valid UTF-8")))
    }

    fn value(&mut self, value_type: u32, key: &str, depth: usize) -> Result<Value> {
        let what = format!("the value of `{key}`");
        Ok(match value_type {
            0 => Value::U8(self.array::<1>(&what)?[0]),
            1 => Value::I8(i8::from_le_bytes(self.array(&what)?)),
            2 => Value::U16(u16::from_le_bytes(self.array(&what)?)),
            3 => Value::I16(i16::from_le_bytes(self.array(&what)?)),
            4 => Value::U32(self.u32(&what)?),
            5 => Value::I32(i32::from_le_bytes(self.array(&what)?)),
            6 => Value::F32(f32::from_le_bytes(self.array(&what)?)),
            7 => match self.array::<1>(&what)?[0] {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                b => return Err(self.error(format!("`{key}`: bool byte {b} is neither 0 nor 1"))),
            },
            8 => Value::String(self.string(&what)?),
            9 => {
                if depth >= MAX_NESTING {
                    return Err(
                        self.error(format!("`{key}`: arrays nested deeper than {MAX_NESTING}"))
                    );
                }
                let item_type = self.u32(&what)?;
                let len = self.u64(&what)?;
                self.check_count(len, min_value_size(item_type), &format!("items of `{key}`"))?;
                let mut items = Vec::with_capacity(len as usize);
                for _ in 0..len {
                    items.push(self.value(item_type, key, depth + 1)?);
                }
                Value::Array(items)
            }
            10 => Value::U64(self.u64(&what)?),
            11 => Value::I64(i64::from_le_bytes(self.array(&what)?)),
            12 => Value::F64(f64::from_le_bytes(self.array(&what)?)),
            other => {
                return Err(self.error(format!(
                    "`{key}` has unknown value type {other} (0-12 are defined)"
                )))
            }
        })
    }
}

/// The fewest bytes one value of a type can take (so a count can be checked before allocating).
fn min_value_size(value_type: u32) -> u64 {
    match value_type {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,
        9 => 12,
        _ => 8,
    }
}
