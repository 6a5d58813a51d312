//! The safetensors byte format: building a header for a shard we write, and parsing a shard we
//! read with the same strictness as the reference readers (length limits, contiguous offsets,
//! exact sizes, no trailing bytes, no duplicate names). Parsing never indexes out of bounds and
//! never panics, whatever the file holds.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::DType;
use crate::TensorSpec;
use crate::{Error, Result};

/// Largest header the reference readers accept.
pub const MAX_HEADER_LEN: u64 = 100_000_000;
const METADATA_KEY: &str = "__metadata__";
/// Where the data buffer of a shard we write starts: a multiple of this many bytes.
pub const DATA_ALIGN: usize = 4096;

/// A shard header ready to write: the 8-byte length prefix plus the space-padded JSON, and the
/// length of the data buffer after it.
pub struct ShardHeader {
    pub bytes: Vec<u8>,
    pub data_len: u64,
}

impl ShardHeader {
    /// Total file length: prefix, header and data.
    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64 + self.data_len
    }
}

/// Lays out `specs` contiguously in the given order and renders the header. The JSON is padded
/// with spaces (which the format allows after the object) so that the data buffer starts on a
/// 4 KiB boundary: the streaming writer's `O_DIRECT` blocks then begin at the data, and every
/// tensor sits at the alignment the tensors before it allow (8 bytes at least).
pub fn build_header(
    specs: &[&TensorSpec],
    metadata: &BTreeMap<String, String>,
) -> Result<ShardHeader> {
    let mut json = String::from("{");
    let mut first = true;
    if !metadata.is_empty() {
        json.push_str(&format!("\"{METADATA_KEY}\":"));
        json.push_str(
            &serde_json::to_string(metadata).map_err(|e| Error::InvalidTensor {
                tensor: METADATA_KEY.into(),
                reason: e.to_string(),
            })?,
        );
        first = false;
    }
    let mut offset = 0u64;
    for spec in specs {
        if spec.name == METADATA_KEY {
            return Err(Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: "name is reserved for safetensors metadata".into(),
            });
        }
        let len = spec.byte_len().ok_or_else(|| Error::InvalidTensor {
            tensor: spec.name.clone(),
            reason: format!("shape {:?} overflows", spec.shape),
        })? as u64;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: "shard size overflows".into(),
            })?;
        if !first {
            json.push(',');
        }
        first = false;
        let name = serde_json::Value::String(spec.name.clone()).to_string();
        let shape: Vec<String> = spec.shape.iter().map(usize::to_string).collect();
        json.push_str(&format!(
            "{name}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{offset},{end}]}}",
            spec.dtype.safetensors_name(),
            shape.join(",")
        ));
        offset = end;
    }
    json.push('}');
    let data_start = (8 + json.len()).div_ceil(DATA_ALIGN) * DATA_ALIGN;
    json.extend(std::iter::repeat_n(' ', data_start - 8 - json.len()));
    if json.len() as u64 > MAX_HEADER_LEN {
        return Err(Error::InvalidTensor {
            tensor: specs.first().map(|s| s.name.clone()).unwrap_or_default(),
            reason: format!(
                "shard header would be {} bytes, over the {MAX_HEADER_LEN} limit",
                json.len()
            ),
        });
    }
    let mut bytes = Vec::with_capacity(8 + json.len());
    bytes.extend_from_slice(&(json.len() as u64).to_le_bytes());
    bytes.extend_from_slice(json.as_bytes());
    Ok(ShardHeader {
        bytes,
        data_len: offset,
    })
}

/// A validated shard: its tensors in file order with absolute byte ranges into the file.
#[derive(Debug)]
pub struct ParsedShard {
    pub tensors: Vec<(TensorSpec, Range<usize>)>,
    pub metadata: BTreeMap<String, String>,
}

