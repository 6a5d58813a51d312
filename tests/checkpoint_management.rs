//! Managing an output directory: crash leftovers are invisible to discovery and cleaned up,
//! resume picks the newest valid checkpoint and says what it skipped, retention never deletes
//! what is needed, free space is checked before anything is written, sizes parse exactly.

mod checkpoint_support;

use std::fs;

use checkpoint_support::*;
use xlatrain::checkpoint::*;
use xlatrain::Error;

fn names_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_crash_before_the_commit_rename_leaves_earlier_checkpoints_and_no_visible_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(21);
    save_checkpoint(dir.path(), &fx.contents(10), &SaveOptions::default()).unwrap();

    let staged = stage_checkpoint(dir.path(), &fx.contents(20), &SaveOptions::default()).unwrap();
    let staging = staged.staging_path().to_path_buf();
    assert!(
        staging.join("checkpoint_manifest.json").exists(),
        "fully staged"
    );
    std::mem::forget(staged); // the process dies here: no commit, no cleanup

    let listed = list_checkpoints(dir.path(), Verify::Full).unwrap();
    assert_eq!(listed.iter().map(|e| e.step).collect::<Vec<_>>(), [10]);
    assert!(listed[0].is_valid());
    assert_eq!(
        newest_valid(dir.path(), Verify::Full)
            .unwrap()
            .checkpoint
            .step,
        10
    );

    let removed = cleanup_stale(dir.path()).unwrap();
    assert_eq!(removed, std::slice::from_ref(&staging));
    assert!(!staging.exists());
    assert_eq!(names_in(dir.path()), ["checkpoint-10"]);
}

#[test]
fn a_crash_mid_write_leaves_a_partial_staging_dir_that_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(22);
    save_checkpoint(dir.path(), &fx.contents(1), &SaveOptions::default()).unwrap();
    // What a crash halfway through the shards leaves: a staging dir with a partial shard only.
    let partial = dir.path().join(".tmp-checkpoint-2-99999");
    fs::create_dir(&partial).unwrap();
    fs::write(partial.join("model.safetensors"), [0u8; 100]).unwrap();

    assert_eq!(
        newest_valid(dir.path(), Verify::Full)
            .unwrap()
            .checkpoint
            .step,
        1
    );
    cleanup_stale(dir.path()).unwrap();
    assert_eq!(names_in(dir.path()), ["checkpoint-1"]);
}

#[test]
fn dropping_a_staged_checkpoint_removes_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(23);
    let staged = stage_checkpoint(dir.path(), &fx.contents(4), &SaveOptions::default()).unwrap();
    drop(staged);
    assert!(names_in(dir.path()).is_empty());
}

#[test]
fn a_directory_without_manifest_is_listed_as_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(24);
    let saved = save_checkpoint(dir.path(), &fx.contents(5), &SaveOptions::default()).unwrap();
    fs::remove_file(saved.path.join("checkpoint_manifest.json")).unwrap();
    let listed = list_checkpoints(dir.path(), Verify::Quick).unwrap();
    assert!(!listed[0].is_valid());
    assert!(listed[0]
        .invalid_reason
        .as_deref()
        .unwrap()
        .contains("checkpoint_manifest.json"));
}

#[test]
fn newest_valid_falls_back_past_a_corrupt_newest_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(25);
    for step in [100, 200, 300] {
        save_checkpoint(dir.path(), &fx.contents(step), &SaveOptions::default()).unwrap();
    }
    // 300: a flipped data byte (only a checksum finds it); 200: a missing shard.
    let shard = dir.path().join("checkpoint-300/model.safetensors");
    let mut bytes = fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    fs::write(&shard, bytes).unwrap();
    fs::remove_file(dir.path().join("checkpoint-200/optimizer.safetensors")).unwrap();

    let found = newest_valid(dir.path(), Verify::Full).unwrap();
    assert_eq!(found.checkpoint.step, 100);
    assert_eq!(
        found.skipped.iter().map(|e| e.step).collect::<Vec<_>>(),
        [300, 200]
    );
    assert!(found.skipped[0]
        .invalid_reason
        .as_deref()
        .unwrap()
        .contains("checksum"));
    assert!(found.skipped[1]
        .invalid_reason
        .as_deref()
        .unwrap()
        .contains("optimizer.safetensors"));

    // A quick check cannot see the flipped byte, a full one can.
    assert_eq!(
        newest_valid(dir.path(), Verify::Quick)
            .unwrap()
            .checkpoint
            .step,
        300
    );

    fs::remove_dir_all(dir.path().join("checkpoint-100")).unwrap();
    match newest_valid(dir.path(), Verify::Full) {
        Err(Error::NoValidCheckpoint { skipped, .. }) => {
            assert!(skipped.contains("checkpoint-300") && skipped.contains("checkpoint-200"))
        }
        other => panic!("expected NoValidCheckpoint, got {other:?}"),
    }
}

