//! Shard planning: which tensors go into which file, and each file's exact header and length,
//! all decided before a byte is written (so free space can be checked up front).

use std::collections::{BTreeMap, HashSet};

use super::layout::shard_file_name;
use super::safetensors::{build_header, ShardHeader};
use crate::TensorSpec;
use crate::{Error, Result};

/// One planned shard file.
pub struct ShardPlan {
    pub file_name: String,
    /// Indices into the source's specs, in file order.
    pub tensors: Vec<usize>,
    pub header: ShardHeader,
}

/// Greedy fill in declaration order, as HF Transformers: a tensor that would push the current
/// shard's data past `max_shard_size` starts a new shard, so a tensor larger than the limit sits
/// alone. The limit counts tensor bytes, not headers. Always at least one shard (maybe empty).
pub fn plan_shards(
    prefix: &str,
    specs: &[TensorSpec],
    max_shard_size: u64,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<ShardPlan>> {
    let mut names = HashSet::new();
    let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
    let mut current = 0u64;
    for (index, spec) in specs.iter().enumerate() {
        if !names.insert(spec.name.as_str()) {
            return Err(Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: format!("declared twice in the {prefix} tensors"),
            });
        }
        let len = spec.byte_len().ok_or_else(|| Error::InvalidTensor {
            tensor: spec.name.clone(),
            reason: format!("shape {:?} overflows", spec.shape),
        })? as u64;
        let last = groups.len() - 1;
        if !groups[last].is_empty() && current.saturating_add(len) > max_shard_size {
            groups.push(Vec::new());
            current = 0;
        }
        let last = groups.len() - 1;
        groups[last].push(index);
        current = current.saturating_add(len);
    }
    let count = groups.len();
    groups
        .into_iter()
        .enumerate()
        .map(|(i, tensors)| {
            let group_specs: Vec<&TensorSpec> = tensors.iter().map(|&t| &specs[t]).collect();
            Ok(ShardPlan {
                file_name: shard_file_name(prefix, i, count),
                header: build_header(&group_specs, metadata)?,
                tensors,
            })
        })
        .collect()
}
