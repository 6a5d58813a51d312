//! The plugin comes from `--device`, else from the config file's `device`: a config that asks
//! for a TPU must not silently train on the CPU.

use std::process::Command;

#[test]
fn the_config_files_device_picks_the_plugin_when_no_flag_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("run.toml");
    std::fs::write(
        &config,
        "model = \"mlp\"\ndevice = \"tpu\"\nmax_steps = 1\n",
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(["train", "--config"])
        .arg(&config)
        .arg("--output-dir")
        .arg(dir.path().join("out"))
        .env_remove("TPU_LIBRARY_PATH")
        .env_remove("XLATRAIN_PLUGIN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a TPU run cannot succeed here");
    assert!(stderr.to_lowercase().contains("tpu"), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr}");

    // the flag wins over the file
    let output = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(["--device", "cpu", "train", "--config"])
        .arg(&config)
        .args(["--layers", "16,8,10", "--logging-steps", "1"])
        .arg("--output-dir")
        .arg(dir.path().join("out-cpu"))
        .env_remove("XLATRAIN_PLUGIN")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr: {stderr}");
    let args = std::fs::read_to_string(dir.path().join("out-cpu/training_args.json")).unwrap();
    assert!(args.contains("\"device\": \"cpu\""), "{args}");
}