#[test]
fn listing_reports_step_size_and_time_and_ignores_other_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(26);
    let saved = save_checkpoint(dir.path(), &fx.contents(8), &SaveOptions::default()).unwrap();
    fs::create_dir(dir.path().join("checkpoint-abc")).unwrap();
    fs::create_dir(dir.path().join("checkpoint-")).unwrap();
    fs::create_dir(dir.path().join("runs")).unwrap();
    let listed = list_checkpoints(dir.path(), Verify::Structure).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].step, 8);
    assert_eq!(listed[0].size_bytes, saved.bytes);
    assert!(listed[0].modified.is_some());
}

#[test]
fn inspect_describes_tensors_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(27);
    let saved = save_checkpoint(dir.path(), &fx.contents(6), &small_shards(300)).unwrap();
    let info = inspect(&saved.path).unwrap();
    assert_eq!(info.manifest.step, 6);
    assert_eq!(info.trainer_state.global_step, 6);
    let model: Vec<_> = info.tensors.iter().filter(|t| t.set == "model").collect();
    assert_eq!(model.len(), model_specs().len());
    assert_eq!(model[0].spec, model_specs()[0]);
    assert_eq!(model[0].file, "model-00001-of-00004.safetensors");
    assert_eq!(model[0].byte_range.len(), 512);
    assert_eq!(
        info.tensors.iter().filter(|t| t.set == "optimizer").count(),
        optimizer_specs().len()
    );
    assert_eq!(
        info.shard_metadata["model-00002-of-00004.safetensors"]["format"],
        "pt"
    );
}

#[test]
fn retention_keeps_newest_n_plus_best_and_resume_source() {
    let policy = |limit, best, resumed| RetentionPolicy {
        save_total_limit: limit,
        best_step: best,
        resumed_from_step: resumed,
    };
    let existing = [100, 200, 300, 400];
    assert_eq!(
        steps_to_delete(&existing, 500, &policy(None, None, None)),
        Vec::<u64>::new()
    );
    assert_eq!(
        steps_to_delete(&existing, 500, &policy(Some(2), None, None)),
        [100, 200, 300]
    );
    // limit 1 with a best checkpoint: the best AND the newest survive (HF issue: it deleted the newest).
    assert_eq!(
        steps_to_delete(&existing, 500, &policy(Some(1), Some(200), None)),
        [100, 300, 400]
    );
    assert_eq!(
        steps_to_delete(&existing, 500, &policy(Some(2), Some(500), Some(100))),
        [200, 300]
    );
    assert_eq!(
        steps_to_delete(&existing, 500, &policy(Some(0), None, None)),
        [100, 200, 300, 400]
    );
    // Re-saving an older step after resume: the just-saved one is kept even if it is not newest.
    assert_eq!(
        steps_to_delete(&[100, 300], 200, &policy(Some(1), None, None)),
        [100]
    );
}

#[test]
fn apply_retention_deletes_only_after_commit_and_leaves_invalid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(28);
    for step in [1, 2, 3] {
        save_checkpoint(dir.path(), &fx.contents(step), &SaveOptions::default()).unwrap();
    }
    fs::remove_file(dir.path().join("checkpoint-2/checkpoint_manifest.json")).unwrap();
    let saved = save_checkpoint(dir.path(), &fx.contents(4), &SaveOptions::default()).unwrap();
    let policy = RetentionPolicy {
        save_total_limit: Some(1),
        best_step: Some(3),
        resumed_from_step: None,
    };
    let deleted = apply_retention(dir.path(), &saved, &policy).unwrap();
    assert_eq!(deleted, [dir.path().join("checkpoint-1")]);
    assert_eq!(
        names_in(dir.path()),
        ["checkpoint-2", "checkpoint-3", "checkpoint-4"]
    );
}

/// A source that declares far more bytes than any disk holds; copying must never be reached.
struct Huge(Vec<TensorSpec>);
impl TensorSource for Huge {
    fn specs(&self) -> &[TensorSpec] {
        &self.0
    }
    fn copy_tensor(&self, _: usize, _: &mut [u8]) -> xlatrain::Result<()> {
        panic!("preflight must fail before any tensor is copied")
    }
}

