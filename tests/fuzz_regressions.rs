//! The fuzz seed corpus and every input the fuzzers found, replayed on plain `cargo test`
//! (stable, no fuzz toolchain): each `hostile-*` file in `tests/data/fuzz_seeds/<kind>/` is
//! refused with an error (never a panic, never a stack overflow), each `valid-*` file is
//! accepted, and a hostile shard is refused by a full checkpoint open as well as by the parser.
//! Seeds come from fuzz/make_seeds.py; scripts/fuzz.sh runs the fuzz targets. Crash inputs the
//! fuzzers found live in `tests/data/fuzz_regressions/`, each with its own test below, next to
//! the bugs found by reviewing the readers for hostile input.

mod checkpoint_support;

use std::fs;
use std::path::{Path, PathBuf};

use checkpoint_support::Fixture;
use xlatrain::checkpoint::*;
use xlatrain::Error;

fn seed_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz_seeds")
        .join(kind)
}

/// `(file name, bytes)` of the seeds of `kind` whose name starts with `prefix`, sorted.
fn seeds(kind: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut found: Vec<(String, Vec<u8>)> = fs::read_dir(seed_dir(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?.to_string();
            name.starts_with(prefix)
                .then(|| (name, fs::read(&path).unwrap()))
        })
        .collect();
    found.sort();
    assert!(
        !found.is_empty(),
        "no {prefix}* seeds in {}",
        seed_dir(kind).display()
    );
    found
}

/// Runs `parse` on every seed of `kind`: hostile ones must fail, valid ones must parse.
fn check_kind<T: std::fmt::Debug>(kind: &str, parse: impl Fn(&Path, &[u8]) -> xlatrain::Result<T>) {
    for (name, bytes) in seeds(kind, "hostile-") {
        let result = parse(Path::new(&name), &bytes);
        assert!(result.is_err(), "{kind}/{name} was accepted: {result:?}");
    }
    for (name, bytes) in seeds(kind, "valid-") {
        if let Err(e) = parse(Path::new(&name), &bytes) {
            panic!("{kind}/{name} was refused: {e}");
        }
    }
}

#[test]
fn hostile_safetensors_seeds_are_refused_by_the_parser() {
    check_kind("safetensors", parse_shard);
}

#[test]
fn hostile_index_seeds_are_refused() {
    check_kind("index", parse_index_bytes);
}

#[test]
fn hostile_manifest_seeds_are_refused() {
    check_kind("manifest", parse_manifest_bytes);
}

