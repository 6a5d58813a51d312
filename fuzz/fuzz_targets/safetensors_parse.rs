//! `parse_shard` on arbitrary bytes: never panics, and whatever it accepts is self-consistent
//! (every range inside the file, exactly the size its dtype and shape need, contiguous).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use xlatrain::checkpoint::parse_shard;

fuzz_target!(|data: &[u8]| {
    let Ok(shard) = parse_shard(Path::new("fuzz.safetensors"), data) else {
        return;
    };
    let mut ranges: Vec<_> = shard.tensors.iter().map(|(_, r)| r.clone()).collect();
    ranges.sort_by_key(|r| r.start);
    for (spec, range) in &shard.tensors {
        assert!(range.start <= range.end && range.end <= data.len());
        assert_eq!(Some(range.len()), spec.byte_len());
    }
    if let Some(last) = ranges.last() {
        assert_eq!(last.end, data.len(), "no trailing bytes");
    }
    for pair in ranges.windows(2) {
        assert_eq!(pair[0].end, pair[1].start, "contiguous");
    }
});
