//! The `devices` and `run-hlo` commands, run as a user would: output, checksums and exit codes.

use std::process::{Command, Output};

fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run xlatrain")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn devices_lists_platform_versions_and_devices() {
    let output = xlatrain(&["--cpu-devices", "6", "devices"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    assert!(text.contains("platform: cpu"), "{text}");
    assert!(text.contains("stablehlo_current_version"), "{text}");
    assert!(text.contains("devices:  6 (6 addressable)"), "{text}");
    assert!(text.contains("id   5"), "{text}");
}

/// The inputs `run-hlo` feeds, restated: value `i` of argument `a` on replica `r` is
/// `((7 i + 13 (1000 r + a)) mod 32) / 4 - 4`.
fn fed(count: usize, argument: usize, replica: usize) -> Vec<f64> {
    (0..count)
        .map(|i| ((i * 7 + (replica * 1000 + argument) * 13) % 32) as f64 * 0.25 - 4.0)
        .collect()
}

#[test]
fn run_hlo_reports_shapes_and_a_checksum_of_the_real_result() {
    let output = xlatrain(&["run-hlo", "hlo/dot_general.mlir", "--iterations", "3"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    let a = fed(6, 0, 0);
    let b = fed(12, 1, 0);
    let sum: f64 = (0..2)
        .flat_map(|i| (0..4).map(move |j| (i, j)))
        .map(|(i, j)| (0..3).map(|k| a[i * 3 + k] * b[k * 4 + j]).sum::<f64>())
        .sum();
    let expected = format!("output 0 (replica 0): f32[2, 4]  sum {sum:.6}");
    assert!(text.contains(&expected), "expected `{expected}` in\n{text}");
    assert!(text.contains("compile:"), "{text}");
    assert!(text.contains("execute:        median"), "{text}");
}

#[test]
fn run_hlo_runs_replicas_with_a_collective() {
    let output = xlatrain(&[
        "run-hlo",
        "hlo/all_reduce.mlir",
        "--replicas",
        "4",
        "--iterations",
        "2",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = stdout(&output);
    let total: f64 = (0..4).map(|r| fed(4, 0, r).iter().sum::<f64>()).sum();
    for replica in 0..4 {
        let expected = format!("output 0 (replica {replica}): f32[4]  sum {total:.6}");
        assert!(text.contains(&expected), "expected `{expected}` in\n{text}");
    }
}

#[test]
fn run_hlo_usage_problems_exit_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad_text = dir.path().join("bad.mlir");
    std::fs::write(
        &bad_text,
        "func.func @main(%a: tensor<2xf32>) -> tensor<2xf32> {\n  %0 = stablehlo.bogus %a : tensor<2xf32>\n  return %0 : tensor<2xf32>\n}\n",
    )
    .unwrap();
    let no_main = dir.path().join("no_main.mlir");
    std::fs::write(&no_main, "func.func @other() -> () { return }\n").unwrap();
    let dynamic = dir.path().join("dynamic.mlir");
    std::fs::write(
        &dynamic,
        "func.func @main(%a: tensor<?xf32>) -> tensor<?xf32> { return %a : tensor<?xf32> }\n",
    )
    .unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "run-hlo".into(),
                dir.path().join("missing.mlir").display().to_string(),
            ],
            "cannot read",
        ),
        (
            vec!["run-hlo".into(), bad_text.display().to_string()],
            "bogus",
        ),
        (
            vec!["run-hlo".into(), no_main.display().to_string()],
            "@main",
        ),
        (
            vec!["run-hlo".into(), dynamic.display().to_string()],
            "static",
        ),
        (
            vec![
                "run-hlo".into(),
                "hlo/all_reduce.mlir".into(),
                "--replicas".into(),
                "64".into(),
            ],
            "--replicas 64",
        ),
        (
            vec![
                "run-hlo".into(),
                "hlo/all_reduce.mlir".into(),
                "--replicas".into(),
                "0".into(),
            ],
            "at least 1",
        ),
        (vec!["no-such-command".into()], "unrecognized"),
    ];
    for (args, message) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let output = xlatrain(&args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(message),
            "{args:?}: expected `{message}` in {stderr}"
        );
    }
}

#[test]
fn a_missing_plugin_file_says_how_to_fix_it() {
    let output = xlatrain(&[
        "--device",
        "cuda",
        "--plugin",
        "/nonexistent/xla_cuda_plugin.so",
        "devices",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--plugin"), "{stderr}");
}
