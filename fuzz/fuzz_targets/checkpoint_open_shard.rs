//! A full `open_checkpoint` (memory map, parse, manifest checksums) of a checkpoint whose
//! `model.safetensors` is arbitrary bytes: an error or a tensor set that matches the file.

#![no_main]

#[path = "fixture.rs"]
mod fixture;

use std::sync::OnceLock;

use fixture::CheckpointFixture;
use libfuzzer_sys::fuzz_target;
use xlatrain::checkpoint::{open_checkpoint, Verify};

static FIXTURE: OnceLock<CheckpointFixture> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let fixture = CheckpointFixture::get(&FIXTURE, u64::MAX);
    fixture.replace("model.safetensors", data);
    let Ok(checkpoint) = open_checkpoint(&fixture.dir, Verify::Full) else {
        return;
    };
    let mut total = 0usize;
    for (spec, bytes) in checkpoint.model.iter() {
        assert_eq!(Some(bytes.len()), spec.byte_len());
        total += bytes.len();
    }
    assert!(total <= data.len());
});
