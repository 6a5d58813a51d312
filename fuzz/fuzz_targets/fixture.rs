//! A small committed checkpoint shared by the file-level fuzz targets. Each input replaces one
//! file of it and the manifest is rewritten with that file's true size and xxh3, so the input
//! gets past the size and checksum checks and reaches the parsers and cross-checks behind them.

#![allow(dead_code)] // each target uses only some of the helpers

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::json;
use xlatrain::checkpoint::{
    save_checkpoint, CheckpointContents, DType, HostTensors, Manifest, SaveOptions, TensorSpec,
    TrainerState, MANIFEST_FILE,
};

pub struct CheckpointFixture {
    pub dir: PathBuf,
    manifest: Manifest,
}

/// Tensors of 8, 3 and 8 bytes with an 8-byte shard limit: three model shards and an index
/// (`tests/data/fuzz_seeds/index/valid-*` is this fixture's index).
fn model() -> HostTensors {
    let mut tensors = HostTensors::new();
    let specs = [
        (TensorSpec::new("a", DType::F32, [2]), vec![1u8; 8]),
        (TensorSpec::new("b", DType::U8, [3]), vec![2u8; 3]),
        (TensorSpec::new("c", DType::S64, [1]), vec![3u8; 8]),
    ];
    for (spec, bytes) in specs {
        tensors.push(spec, bytes).expect("fixture tensor");
    }
    tensors
}

impl CheckpointFixture {
    /// Saves the fixture once per process under `$TMPDIR` (scripts/fuzz.sh removes it after).
    /// `max_shard_size` 8 gives three shards and an index; a large one gives `model.safetensors`.
    pub fn get(cell: &'static OnceLock<CheckpointFixture>, max_shard_size: u64) -> &'static Self {
        cell.get_or_init(|| {
            let out = std::env::temp_dir().join(format!(
                "xlatrain-fuzz-{}-{max_shard_size}",
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&out);
            let tensors = model();
            let state = TrainerState::at_step(1);
            let args = json!({});
            let config = json!({});
            let contents = CheckpointContents {
                step: 1,
                model: &tensors,
                optimizer: None,
                trainer_state: &state,
                training_args: &args,
                config: &config,
            };
            let options = SaveOptions {
                max_shard_size,
                ..SaveOptions::default()
            };
            let saved = save_checkpoint(&out, &contents, &options).expect("fixture saves");
            let manifest_bytes =
                std::fs::read(saved.path.join(MANIFEST_FILE)).expect("fixture manifest");
            let manifest = serde_json::from_slice(&manifest_bytes).expect("fixture manifest");
            CheckpointFixture {
                dir: saved.path,
                manifest,
            }
        })
    }

    /// Writes `bytes` as `file_name` and records its size and hash in the manifest.
    pub fn replace(&self, file_name: &str, bytes: &[u8]) {
        let mut manifest = self.manifest.clone();
        let record = manifest
            .files
            .get_mut(file_name)
            .expect("file is part of the fixture");
        record.size = bytes.len() as u64;
        record.xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes));
        write(&self.dir.join(file_name), bytes);
        let manifest_bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
        write(&self.dir.join(MANIFEST_FILE), &manifest_bytes);
    }
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("fixture file is writable");
}
