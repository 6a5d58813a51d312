//! What a run shows and writes while it trains: a progress bar on a terminal or plain log lines
//! otherwise, `metrics.jsonl` (one JSON object per log event, HF `log_history` keys), and a
//! final summary.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::trainer::TrainSummary;
use crate::{Error, Result};

/// Console output of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// Nothing (library use, tests).
    Quiet,
    /// A progress bar redrawn in place (interactive terminals).
    Bar,
    /// One line per log event (batch jobs, pipes).
    Lines,
}

impl Console {
    /// A bar when stdout is a terminal, plain lines otherwise.
    pub fn auto() -> Console {
        if std::io::stdout().is_terminal() {
            Console::Bar
        } else {
            Console::Lines
        }
    }
}

pub(crate) struct Reporter {
    console: Console,
    max_steps: u64,
    unit: &'static str,
    items_per_step: u64,
    metrics: Option<(BufWriter<File>, std::path::PathBuf)>,
    last_loss: Option<f64>,
    last_lr: Option<f64>,
    started: Instant,
}

impl Reporter {
    pub(crate) fn new(console: Console, max_steps: u64, unit: &'static str) -> Reporter {
        Reporter {
            console,
            max_steps,
            unit,
            items_per_step: 0,
            metrics: None,
            last_loss: None,
            last_lr: None,
            started: Instant::now(),
        }
    }

    pub(crate) fn set_console(&mut self, console: Console) {
        self.console = console;
    }

    pub(crate) fn set_items_per_step(&mut self, items: u64) {
        self.items_per_step = items;
    }

    /// Starts (or continues, appending) `metrics.jsonl`.
    pub(crate) fn open_metrics(&mut self, path: &Path) -> Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io("cannot open the metrics file", path, e))?;
        self.metrics = Some((BufWriter::new(file), path.to_path_buf()));
        self.started = Instant::now();
        Ok(())
    }

    pub(crate) fn log(&mut self, entry: &Value) -> Result<()> {
        if let Some((file, path)) = &mut self.metrics {
            writeln!(file, "{entry}")
                .and_then(|()| file.flush())
                .map_err(|e| Error::io("cannot write the metrics file", path.clone(), e))?;
        }
        if let Some(loss) = entry.get("loss").and_then(Value::as_f64) {
            self.last_loss = Some(loss);
        }
        if let Some(lr) = entry.get("learning_rate").and_then(Value::as_f64) {
            self.last_lr = Some(lr);
        }
        if self.console == Console::Quiet {
            return Ok(());
        }
        let mut line = String::new();
        if let Some(obj) = entry.as_object() {
            for (key, value) in obj {
                let text = match value.as_f64() {
                    Some(v) if key != "step" && v.fract() != 0.0 => format!("{v:.6}"),
                    _ => value.to_string(),
                };
                line.push_str(&format!("{key}={text} "));
            }
        }
        let mut out = std::io::stdout().lock();
        let prefix = if self.console == Console::Bar {
            "\r\x1b[2K"
        } else {
            ""
        };
        let _ = writeln!(out, "{prefix}{}", line.trim_end());
        Ok(())
    }

    pub(crate) fn tick(&mut self, step: u64, last: Option<Duration>) {
        if self.console != Console::Bar {
            return;
        }
        let width = 30usize;
        let done = if self.max_steps == 0 {
            width
        } else {
            (step as usize * width / self.max_steps as usize).min(width)
        };
        let elapsed = self.started.elapsed().as_secs_f64();
        let per_step = elapsed / step.max(1) as f64;
        let eta = per_step * self.max_steps.saturating_sub(step) as f64;
        let rate = last.map_or(0.0, |d| {
            self.items_per_step as f64 / d.as_secs_f64().max(1e-9)
        });
        let loss = self
            .last_loss
            .map_or("-".to_string(), |l| format!("{l:.4}"));
        let lr = self.last_lr.map_or("-".to_string(), |l| format!("{l:.2e}"));
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2K[{}{}] {step}/{} loss {loss} lr {lr} {rate:.0} {} ETA {}",
            "#".repeat(done),
            ".".repeat(width - done),
            self.max_steps,
            self.unit,
            clock(eta)
        );
        let _ = out.flush();
    }

    pub(crate) fn finish(&mut self, s: &TrainSummary) -> Result<()> {
        if self.console == Console::Quiet {
            return Ok(());
        }
        let mut out = std::io::stdout().lock();
        if self.console == Console::Bar {
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "done: {} steps{} in {:.2} s (compile {:.2} s); median step {:.3} ms, {:.0} {}; \
             final loss {}",
            s.steps,
            if s.stopped_early {
                " (stopped early)"
            } else {
                ""
            },
            s.train_time.as_secs_f64(),
            s.compile_time.as_secs_f64(),
            s.median_step_time.as_secs_f64() * 1e3,
            s.items_per_second,
            self.unit,
            s.final_loss.map_or("-".into(), |l| format!("{l:.4}")),
        );
        if let Some(e) = s.final_eval {
            let _ = writeln!(
                out,
                "eval: loss {:.4}  accuracy {:.4}  perplexity {:.3}",
                e.loss, e.accuracy, e.perplexity
            );
        }
        Ok(())
    }
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
