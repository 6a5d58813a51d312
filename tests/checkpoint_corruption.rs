//! Every way a checkpoint can be damaged is caught before a tensor is handed out, with an error
//! variant specific to the damage that names the file (and tensor) involved; no content panics.

mod checkpoint_support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_support::*;
use serde_json::{json, Value};
use xlatrain::checkpoint::*;
use xlatrain::Error;

/// A committed sharded checkpoint (4 model shards, 4 optimizer shards) in a fresh directory.
fn sharded() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(11);
    let saved = save_checkpoint(dir.path(), &fx.contents(3), &small_shards(300)).unwrap();
    (dir, saved.path)
}

fn open_err(path: &Path) -> Error {
    match open_checkpoint(path, Verify::Full) {
        Ok(_) => panic!("damaged checkpoint {} opened", path.display()),
        Err(e) => e,
    }
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut value: Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    edit(&mut value);
    fs::write(path, serde_json::to_vec(&value).unwrap()).unwrap();
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

const SHARD: &str = "model-00001-of-00004.safetensors";

#[test]
fn truncated_shard_is_a_length_error_naming_the_shard() {
    let (_dir, ckpt) = sharded();
    let shard = ckpt.join(SHARD);
    let len = fs::metadata(&shard).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&shard)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    match open_err(&ckpt) {
        Error::SafetensorsLength {
            path,
            expected,
            found,
        } => {
            assert_eq!(path, shard);
            assert_eq!((expected, found), (len, len - 5));
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn flipped_data_byte_is_a_checksum_mismatch() {
    let (_dir, ckpt) = sharded();
    let shard = ckpt.join(SHARD);
    let len = fs::metadata(&shard).unwrap().len() as usize;
    flip_byte(&shard, len - 1);
    assert!(
        open_checkpoint(&ckpt, Verify::Structure).is_ok(),
        "structure is intact"
    );
    match open_err(&ckpt) {
        Error::ChecksumMismatch {
            path,
            expected,
            found,
        } => {
            assert_eq!(path, shard);
            assert_ne!(expected, found);
        }
        e => panic!("unexpected {e:?}"),
    }
    assert!(matches!(verify(&ckpt), Err(Error::ChecksumMismatch { .. })));
}

#[test]
fn flipped_header_bytes_are_header_errors() {
    let (_dir, ckpt) = sharded();
    let shard = ckpt.join(SHARD);
    flip_byte(&shard, 8); // '{' -> 'z'
    match open_err(&ckpt) {
        Error::SafetensorsHeader { path, reason } => {
            assert_eq!(path, shard);
            assert!(reason.contains("start with"), "{reason}");
        }
        e => panic!("unexpected {e:?}"),
    }

    let (_dir, ckpt) = sharded();
    let shard = ckpt.join(SHARD);
    let bytes = fs::read(&shard).unwrap();
    // Byte offsets of the file itself (a lossy text view would shift them: the length prefix
    // of a 4 KiB-padded header is not UTF-8).
    let at = bytes.windows(6).position(|w| w == b"[16,8]").unwrap() + 4; // [16,8] -> [16,9]
    flip_byte(&shard, at);
    match open_err(&ckpt) {
        Error::SafetensorsTensor { path, tensor, .. } => {
            assert_eq!(path, shard);
            assert_eq!(tensor, "transformer.wte.weight");
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn header_length_beyond_the_file_is_rejected() {
    for beyond in [0u64, 100_000_001, u64::MAX] {
        let (_dir, ckpt) = sharded();
        let shard = ckpt.join(SHARD);
        let mut bytes = fs::read(&shard).unwrap();
        // 0: one byte more than the file holds after the prefix.
        let claimed = if beyond == 0 {
            bytes.len() as u64 - 7
        } else {
            beyond
        };
        bytes[..8].copy_from_slice(&claimed.to_le_bytes());
        fs::write(&shard, &bytes).unwrap();
        match open_err(&ckpt) {
            Error::SafetensorsHeaderTooLarge {
                path,
                header_len,
                file_len,
                ..
            } => {
                assert_eq!(path, shard);
                assert_eq!(header_len, claimed);
                assert_eq!(file_len, bytes.len() as u64);
            }
            e => panic!("unexpected {e:?} for claimed length {claimed}"),
        }
    }
}

#[test]
fn missing_shard_is_named() {
    let (_dir, ckpt) = sharded();
    fs::remove_file(ckpt.join("optimizer-00002-of-00004.safetensors")).unwrap();
    match open_err(&ckpt) {
        Error::CheckpointFileMissing { path } => {
            assert_eq!(path, ckpt.join("optimizer-00002-of-00004.safetensors"))
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn index_naming_a_tensor_the_shard_lacks() {
    let (_dir, ckpt) = sharded();
    let index = ckpt.join("model.safetensors.index.json");
    edit_json(&index, |v| v["weight_map"]["ghost"] = json!(SHARD));
    match open_err(&ckpt) {
        Error::IndexTensorMissing {
            index: i,
            tensor,
            shard,
        } => {
            assert_eq!(i, index);
            assert_eq!(tensor, "ghost");
            assert_eq!(shard, ckpt.join(SHARD));
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn shard_holding_a_tensor_the_index_lacks() {
    let (_dir, ckpt) = sharded();
    let index = ckpt.join("model.safetensors.index.json");
    edit_json(&index, |v| {
        v["weight_map"]
            .as_object_mut()
            .unwrap()
            .remove("transformer.wte.weight");
    });
    match open_err(&ckpt) {
        Error::IndexTensorUnlisted {
            index: i,
            tensor,
            shard,
        } => {
            assert_eq!(i, index);
            assert_eq!(tensor, "transformer.wte.weight");
            assert_eq!(shard, ckpt.join(SHARD));
        }
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn index_mapping_to_the_wrong_shard_or_wrong_total_size() {
    let (_dir, ckpt) = sharded();
    let index = ckpt.join("model.safetensors.index.json");
    edit_json(&index, |v| v["weight_map"]["scale"] = json!(SHARD));
    assert!(
        matches!(open_err(&ckpt), Error::IndexTensorUnlisted { tensor, .. } | Error::IndexTensorMissing { tensor, .. } if tensor == "scale")
    );

    let (_dir, ckpt) = sharded();
    let index = ckpt.join("model.safetensors.index.json");
    edit_json(&index, |v| v["metadata"]["total_size"] = json!(1));
    assert!(matches!(open_err(&ckpt), Error::IndexInvalid { index: i, .. } if i == index));
}

#[test]
fn weight_map_paths_must_stay_inside_the_checkpoint() {
    for escape in [
        "../checkpoint-2/model.safetensors",
        "/etc/passwd",
        "sub/model.safetensors",
        "..",
        "",
    ] {
        let (_dir, ckpt) = sharded();
        let index = ckpt.join("model.safetensors.index.json");
        edit_json(&index, |v| v["weight_map"]["scale"] = json!(escape));
        match open_err(&ckpt) {
            Error::IndexUnsafePath {
                index: i,
                tensor,
                file,
            } => {
                assert_eq!(i, index);
                assert_eq!(tensor, "scale");
                assert_eq!(file, escape);
            }
            e => panic!("unexpected {e:?} for {escape:?}"),
        }
    }
}

#[test]
fn invalid_json_in_each_document_names_the_document() {
    for name in [
        "config.json",
        "training_args.json",
        "trainer_state.json",
        "model.safetensors.index.json",
        "optimizer.safetensors.index.json",
        "checkpoint_manifest.json",
    ] {
        let (_dir, ckpt) = sharded();
        let file = ckpt.join(name);
        let mut bytes = fs::read(&file).unwrap();
        bytes.truncate(bytes.len() / 2);
        fs::write(&file, bytes).unwrap();
        match open_err(&ckpt) {
            Error::CheckpointJson { path, .. } => assert_eq!(path, file),
            e => panic!("unexpected {e:?} for {name}"),
        }
    }
}

#[test]
fn damaged_json_with_valid_syntax_fails_the_checksum() {
    let (_dir, ckpt) = sharded();
    let file = ckpt.join("training_args.json");
    edit_json(&file, |v| v["learning_rate"] = json!(0.5));
    match open_err(&ckpt) {
        Error::ChecksumMismatch { path, .. } => assert_eq!(path, file),
        e => panic!("unexpected {e:?}"),
    }
}

#[test]
fn manifest_from_another_format_or_newer_version_is_refused() {
    let (_dir, ckpt) = sharded();
    let manifest = ckpt.join("checkpoint_manifest.json");
    edit_json(&manifest, |v| v["format_version"] = json!(99));
    assert!(matches!(open_err(&ckpt), Error::ManifestInvalid { path, .. } if path == manifest));
    let (_dir, ckpt) = sharded();
    fs::remove_file(ckpt.join("checkpoint_manifest.json")).unwrap();
    assert!(
        matches!(open_err(&ckpt), Error::CheckpointFileMissing { path } if path == manifest_path(&ckpt))
    );
}

fn manifest_path(ckpt: &Path) -> PathBuf {
    ckpt.join("checkpoint_manifest.json")
}

// ---- the safetensors parser alone, on hand-made files ----

fn file_with_header(header: &str, data_len: usize) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, data_len));
    bytes
}

fn parse(header: &str, data_len: usize) -> xlatrain::Result<ParsedShard> {
    parse_shard(
        Path::new("x.safetensors"),
        &file_with_header(header, data_len),
    )
}

#[test]
fn parser_accepts_a_minimal_valid_file_with_trailing_header_spaces() {
    let shard = parse(
        r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"BF16","shape":[],"data_offsets":[8,10]},"e":{"dtype":"I64","shape":[0],"data_offsets":[10,10]}}   "#,
        10,
    )
    .unwrap();
    let names: Vec<&str> = shard.tensors.iter().map(|(s, _)| s.name.as_str()).collect();
    assert_eq!(names, ["b", "a", "e"], "file order");
    assert_eq!(shard.metadata["format"], "pt");
}

#[test]
fn parser_rejects_what_reference_readers_reject() {
    let t = |offsets: &str| format!(r#""dtype":"F32","shape":[1],"data_offsets":{offsets}"#);
    let cases: Vec<(String, usize, &str)> = vec![
        (
            format!(r#"{{"a":{{{}}},"b":{{{}}}}}"#, t("[0,4]"), t("[8,12]")),
            12,
            "gap",
        ),
        (
            format!(r#"{{"a":{{{}}},"b":{{{}}}}}"#, t("[0,4]"), t("[2,6]")),
            6,
            "overlap",
        ),
        (
            format!(r#"{{"a":{{{}}},"a":{{{}}}}}"#, t("[0,4]"), t("[4,8]")),
            8,
            "duplicate",
        ),
        (format!(r#"{{"a":{{{}}}}}"#, t("[0,4]")), 5, "trailing byte"),
        (format!(r#"{{"a":{{{}}}}}"#, t("[0,8]")), 8, "size vs shape"),
        (
            format!(r#"{{"a":{{{}}}}}"#, t("[4,0]")),
            4,
            "reversed offsets",
        ),
        (format!(r#"{{"a":{{{}}}}}"#, t("[1,5]")), 5, "not from 0"),
        (
            r#"{"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}"#.into(),
            1,
            "unknown dtype",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#.into(),
            4,
            "negative dim",
        ),
        (
            r#"{"a":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#.into(),
            8,
            "numel overflow",
        ),
        (
            r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}"#.into(),
            4,
            "unknown field",
        ),
        (
            r#"{"__metadata__":{"n":1}}"#.into(),
            0,
            "non-string metadata",
        ),
        (r#" {}"#.into(), 0, "leading space"),
        (r#"[]"#.into(), 0, "not an object"),
        (r#"{"a":"#.into(), 0, "truncated JSON"),
    ];
    for (header, data_len, what) in cases {
        assert!(
            parse(&header, data_len).is_err(),
            "{what} accepted: {header}"
        );
    }
    let mut bad_utf8 = file_with_header(r#"{"a":1}"#, 0);
    bad_utf8[10] = 0xff;
    assert!(matches!(
        parse_shard(Path::new("x"), &bad_utf8),
        Err(Error::SafetensorsHeader { .. })
    ));
    assert!(matches!(
        parse_shard(Path::new("x"), &[1, 2, 3]),
        Err(Error::SafetensorsHeader { .. })
    ));
}

#[test]
fn parser_never_panics_on_any_single_byte_change_or_truncation() {
    let (_dir, ckpt) = sharded();
    let original = fs::read(ckpt.join("model-00004-of-00004.safetensors")).unwrap();
    let path = Path::new("fuzz.safetensors");
    for at in 0..original.len() {
        for value in [0u8, b'"', b'}', b'9', 0xff] {
            let mut bytes = original.clone();
            bytes[at] = value;
            let _ = parse_shard(path, &bytes);
        }
    }
    for len in 0..original.len() {
        assert!(
            parse_shard(path, &original[..len]).is_err(),
            "truncated to {len} accepted"
        );
    }
}