#[test]
fn free_space_preflight_fails_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(29);
    save_checkpoint(dir.path(), &fx.contents(1), &SaveOptions::default()).unwrap();
    let huge = Huge(vec![TensorSpec::new("w", DType::F32, [1 << 40, 1 << 10])]); // 4 PiB
    let contents = CheckpointContents {
        step: 2,
        model: &huge,
        optimizer: None,
        trainer_state: &fx.state,
        training_args: &fx.args,
        config: &fx.config,
    };
    let needed = required_bytes(&contents, &SaveOptions::default()).unwrap();
    assert!(needed >= 4 << 50);
    match save_checkpoint(dir.path(), &contents, &SaveOptions::default()) {
        Err(Error::InsufficientSpace {
            path,
            needed: n,
            available,
        }) => {
            assert_eq!(path, dir.path());
            assert_eq!(n, needed);
            assert!(available < needed);
        }
        other => panic!("expected InsufficientSpace, got {other:?}"),
    }
    assert_eq!(
        names_in(dir.path()),
        ["checkpoint-1"],
        "nothing created, earlier checkpoint intact"
    );
    verify(&dir.path().join("checkpoint-1")).unwrap();

    let missing_output = dir.path().join("not/yet/there");
    assert!(matches!(
        save_checkpoint(&missing_output, &contents, &SaveOptions::default()),
        Err(Error::InsufficientSpace { .. })
    ));
    assert!(
        !dir.path().join("not").exists(),
        "output directory not created"
    );
}

#[test]
fn required_bytes_covers_what_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(30);
    let needed = required_bytes(&fx.contents(1), &small_shards(300)).unwrap();
    let saved = save_checkpoint(dir.path(), &fx.contents(1), &small_shards(300)).unwrap();
    assert!(needed >= saved.bytes, "{needed} < {}", saved.bytes);
}

#[test]
fn parse_size_table() {
    let ok = [
        ("5GB", 5_000_000_000u64),
        ("500MB", 500_000_000),
        ("1.5GB", 1_500_000_000),
        ("100KiB", 102_400),
        ("1.5KiB", 1536),
        ("2GiB", 2 << 30),
        ("1TB", 1_000_000_000_000),
        ("4096", 4096),
        ("10B", 10),
        (" 7 MB ", 7_000_000),
        ("5gB", 5_000_000_000),
        ("3kiB", 3072),
        ("0.5MiB", 524_288),
        (".5KB", 500),
    ];
    for (text, bytes) in ok {
        assert_eq!(parse_size(text).unwrap(), bytes, "{text}");
    }
    for bad in [
        "",
        "GB",
        "0",
        "0MB",
        "-1GB",
        "5Gb",
        "5gb",
        "5 XB",
        "1.2.3GB",
        "1e9",
        "0.1B",
        "99999999999999999999TB",
        "5GB5",
    ] {
        assert!(
            matches!(parse_size(bad), Err(Error::InvalidSize { .. })),
            "{bad:?} accepted"
        );
    }
}

#[test]
fn a_copied_checkpoint_still_verifies_because_the_manifest_is_a_plain_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(31);
    let saved = save_checkpoint(dir.path(), &fx.contents(12), &small_shards(300)).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let copy = elsewhere.path().join("checkpoint-12");
    fs::create_dir(&copy).unwrap();
    for entry in fs::read_dir(&saved.path).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    verify(&copy).unwrap();
    assert_eq!(
        newest_valid(elsewhere.path(), Verify::Full)
            .unwrap()
            .checkpoint
            .step,
        12
    );
}

#[test]
fn a_directory_renamed_to_another_step_is_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(32);
    let saved = save_checkpoint(dir.path(), &fx.contents(5), &SaveOptions::default()).unwrap();
    fs::rename(&saved.path, dir.path().join("checkpoint-6")).unwrap();
    let listed = list_checkpoints(dir.path(), Verify::Quick).unwrap();
    assert!(listed[0]
        .invalid_reason
        .as_deref()
        .unwrap()
        .contains("step 6"));
}

#[test]
fn cleanup_removes_retired_directories_too_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fixture::new(33);
    save_checkpoint(dir.path(), &fx.contents(1), &SaveOptions::default()).unwrap();
    fs::create_dir(dir.path().join(".old-checkpoint-1-4242")).unwrap();
    fs::create_dir(dir.path().join("runs")).unwrap();
    assert_eq!(cleanup_stale(dir.path()).unwrap().len(), 1);
    assert_eq!(names_in(dir.path()), ["checkpoint-1", "runs"]);
}

#[test]
fn an_hf_trainer_state_parses_with_extra_keys_kept() {
    let hf = serde_json::json!({
        "best_metric": null, "best_model_checkpoint": null, "epoch": 0.5, "eval_steps": 500,
        "global_step": 10, "is_hyper_param_search": false, "is_local_process_zero": true,
        "is_world_process_zero": true, "log_history": [{"loss": 2.0, "step": 10}],
        "logging_steps": 5, "max_steps": 20, "num_train_epochs": 1, "save_steps": 10,
        "total_flos": 1.0e12, "train_batch_size": 8, "trial_name": null, "trial_params": null
    });
    let state: TrainerState = serde_json::from_value(hf.clone()).unwrap();
    assert_eq!(state.global_step, 10);
    assert_eq!(state.other["is_world_process_zero"], true);
    let back = serde_json::to_value(&state).unwrap();
    assert_eq!(back["trial_name"], serde_json::Value::Null);
    assert_eq!(back["log_history"], hf["log_history"]);
}
