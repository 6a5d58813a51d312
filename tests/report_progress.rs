//! Progress that tells the truth: on a data file `epoch` is the fraction of the data seen (it
//! reaches exactly 2.0 after two epochs); the endless synthetic stream has no epoch (none in
//! metrics.jsonl, "stream" on the console); batch output is one plain line per log event with
//! throughput and ETA; a terminal gets a bar with epoch, throughput and ETA; and `xlatrain
//! completions` prints scripts the shells accept.

mod report_support;

use std::process::Command;

use report_support::{succeed, xlatrain};
use serde_json::Value;

fn train_events(output_dir: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(output_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e.get("loss").is_some())
        .collect()
}

#[test]
fn on_a_data_file_epoch_is_the_fraction_of_the_data_seen() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus.txt");
    let text: String = (0..400)
        .map(|i| format!("word{} ", i % 37))
        .collect::<String>();
    std::fs::write(&corpus, text).unwrap();
    let out = dir.path().join("run");
    let stdout = succeed(&[
        "train",
        "--model",
        "gpt",
        "--n-layers",
        "1",
        "--d-model",
        "32",
        "--n-heads",
        "2",
        "--d-ff",
        "64",
        "--seq-len",
        "16",
        "--per-device-train-batch-size",
        "4",
        "--data",
        corpus.to_str().unwrap(),
        "--num-train-epochs",
        "2",
        "--logging-steps",
        "1",
        "--save-strategy",
        "no",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let events = train_events(&out);
    let steps = events.len() as f64;
    assert!(steps >= 4.0, "{events:?}");
    let per_epoch = steps / 2.0;
    for e in &events {
        let step = e["step"].as_f64().unwrap();
        let epoch = e["epoch"].as_f64().unwrap();
        assert!(
            (epoch - step / per_epoch).abs() < 1e-12,
            "epoch {epoch} at step {step} of {steps}"
        );
    }
    assert_eq!(events.last().unwrap()["epoch"].as_f64(), Some(2.0));
    let first_line = stdout.lines().next().unwrap();
    assert!(
        first_line.starts_with(&format!("step=1 epoch={:.4} ", 1.0 / per_epoch)),
        "{first_line}"
    );
}

#[test]
fn the_synthetic_stream_has_no_epoch_and_batch_lines_carry_throughput_and_eta() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let stdout = succeed(&[
        "train",
        "--layers",
        "64,16,10",
        "--max-steps",
        "12",
        "--logging-steps",
        "4",
        "--save-strategy",
        "no",
        "--output-dir",
        out.to_str().unwrap(),
    ]);
    let events = train_events(&out);
    assert_eq!(events.len(), 3);
    for e in &events {
        assert!(e.get("epoch").is_none(), "a stream has no epoch: {e}");
        assert!(e["samples_per_second"].as_f64().unwrap() > 0.0, "{e}");
    }
    // no TTY: one plain line per log event (3 train, 1 summary), no bar redraws
    assert!(!stdout.contains('\r'), "{stdout:?}");
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("step=")).collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for line in &lines[..3] {
        assert!(line.contains(" epoch=stream "), "{line}");
        assert!(line.contains(" samples_per_second="), "{line}");
        assert!(line.contains(" eta=0:00:"), "{line}");
    }
    assert!(lines[2].ends_with("eta=0:00:00"), "{}", lines[2]);
}

#[test]
fn a_terminal_gets_a_bar_with_epoch_throughput_and_eta() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let command = format!(
        "{} train --layers 64,16,10 --max-steps 30 --logging-steps 10 --save-strategy no \
         --output-dir {}",
        env!("CARGO_BIN_EXE_xlatrain"),
        out.display()
    );
    // `script` runs the command on a pseudo-terminal, as an interactive shell would
    let run = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .expect("run script(1) from util-linux");
    let screen = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{screen}");
    let bars: Vec<&str> = screen.split('\r').filter(|s| s.contains("] ")).collect();
    assert!(
        !bars.is_empty(),
        "no progress bar on a terminal: {screen:?}"
    );
    let last = bars.last().unwrap();
    assert!(last.contains("30/30 epoch stream loss "), "{last:?}");
    assert!(last.contains(" samples/s ETA 0:00:00"), "{last:?}");
}

#[test]
fn completions_are_scripts_each_shell_accepts() {
    for (shell, marker) in [
        ("bash", "complete -F _xlatrain"),
        ("zsh", "#compdef xlatrain"),
        ("fish", "complete -c xlatrain"),
    ] {
        let script = succeed(&["completions", shell]);
        assert!(script.contains(marker), "{shell}: {script}");
        for word in ["train", "checkpoints", "report-to", "plot-log-scale"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    // bash loads the script and registers the completion function
    let bash = Command::new("bash")
        .args([
            "-c",
            &format!(
                "source <({} completions bash) && complete -p xlatrain",
                env!("CARGO_BIN_EXE_xlatrain")
            ),
        ])
        .output()
        .unwrap();
    let registered = String::from_utf8_lossy(&bash.stdout);
    assert!(
        bash.status.success() && registered.contains("-F _xlatrain xlatrain"),
        "{registered}{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    let bad = xlatrain(&["completions", "cmd.exe"]);
    assert_eq!(bad.status.code(), Some(2));
}