#[test]
fn hostile_trainer_state_seeds_are_refused() {
    check_kind("trainer_state", parse_trainer_state_bytes);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = |kind: &str, name: &str| fs::read(seed_dir(kind).join(name)).unwrap();
    match parse_shard(
        Path::new("x"),
        &deep("safetensors", "hostile-deep-nesting.safetensors"),
    ) {
        Err(Error::SafetensorsHeader { reason, .. }) => {
            assert!(reason.contains("recursion limit"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    let path = Path::new("x.json");
    let bytes = deep("trainer_state", "hostile-deep-nesting.json");
    match parse_trainer_state_bytes(path, &bytes) {
        Err(Error::CheckpointJson { source, .. }) => {
            assert!(source.to_string().contains("recursion limit"), "{source}")
        }
        other => panic!("unexpected {other:?}"),
    }
    // Fields the index and manifest do not know are skipped without recursion: 100k open
    // brackets there run into the end of the file instead of the depth limit.
    let index = parse_index_bytes(path, &deep("index", "hostile-deep-nesting.json"));
    assert!(
        matches!(index, Err(Error::CheckpointJson { .. })),
        "{index:?}"
    );
    let manifest = parse_manifest_bytes(path, &deep("manifest", "hostile-deep-nesting.json"));
    assert!(
        matches!(manifest, Err(Error::CheckpointJson { .. })),
        "{manifest:?}"
    );
}

#[test]
fn unsafe_index_paths_are_refused_by_name() {
    let bytes = fs::read(seed_dir("index").join("hostile-parent-dir.json")).unwrap();
    match parse_index_bytes(Path::new("i.json"), &bytes) {
        Err(Error::IndexUnsafePath { tensor, file, .. }) => {
            assert_eq!(
                (tensor.as_str(), file.as_str()),
                ("a", "../model.safetensors")
            )
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Writes `bytes` as `file_name` in checkpoint `ckpt` and records its true size and xxh3 in the
/// manifest, so only the content itself can make an open fail.
fn replace_file_keeping_manifest_valid(ckpt: &Path, file_name: &str, bytes: &[u8]) {
    fs::write(ckpt.join(file_name), bytes).unwrap();
    let manifest_path = ckpt.join(MANIFEST_FILE);
    let mut manifest: Manifest =
        serde_json::from_slice(&fs::read(&manifest_path).unwrap()).unwrap();
    let record = manifest.files.get_mut(file_name).unwrap();
    record.size = bytes.len() as u64;
    record.xxh3 = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(bytes));
    fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
}

/// A committed single-shard checkpoint whose `model.safetensors` is replaced by `bytes`, with the
/// manifest updated to match, so only the shard's content can make the open fail.
fn checkpoint_with_model_shard(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Fixture::new(5);
    let mut contents = fixture.contents(1);
    contents.optimizer = None;
    let saved = save_checkpoint(dir.path(), &contents, &SaveOptions::default()).unwrap();
    replace_file_keeping_manifest_valid(&saved.path, "model.safetensors", bytes);
    (dir, saved.path)
}

#[test]
fn hostile_shards_are_refused_by_a_full_checkpoint_open() {
    for (name, bytes) in seeds("safetensors", "hostile-") {
        let (_dir, ckpt) = checkpoint_with_model_shard(&bytes);
        let result = open_checkpoint(&ckpt, Verify::Full);
        assert!(result.is_err(), "checkpoint with {name} opened");
    }
    for (name, bytes) in seeds("safetensors", "valid-") {
        let (_dir, ckpt) = checkpoint_with_model_shard(&bytes);
        let checkpoint = open_checkpoint(&ckpt, Verify::Full)
            .unwrap_or_else(|e| panic!("checkpoint with {name} refused: {e}"));
        let parsed = parse_shard(Path::new(&name), &bytes).unwrap();
        assert_eq!(checkpoint.model.len(), parsed.tensors.len(), "{name}");
    }
}

/// Found by review of the index checks, beyond the fuzzers' 8 KiB inputs: every shard name was
/// checked against a list of the names seen so far, so an index naming N distinct files took
/// O(N²) (40,000 names, 1.2 MB: 7.7 s; 200,000 names: minutes). A watchdog bounds the open at a
/// minute, orders of magnitude above the linearithmic cost (well under a second), so the test
/// fails on a regression instead of hanging CI.
#[test]
fn an_index_naming_200k_distinct_shards_is_refused_without_quadratic_work() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Fixture::new(9);
    let saved = save_checkpoint(
        dir.path(),
        &fixture.contents(3),
        &checkpoint_support::small_shards(300),
    )
    .unwrap();
    let weight_map: serde_json::Map<String, serde_json::Value> = (0..200_000)
        .map(|i| (format!("t{i}"), format!("f{i}.safetensors").into()))
        .collect();
    let index = serde_json::json!({"metadata": {"total_size": 1}, "weight_map": weight_map});
    let index_name = index_file_name(MODEL_PREFIX);
    replace_file_keeping_manifest_valid(
        &saved.path,
        &index_name,
        &serde_json::to_vec(&index).unwrap(),
    );

    let (done, finished) = std::sync::mpsc::channel();
    let path = saved.path.clone();
    std::thread::spawn(move || {
        let _ = done.send(open_checkpoint(&path, Verify::Full).err());
    });
    match finished.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Some(Error::IndexInvalid { reason, .. })) => {
            assert!(
                reason.contains("not covered by the checkpoint manifest"),
                "{reason}"
            )
        }
        Ok(other) => panic!("unexpected {other:?}"),
        Err(_) => panic!("opening a checkpoint with a 200k-entry index took over a minute"),
    }
}

/// Found by review: a FIFO in place of a checkpoint file blocked `open` forever (resume hung in
/// `newest_valid`), and a device such as /dev/zero would be read without end. Checkpoint files
/// must be regular files; anything else makes that checkpoint invalid, named by path, and
/// discovery falls back to the previous one. The watchdog turns a hang into a failure; the
/// device planted is /dev/null, which cannot exhaust memory if this regresses.
#[test]
fn special_files_in_a_checkpoint_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let mut fixture = Fixture::new(4);
    let options = checkpoint_support::small_shards(300);
    save_checkpoint(dir.path(), &fixture.contents(1), &options).unwrap();
    let mut planted = Vec::new();
    for (step, file) in [
        (2, TRAINER_STATE_FILE.to_string()),
        (3, MANIFEST_FILE.to_string()),
        (4, shard_file_name(MODEL_PREFIX, 0, 4)),
    ] {
        let saved = save_checkpoint(dir.path(), &fixture.contents(step), &options).unwrap();
        let path = saved.path.join(&file);
        if file != MANIFEST_FILE {
            // Recorded as an empty file, so the size check passes and the open is reached.
            replace_file_keeping_manifest_valid(&saved.path, &file, b"");
        }
        fs::remove_file(&path).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {}", path.display());
        planted.push(path);
    }
    let device = save_checkpoint(dir.path(), &fixture.contents(5), &options).unwrap();
    let config = device.path.join(CONFIG_FILE);
    replace_file_keeping_manifest_valid(&device.path, CONFIG_FILE, b"");
    fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/null", &config).unwrap();
    planted.push(config);

    let (done, finished) = std::sync::mpsc::channel();
    let output_dir = dir.path().to_path_buf();
    std::thread::spawn(move || {
        let _ = done.send(newest_valid(&output_dir, Verify::Full));
    });
    let newest = finished
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("resume discovery blocked on a special file")
        .unwrap();
    assert_eq!(newest.checkpoint.step, 1);
    let skipped: Vec<u64> = newest.skipped.iter().map(|e| e.step).collect();
    assert_eq!(skipped, [5, 4, 3, 2]);
    for (entry, path) in newest.skipped.iter().rev().zip(&planted) {
        let reason = entry.invalid_reason.as_deref().unwrap_or("");
        assert!(
            reason.contains("not a regular file") && reason.contains(&*path.to_string_lossy()),
            "step {}: {reason}",
            entry.step
        );
    }
}

/// Found by the trainer_state_parse fuzzer (tests/data/fuzz_regressions/): serde_json's default
/// float parser is not correctly rounded, so `5e-105`, which is what it writes for the f64
/// nearest 5e-105, read back one ulp off. Every float in trainer_state.json (epoch, total_flos,
/// log history, the trainer's resume fields) must survive save and load bit for bit.
#[test]
fn floats_in_trainer_state_survive_save_and_load_bit_for_bit() {
    let crash = fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/fuzz_regressions/trainer_state_parse-crash-3331c80d.json"),
    )
    .unwrap();
    let path = Path::new(TRAINER_STATE_FILE);
    let state = parse_trainer_state_bytes(path, &crash).unwrap();
    let written = serde_json::to_vec(&state).unwrap();
    assert_eq!(parse_trainer_state_bytes(path, &written).unwrap(), state);

    // Finite doubles spread over the whole range, from a fixed xorshift sequence.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut floats = vec![5e-105, 0.1, 5e-324, f64::MIN_POSITIVE, f64::MAX, -0.0];
    while floats.len() < 5000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if f.is_finite() {
            floats.push(f);
        }
    }
    let mut fixture = Fixture::new(3);
    fixture.state.epoch = floats[0];
    fixture.state.total_flos = floats[1];
    fixture.state.best_metric = Some(floats[2]);
    fixture.state.xlatrain.data_cursor = serde_json::json!({ "floats": floats });
    for &f in &floats {
        fixture.state.log_history.push(
            serde_json::json!({ "learning_rate": f })
                .as_object()
                .unwrap()
                .clone(),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let saved = save_checkpoint(dir.path(), &fixture.contents(7), &SaveOptions::default()).unwrap();
    let loaded = open_checkpoint(&saved.path, Verify::Full)
        .unwrap()
        .trainer_state;
    let bits = |v: &serde_json::Value| v.as_f64().unwrap().to_bits();
    let cursor = loaded.xlatrain.data_cursor["floats"].as_array().unwrap();
    for (i, &f) in floats.iter().enumerate() {
        assert_eq!(bits(&cursor[i]), f.to_bits(), "data_cursor float {f:e}");
        let logged = &loaded.log_history[1 + i]["learning_rate"];
        assert_eq!(bits(logged), f.to_bits(), "log_history float {f:e}");
    }
    assert_eq!(loaded.epoch.to_bits(), floats[0].to_bits());
    assert_eq!(loaded.total_flos.to_bits(), floats[1].to_bits());
    assert_eq!(
        loaded.best_metric.map(f64::to_bits),
        Some(floats[2].to_bits())
    );
}
