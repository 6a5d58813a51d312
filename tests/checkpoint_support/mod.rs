//! Shared fixtures for the checkpoint tests: a multi-dtype model and optimizer state in host
//! memory, JSON documents, and an independent minimal safetensors reader (written from the format
//! description, sharing no code with the library's reader).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};
use xlatrain::checkpoint::{
    CheckpointContents, DType, HostTensors, SaveOptions, TensorSpec, TrainerState,
};

/// Deterministic bytes so a round trip can be compared byte for byte.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn host_tensors(specs: &[TensorSpec], seed: u64) -> HostTensors {
    let mut tensors = HostTensors::new();
    for (i, spec) in specs.iter().enumerate() {
        let len = spec.byte_len().unwrap();
        tensors
            .push(spec.clone(), pattern(len, seed + i as u64))
            .unwrap();
    }
    tensors
}

/// Every dtype, plus a rank-0 and an empty tensor.
pub fn model_specs() -> Vec<TensorSpec> {
    vec![
        TensorSpec::new("transformer.wte.weight", DType::F32, [16, 8]),
        TensorSpec::new("transformer.h.0.ln_1.weight", DType::BF16, [8]),
        TensorSpec::new("transformer.h.0.attn.c_attn.weight", DType::F16, [8, 24]),
        TensorSpec::new("scale", DType::F64, []),
        TensorSpec::new("empty", DType::F32, [0, 3]),
        TensorSpec::new("mask", DType::Pred, [5]),
        TensorSpec::new("bytes", DType::U8, [3]),
        TensorSpec::new("small_ints", DType::S8, [2, 2]),
        TensorSpec::new("i16", DType::S16, [3]),
        TensorSpec::new("u16", DType::U16, [3]),
        TensorSpec::new("i32", DType::S32, [2, 1, 3]),
        TensorSpec::new("u32", DType::U32, [1]),
        TensorSpec::new("i64", DType::S64, [2]),
        TensorSpec::new("u64", DType::U64, [2]),
    ]
}

pub fn optimizer_specs() -> Vec<TensorSpec> {
    vec![
        TensorSpec::new("step", DType::S64, []),
        TensorSpec::new("m.transformer.wte.weight", DType::F32, [16, 8]),
        TensorSpec::new("v.transformer.wte.weight", DType::F32, [16, 8]),
        TensorSpec::new("prng_key", DType::U32, [2]),
    ]
}

/// Everything a checkpoint needs, owned, so tests can borrow [`CheckpointContents`] from it.
pub struct Fixture {
    pub model: HostTensors,
    pub optimizer: HostTensors,
    pub state: TrainerState,
    pub args: Value,
    pub config: Value,
}

impl Fixture {
    pub fn new(seed: u64) -> Self {
        let mut state = TrainerState::at_step(0);
        state.max_steps = 1000;
        state.log_history.push(
            json!({"loss": 2.5, "learning_rate": 0.001, "step": 10})
                .as_object()
                .unwrap()
                .clone(),
        );
        state.xlatrain.prng_keys = json!({"dropout": [1, 2]});
        state.xlatrain.data_cursor = json!({"epoch": 0, "offset": 4096});
        // No architecture fingerprint: these are a library user's tensors, not a training run's
        // state, so the consistency checks of trainer checkpoints do not apply to them.
        Fixture {
            model: host_tensors(&model_specs(), seed),
            optimizer: host_tensors(&optimizer_specs(), seed + 1000),
            state,
            args: json!({"learning_rate": 0.001, "save_total_limit": 2}),
            config: json!({"model_type": "gpt2", "n_embd": 8}),
        }
    }

    pub fn contents(&mut self, step: u64) -> CheckpointContents<'_> {
        self.state.global_step = step;
        CheckpointContents {
            step,
            model: &self.model,
            optimizer: Some(&self.optimizer),
            trainer_state: &self.state,
            training_args: &self.args,
            config: &self.config,
        }
    }
}

pub fn small_shards(max_shard_size: u64) -> SaveOptions {
    SaveOptions {
        max_shard_size,
        ..SaveOptions::default()
    }
}

/// One tensor as an independent reader sees it.
#[derive(Debug, PartialEq)]
pub struct RawTensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

/// Minimal safetensors reader following the format description only.
pub fn minimal_read(path: &Path) -> (BTreeMap<String, RawTensor>, BTreeMap<String, String>) {
    let file = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    assert_eq!(
        n % 8,
        0,
        "header padded to a multiple of 8 in {}",
        path.display()
    );
    let header: Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    let data = &file[8 + n..];
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    let mut last_end = 0;
    for (name, entry) in header.as_object().unwrap() {
        if name == "__metadata__" {
            for (k, v) in entry.as_object().unwrap() {
                metadata.insert(k.clone(), v.as_str().unwrap().to_string());
            }
            continue;
        }
        let offsets: Vec<usize> = entry["data_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        last_end = last_end.max(offsets[1]);
        tensors.insert(
            name.clone(),
            RawTensor {
                dtype: entry["dtype"].as_str().unwrap().to_string(),
                shape: entry["shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as usize)
                    .collect(),
                bytes: data[offsets[0]..offsets[1]].to_vec(),
            },
        );
    }
    assert_eq!(
        last_end,
        data.len(),
        "no trailing bytes in {}",
        path.display()
    );
    (tensors, metadata)
}