/// JSON object entries in file order, keeping duplicates so we can reject them.
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Parses and validates a whole shard file held in `file`.
pub fn parse_shard(path: &Path, file: &[u8]) -> Result<ParsedShard> {
    let header_err = |reason: String| Error::SafetensorsHeader {
        path: path.to_path_buf(),
        reason,
    };
    let file_len = file.len() as u64;
    let prefix: [u8; 8] = file
        .get(..8)
        .and_then(|p| p.try_into().ok())
        .ok_or_else(|| {
            header_err(format!(
                "file is {file_len} bytes, shorter than the 8-byte length prefix"
            ))
        })?;
    let header_len = u64::from_le_bytes(prefix);
    if header_len > MAX_HEADER_LEN || header_len > file_len - 8 {
        return Err(Error::SafetensorsHeaderTooLarge {
            path: path.to_path_buf(),
            header_len,
            limit: MAX_HEADER_LEN.min(file_len - 8),
            file_len,
        });
    }
    let data_start = 8 + header_len as usize;
    let header = file.get(8..data_start).unwrap_or_default();
    if header.first() != Some(&b'{') {
        return Err(header_err("header does not start with '{'".into()));
    }
    let text =
        std::str::from_utf8(header).map_err(|e| header_err(format!("header is not UTF-8: {e}")))?;
    let Entries(entries) = serde_json::from_str(text)
        .map_err(|e| header_err(format!("header is not a JSON object: {e}")))?;

    let mut seen = HashSet::new();
    let mut metadata = BTreeMap::new();
    let mut tensors: Vec<(TensorSpec, Range<u64>)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        if !seen.insert(name.clone()) {
            return Err(header_err(format!("duplicate entry {name:?}")));
        }
        if name == METADATA_KEY {
            metadata = parse_metadata(value).map_err(header_err)?;
            continue;
        }
        let (spec, range) =
            parse_tensor_entry(&name, value).map_err(|reason| Error::SafetensorsTensor {
                path: path.to_path_buf(),
                tensor: name.clone(),
                reason,
            })?;
        tensors.push((spec, range));
    }

    tensors.sort_by_key(|(_, r)| (r.start, r.end));
    let mut expected_start = 0u64;
    for (spec, range) in &tensors {
        if range.start != expected_start {
            let what = if range.start > expected_start {
                "a gap"
            } else {
                "an overlap"
            };
            return Err(Error::SafetensorsTensor {
                path: path.to_path_buf(),
                tensor: spec.name.clone(),
                reason: format!(
                    "data_offsets start at {} but the previous tensor ends at {expected_start} ({what})",
                    range.start
                ),
            });
        }
        expected_start = range.end;
    }
    let expected_len = 8u64
        .checked_add(header_len)
        .and_then(|v| v.checked_add(expected_start))
        .ok_or_else(|| header_err("data offsets overflow".into()))?;
    if expected_len != file_len {
        return Err(Error::SafetensorsLength {
            path: path.to_path_buf(),
            expected: expected_len,
            found: file_len,
        });
    }
    // Every range now lies inside the file, whose length fits in usize.
    let tensors = tensors
        .into_iter()
        .map(|(spec, r)| {
            let start = data_start + r.start as usize;
            let end = data_start + r.end as usize;
            (spec, start..end)
        })
        .collect();
    Ok(ParsedShard { tensors, metadata })
}

fn parse_metadata(value: Value) -> std::result::Result<BTreeMap<String, String>, String> {
    let Value::Object(map) = value else {
        return Err("__metadata__ is not an object".into());
    };
    map.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            other => Err(format!(
                "__metadata__ value for {k:?} is not a string: {other}"
            )),
        })
        .collect()
}

fn parse_tensor_entry(
    name: &str,
    value: Value,
) -> std::result::Result<(TensorSpec, Range<u64>), String> {
    let Value::Object(map) = value else {
        return Err("entry is not an object".into());
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "dtype" | "shape" | "data_offsets") {
            return Err(format!("unknown field {key:?}"));
        }
    }
    let dtype_name = map
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("missing or non-string dtype")?;
    let dtype = DType::from_safetensors_name(dtype_name)
        .ok_or_else(|| format!("unknown dtype {dtype_name:?}"))?;
    let shape = u64_array(map.get("shape"), "shape")?
        .into_iter()
        .map(|d| {
            usize::try_from(d).map_err(|_| format!("shape dimension {d} does not fit in memory"))
        })
        .collect::<std::result::Result<Vec<usize>, String>>()?;
    let offsets = u64_array(map.get("data_offsets"), "data_offsets")?;
    let [begin, end] = offsets[..] else {
        return Err(format!(
            "data_offsets has {} values, expected 2",
            offsets.len()
        ));
    };
    if end < begin {
        return Err(format!(
            "data_offsets [{begin}, {end}] end before they begin"
        ));
    }
    let spec = TensorSpec::new(name, dtype, shape);
    let expected = spec
        .byte_len()
        .ok_or_else(|| format!("shape {:?} overflows", spec.shape))? as u64;
    if end - begin != expected {
        return Err(format!(
            "data_offsets [{begin}, {end}] hold {} bytes but {} needs {expected}",
            end - begin,
            spec.describe()
        ));
    }
    Ok((spec, begin..end))
}

fn u64_array(value: Option<&Value>, field: &str) -> std::result::Result<Vec<u64>, String> {
    let items = value
        .and_then(Value::as_array)
        .ok_or_else(|| format!("missing or non-array {field}"))?;
    items
        .iter()
        .map(|v| {
            v.as_u64()
                .ok_or_else(|| format!("{field} holds a non-integer or negative value {v}"))
        })
        .collect()
}
