//! Training-state stand-ins for the checkpoint benchmark: the peer benchmark's parameter sets
//! (same names, shapes and byte counts, so both sides write the same bytes), uploaded to the
//! device as f32 tensors, plus the device-side [`TensorSource`] that saving downloads from.

use std::time::Instant;

use crate::checkpoint::{parse_size, DType, DeviceTensors, TensorSpec};
use crate::pjrt::{Buffer, Client};
use crate::{Error, Result};

/// A named list of f32 tensors standing in for a training state.
#[derive(Debug, Clone, PartialEq)]
pub struct StateSet {
    /// How the user asked for it (`100MB`, `1GB`, `4GB`, or a size such as `250MB`).
    pub label: String,
    pub tensors: Vec<TensorSpec>,
}

/// Largest tensor of a set made for an arbitrary size (16 MiB).
const FILL_TENSOR_ELEMENTS: usize = 4 << 20;

impl StateSet {
    /// The peers' presets by name (`ckpt_bench.py`: d_model, layers, vocab), otherwise a set of
    /// 16 MiB tensors adding up to the parsed size.
    pub fn parse(text: &str) -> Result<StateSet> {
        let preset = match text.trim() {
            "100MB" => Some((512, 6, 8192)),
            "1GB" => Some((1024, 16, 32000)),
            "4GB" => Some((2048, 17, 32000)),
            _ => None,
        };
        if let Some((d, layers, vocab)) = preset {
            return Ok(StateSet::transformer(text.trim(), d, layers, vocab));
        }
        let bytes = parse_size(text).map_err(|e| Error::Usage(format!("--ckpt-sizes: {e}")))?;
        if bytes < 4 {
            return Err(Error::Usage(format!(
                "--ckpt-sizes: {text} is smaller than one f32"
            )));
        }
        Ok(StateSet::filled(text.trim(), (bytes / 4) as usize))
    }

    /// `ckpt_bench.py`'s `param_shapes(d, layers, vocab)`, in the same order.
    fn transformer(label: &str, d: usize, layers: usize, vocab: usize) -> StateSet {
        let mut tensors = vec![TensorSpec::new("model.embed.w", DType::F32, [vocab, d])];
        for i in 0..layers {
            let p = format!("model.layers.{i}.");
            let shapes: [(&str, Vec<usize>); 12] = [
                ("ln1.scale", vec![d]),
                ("ln1.bias", vec![d]),
                ("attn.q.w", vec![d, d]),
                ("attn.k.w", vec![d, d]),
                ("attn.v.w", vec![d, d]),
                ("attn.o.w", vec![d, d]),
                ("ln2.scale", vec![d]),
                ("ln2.bias", vec![d]),
                ("mlp.up.w", vec![d, 4 * d]),
                ("mlp.up.b", vec![4 * d]),
                ("mlp.down.w", vec![4 * d, d]),
                ("mlp.down.b", vec![d]),
            ];
            for (name, shape) in shapes {
                tensors.push(TensorSpec::new(format!("{p}{name}"), DType::F32, shape));
            }
        }
        tensors.push(TensorSpec::new("model.ln_f.scale", DType::F32, [d]));
        tensors.push(TensorSpec::new("model.ln_f.bias", DType::F32, [d]));
        tensors.push(TensorSpec::new("lm_head.w", DType::F32, [vocab, d]));
        StateSet {
            label: label.to_string(),
            tensors,
        }
    }

    fn filled(label: &str, elements: usize) -> StateSet {
        let mut tensors = Vec::new();
        let mut left = elements;
        while left > 0 {
            let n = left.min(FILL_TENSOR_ELEMENTS);
            tensors.push(TensorSpec::new(
                format!("state.{}", tensors.len()),
                DType::F32,
                [n],
            ));
            left -= n;
        }
        StateSet {
            label: label.to_string(),
            tensors,
        }
    }

    /// Bytes of tensor data.
    pub fn bytes(&self) -> u64 {
        self.tensors
            .iter()
            .filter_map(TensorSpec::byte_len)
            .map(|n| n as u64)
            .sum()
    }
}

/// A state living on the device, one buffer per tensor, with the xxh3 of each tensor's bytes as
/// generated (so a resumed copy can be checked).
pub struct DeviceState {
    pub specs: Vec<TensorSpec>,
    pub buffers: Vec<Buffer>,
    pub checksums: Vec<u64>,
    /// Seconds spent in the host-to-device copies alone (generation excluded).
    pub upload_s: f64,
}

impl DeviceState {
    /// Fills every tensor with N(0, 0.02)-scale uniform values (incompressible, like trained f32
    /// weights) and uploads it to device 0, one tensor at a time so that at most one tensor's host
    /// copy exists at once.
    pub fn upload(client: &Client, set: &StateSet, seed: u64) -> Result<DeviceState> {
        let bound = 0.02 * 3f64.sqrt();
        let mut state = DeviceState {
            specs: set.tensors.clone(),
            buffers: Vec::with_capacity(set.tensors.len()),
            checksums: Vec::with_capacity(set.tensors.len()),
            upload_s: 0.0,
        };
        for (index, spec) in set.tensors.iter().enumerate() {
            let count = spec.numel().ok_or_else(|| Error::InvalidTensor {
                tensor: spec.name.clone(),
                reason: "shape overflows".into(),
            })?;
            let values =
                crate::rng::uniform_init(crate::rng::derive(seed, index as u64), count, bound);
            let bytes = f32_bytes(&values);
            state.checksums.push(xxhash_rust::xxh3::xxh3_64(&bytes));
            let started = Instant::now();
            let buffer = client.buffer_from_bytes(&bytes, DType::F32, &spec.dims(), 0)?;
            state.upload_s += started.elapsed().as_secs_f64();
            state.buffers.push(buffer);
        }
        Ok(state)
    }
}

/// The little-endian bytes of f32 values (the layout of safetensors and of PJRT host buffers).
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(values.len() * 4);
    for v in values {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes
}

impl DeviceState {
    /// The state as the checkpoint module's device source, which downloads each buffer straight
    /// into the shard's mapped byte range (no intermediate host copy).
    pub fn source(&self) -> Result<DeviceTensors<&Buffer>> {
        DeviceTensors::new(
            self.specs.iter().map(|spec| spec.name.clone()),
            self.buffers.iter().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_the_peer_parameter_sets() {
        // Byte counts and tensor counts as printed in peers/RESULTS.md.
        for (label, bytes, count) in [
            ("100MB", 109_166_592, 76),
            ("1GB", 1_068_048_384, 196),
            ("4GB", 3_948_109_824, 208),
        ] {
            let set = StateSet::parse(label).unwrap();
            assert_eq!((set.bytes(), set.tensors.len()), (bytes, count), "{label}");
            assert_eq!(set.tensors[0].name, "model.embed.w");
        }
    }

    #[test]
    fn other_sizes_are_filled_with_16_mib_tensors() {
        let set = StateSet::parse("40MiB").unwrap();
        assert_eq!(set.bytes(), 40 << 20);
        assert_eq!(set.tensors.len(), 3);
        assert_eq!(set.tensors[2].shape, vec![2 << 20]);
    }

    #[test]
    fn nonsense_sizes_are_usage_errors() {
        for bad in ["", "lots", "2", "-1GB"] {
            let err = StateSet::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}: {err}");
        }
    }
}
