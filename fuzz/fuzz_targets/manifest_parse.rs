//! `checkpoint_manifest.json` as bytes (`parse_manifest_bytes`), then in place in a checkpoint
//! checked quickly and structurally: arbitrary manifests are refused or name only plain files.

#![no_main]

#[path = "fixture.rs"]
mod fixture;

use std::path::Path;
use std::sync::OnceLock;

use fixture::CheckpointFixture;
use libfuzzer_sys::fuzz_target;
use xlatrain::checkpoint::{check_checkpoint, parse_manifest_bytes, Verify, MANIFEST_FILE};

static FIXTURE: OnceLock<CheckpointFixture> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = parse_manifest_bytes(Path::new(MANIFEST_FILE), data) {
        for name in manifest.files.keys() {
            assert!(!name.is_empty() && !name.contains('/') && name != "..");
        }
    }
    let fixture = CheckpointFixture::get(&FIXTURE, 8);
    std::fs::write(fixture.dir.join(MANIFEST_FILE), data).expect("fixture is writable");
    for verify in [Verify::Quick, Verify::Full] {
        let _ = check_checkpoint(&fixture.dir, verify);
    }
});
