//! Running the `xlatrain` binary as a user does, for the CLI tests of checkpointing.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The small MLP the CLI checkpoint tests train.
pub const MLP: [&str; 4] = ["--model", "mlp", "--layers", "[64,32,10]"];

pub fn xlatrain(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xlatrain"))
        .args(args)
        .output()
        .expect("run xlatrain")
}

/// `xlatrain train` of [`MLP`] into `dir` with `extra` flags.
pub fn train(dir: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["train"];
    args.extend(MLP);
    args.extend(["--output-dir", dir.to_str().unwrap()]);
    args.extend(extra);
    xlatrain(&args)
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
