//! Device-side checkpointing on the real CPU plugin: buffers are downloaded straight into the
//! shards and uploaded back from the mapping bit for bit; the background writer commits, applies
//! retention, runs the on-save command and never loses a failure.

mod checkpoint_support;
mod common;

use std::time::Duration;

use checkpoint_support::pattern;
use serde_json::json;
use xlatrain::checkpoint::*;
use xlatrain::pjrt::{Buffer, Client, DType};
use xlatrain::Error;

/// Tensors of several element types, shapes (rank 0 and empty included) and byte patterns.
fn upload_state(client: &Client, seed: u64) -> (Vec<String>, Vec<Buffer>, Vec<Vec<u8>>) {
    let layout: [(&str, DType, &[i64]); 6] = [
        ("w", DType::F32, &[3, 5]),
        ("b", DType::F32, &[5]),
        ("step", DType::S32, &[]),
        ("rng_key", DType::U32, &[2]),
        ("half", DType::BF16, &[4, 2]),
        ("empty", DType::F32, &[0, 3]),
    ];
    let mut names = Vec::new();
    let mut buffers = Vec::new();
    let mut bytes = Vec::new();
    for (i, (name, ty, dims)) in layout.into_iter().enumerate() {
        let count: i64 = dims.iter().product();
        let mut data = pattern(count as usize * ty.byte_size(), seed * 100 + i as u64);
        if ty == DType::BF16 || ty == DType::F32 {
            // Keep floats finite and non-NaN so the device cannot canonicalize them.
            for chunk in data.chunks_mut(ty.byte_size()) {
                let last = chunk.len() - 1;
                chunk[last] &= 0x3f;
            }
        }
        buffers.push(client.buffer_from_bytes(&data, ty, dims, 0).unwrap());
        names.push(name.to_string());
        bytes.push(data);
    }
    (names, buffers, bytes)
}

fn trainer_state(step: u64) -> TrainerState {
    TrainerState::at_step(step)
}

#[test]
fn device_buffers_save_into_shards_and_upload_back_bit_for_bit() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    let (names, buffers, bytes) = upload_state(&client, 1);
    let source = DeviceTensors::new(names.clone(), buffers.iter().collect()).unwrap();
    let specs = source.specs().to_vec();
    assert_eq!(specs[0], TensorSpec::new("w", DType::F32, [3, 5]));
    assert_eq!(specs[2], TensorSpec::new("step", DType::S32, []));
    assert_eq!(specs[4].dtype, DType::BF16);
    let state = trainer_state(3);
    let contents = CheckpointContents {
        step: 3,
        model: &source,
        optimizer: None,
        trainer_state: &state,
        training_args: &json!({}),
        config: &json!({}),
    };
    // Tiny shards so the state spreads over several mapped files.
    let options = SaveOptions {
        max_shard_size: 40,
        ..SaveOptions::default()
    };
    let saved = save_checkpoint(dir.path(), &contents, &options).unwrap();
    let checkpoint = open_checkpoint(&saved.path, Verify::Full).unwrap();
    assert!(checkpoint.model.metadata().len() > 1, "several shards");
    for (name, want) in names.iter().zip(&bytes) {
        assert_eq!(checkpoint.model.get(name).unwrap().1, &want[..], "{name}");
    }

    let restored = upload_verified(&client, &checkpoint, &checkpoint.model, &specs, 0).unwrap();
    assert_eq!(restored.len(), specs.len());
    for ((buffer, want), spec) in restored.iter().zip(&bytes).zip(&specs) {
        assert_eq!(spec_of(&spec.name, buffer).unwrap(), *spec);
        let mut got = vec![0u8; buffer.byte_size()];
        buffer.copy_to_host(&mut got).unwrap();
        assert_eq!(&got, want, "{} after upload", spec.name);
    }
}

#[test]
fn restore_refuses_a_tensor_of_another_shape_before_uploading() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    let (names, buffers, _) = upload_state(&client, 2);
    let source = DeviceTensors::new(names, buffers).unwrap();
    let state = trainer_state(1);
    let contents = CheckpointContents {
        step: 1,
        model: &source,
        optimizer: None,
        trainer_state: &state,
        training_args: &json!({}),
        config: &json!({}),
    };
    let saved = save_checkpoint(dir.path(), &contents, &SaveOptions::default()).unwrap();
    let checkpoint = open_checkpoint(&saved.path, Verify::Full).unwrap();
    let mut expected = source.specs().to_vec();
    expected[1].shape = vec![6];
    let err = upload_verified(&client, &checkpoint, &checkpoint.model, &expected, 0)
        .err()
        .unwrap();
    let text = err.to_string();
    assert!(matches!(err, Error::TensorSpecMismatch { ref tensor, .. } if tensor == "b"));
    assert!(text.contains("F32[6]") && text.contains("F32[5]"), "{text}");
}

