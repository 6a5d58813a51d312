//! `trainer_state.json` as bytes: never panics, and an accepted state is written back and read
//! again unchanged (unknown keys are kept verbatim).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use xlatrain::checkpoint::{parse_trainer_state_bytes, TRAINER_STATE_FILE};

fuzz_target!(|data: &[u8]| {
    let path = Path::new(TRAINER_STATE_FILE);
    let Ok(state) = parse_trainer_state_bytes(path, data) else {
        return;
    };
    let written = serde_json::to_vec(&state).expect("a parsed state serializes");
    let again = parse_trainer_state_bytes(path, &written).expect("written state parses");
    assert_eq!(again, state);
});
