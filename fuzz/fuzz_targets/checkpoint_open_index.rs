//! The shard index, as bytes (`parse_index_bytes`) and inside a three-shard checkpoint opened in
//! full: arbitrary index content is refused or agrees with the shards both ways.

#![no_main]

#[path = "fixture.rs"]
mod fixture;

use std::path::Path;
use std::sync::OnceLock;

use fixture::CheckpointFixture;
use libfuzzer_sys::fuzz_target;
use xlatrain::checkpoint::{open_checkpoint, parse_index_bytes, Verify};

static FIXTURE: OnceLock<CheckpointFixture> = OnceLock::new();
const INDEX: &str = "model.safetensors.index.json";

fuzz_target!(|data: &[u8]| {
    let parsed = parse_index_bytes(Path::new(INDEX), data);
    let fixture = CheckpointFixture::get(&FIXTURE, 8);
    fixture.replace(INDEX, data);
    let opened = open_checkpoint(&fixture.dir, Verify::Full);
    if let Ok(checkpoint) = opened {
        let index = parsed.expect("an index the loader accepts parses on its own");
        assert_eq!(index.weight_map.len(), checkpoint.model.len());
        for (spec, _) in checkpoint.model.iter() {
            assert!(index.weight_map.contains_key(&spec.name));
        }
    }
});