#[test]
fn the_one_pass_restore_checks_each_shard_checksum_while_uploading() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    let (names, buffers, _) = upload_state(&client, 4);
    let source = DeviceTensors::new(names, buffers).unwrap();
    let state = trainer_state(4);
    let contents = CheckpointContents {
        step: 4,
        model: &source,
        optimizer: None,
        trainer_state: &state,
        training_args: &json!({}),
        config: &json!({}),
    };
    let saved = save_checkpoint(dir.path(), &contents, &SaveOptions::default()).unwrap();
    // Flip the last data byte: the structure is intact, only the checksum can notice.
    let shard = saved.path.join("model.safetensors");
    let mut bytes = std::fs::read(&shard).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&shard, bytes).unwrap();
    let checkpoint = open_checkpoint(&saved.path, Verify::Structure).unwrap();
    checkpoint.verify_documents().unwrap();
    let err = upload_verified(&client, &checkpoint, &checkpoint.model, source.specs(), 0)
        .expect_err("a damaged shard must fail the upload");
    match err {
        Error::ChecksumMismatch { path, .. } => assert_eq!(path, shard),
        e => panic!("expected ChecksumMismatch, got {e:?}"),
    }
}

fn job(client: &Client, step: u64, retention: RetentionPolicy) -> SaveJob {
    let (names, buffers, _) = upload_state(client, step);
    let (opt_names, opt_buffers, _) = upload_state(client, step + 1000);
    SaveJob {
        step,
        model: DeviceTensors::new(names, buffers).unwrap(),
        optimizer: Some(
            DeviceTensors::new(
                opt_names.iter().map(|n| format!("exp_avg.{n}")),
                opt_buffers,
            )
            .unwrap(),
        ),
        trainer_state: trainer_state(step),
        training_args: json!({"save_total_limit": 2}),
        config: json!({"kind": "test"}),
        retention,
        prepare_time: Duration::ZERO,
        requested_at: std::time::Instant::now(),
    }
}

fn writer(dir: &std::path::Path, async_save: bool, on_save: Option<String>) -> CheckpointWriter {
    CheckpointWriter::new(WriterOptions {
        output_dir: dir.to_path_buf(),
        save: SaveOptions::default(),
        async_save,
        on_save,
    })
}

#[test]
fn background_writer_commits_one_save_at_a_time_and_keeps_the_best() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    let hook_log = dir.path().join("hook.log");
    let output = dir.path().join("run");
    let mut writer = writer(
        &output,
        true,
        Some(format!(
            "echo \"$1 $XLATRAIN_CHECKPOINT\" >> {}",
            hook_log.display()
        )),
    );
    let policy = |best| RetentionPolicy {
        save_total_limit: Some(2),
        best_step: Some(best),
        resumed_from_step: None,
    };
    let mut reports = Vec::new();
    for step in [10, 20, 30, 40] {
        reports.extend(writer.save(job(&client, step, policy(10))).unwrap());
        assert_eq!(
            writer.in_flight_step(),
            Some(step),
            "written in the background"
        );
    }
    reports.extend(writer.finish().unwrap());
    let steps: Vec<u64> = reports.iter().map(|r| r.saved.step).collect();
    assert_eq!(
        steps,
        [10, 20, 30, 40],
        "every save reported once, in order"
    );
    let kept: Vec<u64> = list_checkpoints(&output, Verify::Full)
        .unwrap()
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| e.step)
        .collect();
    assert_eq!(kept, [10, 30, 40], "newest 2 plus the best");
    let last = reports.last().unwrap();
    assert!(last.tensor_bytes > 0);
    assert!(last.to_durable > Duration::ZERO);
    let hook = std::fs::read_to_string(&hook_log).unwrap();
    let lines: Vec<&str> = hook.lines().collect();
    assert_eq!(lines.len(), 4, "{hook}");
    let path40 = output.join("checkpoint-40").display().to_string();
    assert_eq!(lines[3], format!("{path40} {path40}"));
}

#[test]
fn a_failed_background_save_is_reported_at_the_next_save_and_at_the_end() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    // The output directory path is taken by a file, so every save fails.
    let output = dir.path().join("occupied");
    std::fs::write(&output, b"not a directory").unwrap();
    let mut writer = writer(&output, true, None);
    assert!(writer
        .save(job(&client, 1, RetentionPolicy::default()))
        .unwrap()
        .is_empty());
    let err = writer
        .save(job(&client, 2, RetentionPolicy::default()))
        .unwrap_err();
    assert!(
        matches!(err, Error::SaveFailed { step: 1, .. }),
        "the earlier failure surfaces: {err}"
    );
    let mut writer = self::writer(&output, true, None);
    writer
        .save(job(&client, 3, RetentionPolicy::default()))
        .unwrap();
    let err = writer.finish().unwrap_err();
    assert!(matches!(err, Error::SaveFailed { step: 3, .. }), "{err}");
}

#[test]
fn synchronous_writer_reports_the_save_it_just_made() {
    let client = common::cpu();
    let dir = tempfile::tempdir().unwrap();
    let mut writer = writer(dir.path(), false, Some("exit 3".into()));
    let reports = writer
        .save(job(&client, 5, RetentionPolicy::default()))
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(writer.in_flight_step(), None);
    assert!(reports[0].stall > Duration::ZERO && reports[0].to_durable > Duration::ZERO);
    assert!(
        reports[0]
            .on_save_failure
            .as_deref()
            .unwrap()
            .contains("exit status: 3"),
        "{:?}",
        reports[0].on_save_failure
    );
    verify(&reports[0].saved.path).unwrap();
}
