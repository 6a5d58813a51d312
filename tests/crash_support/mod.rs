//! Shared by the crash tests: the one training configuration (a small MLP saving a sharded
//! checkpoint after every step, asynchronously, keeping 2), a running `xlatrain train` whose
//! stderr is read line by line, and the bit-for-bit comparison of a resumed chain of runs with an
//! uninterrupted run.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;
use xlatrain::checkpoint::{open_checkpoint, Verify};

/// Longest a run may take before a test calls it hung.
pub const HANG: Duration = Duration::from_secs(120);

/// The training flags of every run of a test: the chains and the uninterrupted reference.
pub fn train_args(dir: &Path, max_steps: u64, resume: bool) -> Vec<String> {
    let mut args: Vec<String> = [
        "train",
        "--model",
        "mlp",
        "--layers",
        "[784,64,10]",
        "--per-device-train-batch-size",
        "16",
        "--max-steps",
        &max_steps.to_string(),
        "--lr-scheduler-type",
        "cosine",
        "--warmup-steps",
        "5",
        "--logging-steps",
        "1",
        "--save-steps",
        "1",
        "--save-total-limit",
        "2",
        // fc0.w alone is 200 kB: several shards and index files per checkpoint.
        "--max-shard-size",
        "250KB",
        "--async-save",
        "--output-dir",
        dir.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if resume {
        args.push("--resume-from-checkpoint".into());
    }
    args
}

/// splitmix64: a seeded, reproducible stream of instants.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A running `xlatrain train` whose stderr lines arrive on a channel.
pub struct Run {
    pub child: Child,
    lines: Receiver<String>,
    pub log: Vec<String>,
}

impl Run {
    pub fn start(dir: &Path, max_steps: u64, resume: bool) -> Run {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xlatrain"))
            .args(train_args(dir, max_steps, resume))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start xlatrain");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Run {
            child,
            lines,
            log: Vec::new(),
        }
    }

    /// Collects stderr until a line starting with `prefix` or the end of the stream.
    pub fn wait_for_line(&mut self, prefix: &str) {
        let deadline = Instant::now() + HANG;
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    self.log.push(line);
                    if found {
                        return;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return,
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("no `{prefix}` line within {HANG:?}:\n{}", self.text());
                }
            }
        }
    }

    /// Waits for the process to exit and collects the rest of stderr.
    pub fn finish(&mut self) -> ExitStatus {
        self.wait_for_line("\0never");
        self.child.wait().unwrap()
    }

    pub fn text(&self) -> String {
        self.log.join("\n")
    }

    /// Steps of the `saved <path> (...)` lines, in order.
    pub fn saved_steps(&self) -> Vec<u64> {
        self.log
            .iter()
            .filter_map(|l| l.strip_prefix("saved "))
            .filter_map(|rest| rest.split(" (").next())
            .filter_map(|path| path.rsplit("checkpoint-").next()?.parse().ok())
            .collect()
    }

    /// The `(path, step)` of a `resumed from <path> (step <n>)` line.
    pub fn resumed_from(&self) -> Option<(String, u64)> {
        self.log.iter().find_map(|l| {
            let rest = l.strip_prefix("resumed from ")?;
            let (path, rest) = rest.split_once(" (step ")?;
            let step = rest.split(')').next()?.parse().ok()?;
            Some((path.to_string(), step))
        })
    }
}

/// The per-step training log entries of metrics.jsonl (every line must be whole JSON).
pub fn logged_losses(dir: &Path) -> Vec<Value> {
    let path = dir.join("metrics.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("{} line {}: {e}: {line:?}", path.display(), i + 1))
        })
        .filter(|e| e.get("loss").is_some())
        .collect()
}

fn log_history_losses(checkpoint: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(checkpoint.join("trainer_state.json")).unwrap();
    let state: Value = serde_json::from_str(&text).unwrap();
    state["log_history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("loss").is_some())
        .cloned()
        .collect()
}

/// Parameters and optimizer state (moments, step, PRNG key) of two checkpoints are byte-equal.
pub fn assert_same_tensors(chain: &Path, straight: &Path) {
    let a = open_checkpoint(chain, Verify::Full).unwrap();
    let b = open_checkpoint(straight, Verify::Full).unwrap();
    let sets = [
        ("model", &a.model, &b.model),
        (
            "optimizer",
            a.optimizer.as_ref().unwrap(),
            b.optimizer.as_ref().unwrap(),
        ),
    ];
    for (set, x, y) in sets {
        assert_eq!(x.len(), y.len(), "{set} tensor count");
        for ((sx, bx), (sy, by)) in x.iter().zip(y.iter()) {
            assert_eq!(sx, sy, "{set} tensor spec");
            assert!(
                bx == by,
                "{set} tensor {} of {} differs from the uninterrupted run",
                sx.name,
                chain.display()
            );
        }
    }
}

/// What a chain's comparison looked at.
#[derive(Debug, Default, Clone, Copy)]
pub struct Compared {
    pub logged_steps: usize,
    /// Logged steps that appear more than once (run again after resuming from an earlier step).
    pub replayed: usize,
}

/// A chain of runs in `chain` that reached `max_steps` matches the uninterrupted run in
/// `straight`: final checkpoint bytes, every logged loss (including steps logged again after a
/// resume), and the log history saved in trainer_state.json.
pub fn assert_matches_straight(chain: &Path, straight: &Path, max_steps: u64) -> Compared {
    let last = format!("checkpoint-{max_steps}");
    assert_same_tensors(&chain.join(&last), &straight.join(&last));
    let reference: BTreeMap<u64, Value> = logged_losses(straight)
        .into_iter()
        .map(|e| (e["step"].as_u64().unwrap(), e))
        .collect();
    assert_eq!(reference.len() as u64, max_steps);
    let logged = logged_losses(chain);
    let mut seen = BTreeSet::new();
    let mut replayed = 0;
    for entry in &logged {
        let step = entry["step"].as_u64().unwrap();
        let expected = &reference[&step];
        for key in ["loss", "grad_norm", "learning_rate", "epoch"] {
            assert_eq!(
                entry[key],
                expected[key],
                "{key} logged at step {step} in {} differs from the uninterrupted run",
                chain.display()
            );
        }
        if !seen.insert(step) {
            replayed += 1;
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        (1..=max_steps).collect::<Vec<_>>(),
        "every step logged at least once"
    );
    assert_eq!(
        log_history_losses(&chain.join(&last)),
        log_history_losses(&straight.join(&last)),
        "log history in trainer_state.json"
    );
    Compared {
        logged_steps: logged.len(),
        replayed,
    }
}
