//! The benchmark harness measures real things: a device state goes through the real checkpoint
//! save and cold resume and comes back bit for bit (and a wrong one is caught), the matmul probe
//! runs on the CPU plugin, and `xlatrain bench` writes a report a script can read.

use std::process::Command;

use xlatrain::bench::{matmul_program, save_and_resume, DeviceState, StateSet};
use xlatrain::pjrt::Client;

fn cpu() -> Client {
    Client::cpu().unwrap_or_else(|e| panic!("the CPU PJRT plugin must be available: {e}"))
}

#[test]
fn a_device_state_survives_save_and_cold_resume() {
    let client = cpu();
    let set = StateSet::parse("6MiB").unwrap();
    let state = DeviceState::upload(&client, &set, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let round = save_and_resume(&client, &state, dir.path(), 7).unwrap();
    assert!(round.save_s > 0.0 && round.resume_s >= round.resume_open_s);
    assert!(round.checkpoint_bytes > set.bytes(), "{round:?}");
    // The round deletes its checkpoint again.
    assert!(!dir.path().join("checkpoint-7").exists());
}

#[test]
fn a_resume_that_does_not_match_the_saved_state_fails_the_benchmark() {
    let client = cpu();
    let set = StateSet::parse("1MiB").unwrap();
    let mut state = DeviceState::upload(&client, &set, 3).unwrap();
    state.checksums[0] ^= 1;
    let dir = tempfile::tempdir().unwrap();
    let err = save_and_resume(&client, &state, dir.path(), 1).unwrap_err();
    assert!(err.to_string().contains("state.0"), "{err}");
}

#[test]
fn the_matmul_probe_program_computes_a_product() {
    let client = cpu();
    let program = matmul_program(2).unwrap();
    let executable = client
        .compile_uncached(&program, &xlatrain::pjrt::CompileOptions::replicated(1))
        .unwrap();
    let a = client.upload(&[1f32, 2., 3., 4.], &[2, 2], 0).unwrap();
    let b = client.upload(&[5f32, 6., 7., 8.], &[2, 2], 0).unwrap();
    let out = executable
        .execute(vec![
            xlatrain::pjrt::Arg::Borrowed(&a),
            xlatrain::pjrt::Arg::Borrowed(&b),
        ])
        .unwrap();
    assert_eq!(out[0].to_vec::<f32>().unwrap(), vec![19., 22., 43., 50.]);
}

#[test]
fn bench_command_writes_a_json_report_with_ratios() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let output = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args([
            "bench",
            "--quick",
            "--models",
            "mlp",
            "--steps",
            "2",
            "--ckpt-sizes",
            "4MiB",
        ])
        .args(["--runs", "2", "--matmul-size", "128", "--dir"])
        .arg(dir.path())
        .arg("--output")
        .arg(&report)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(json["device"]["matmul"]["n"], 128);
    assert!(json["device"]["matmul"]["flops_per_s"].as_f64().unwrap() > 0.0);
    let ckpt = &json["checkpoints"][0];
    assert_eq!(ckpt["bytes"], 4 << 20);
    assert_eq!(ckpt["save_s"]["samples"].as_array().unwrap().len(), 2);
    assert!(
        ckpt["ratios"]["save_over_disk_direct_write"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    assert!(
        ckpt["ratios"]["resume_over_cold_read_plus_upload"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The async-save stall comes from real saves through the trainer.
    let stall = &json["async_save"][0];
    assert_eq!(stall["model"], "mlp_784_512_512_10");
    assert!(stall["saves"].as_u64().unwrap() >= 3, "{stall}");
    assert!(stall["stall_s"]["median"].as_f64().unwrap() >= 0.0);
    assert!(stall["state_bytes"].as_u64().unwrap() > 3 * 669_706 * 4);
    assert_eq!(json["training"][0]["steps_timed"], 2);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("matmul f32 128x128x128"), "{table}");
    // Scratch files and checkpoints are gone again.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("report.json")]);
}

#[test]
fn bench_command_rejects_bad_flags_with_exit_code_2() {
    for args in [
        &["bench", "--models", "resnet"][..],
        &["bench", "--ckpt-sizes", "lots"][..],
        &["bench", "--runs", "0"][..],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn the_training_benchmark_runs_the_reference_mlp_step_from_the_reference_start() {
    let client = cpu();
    let report = xlatrain::bench::measure_training(
        &client,
        xlatrain::bench::BenchModel::Mlp,
        3,
        1,
        Some(1e11),
    )
    .unwrap();
    assert_eq!(report.model, "mlp_784_512_512_10");
    assert_eq!((report.params, report.batch_size), (669_706, 128));
    assert_eq!(report.step_s.samples.len(), 3);
    // Step 1 sees the models.json init and batch 0: the JAX reference's loss@1 (peers/RESULTS.md).
    assert!(
        (report.loss_first - 2.300_794_6).abs() < 1e-5,
        "loss@1 {}",
        report.loss_first
    );
    assert!(report.loss_last.is_finite() && report.loss_last != report.loss_first);
    let expected_rate = 6.0 * 669_706.0 * 128.0 / report.step_s.median;
    assert!((report.achieved_flops_per_s / expected_rate - 1.0).abs() < 1e-9);
    assert!(report.fraction_of_matmul.unwrap() > 0.0);
}
