//! What a run shows and writes while it trains: a progress bar on a terminal or plain log lines
//! otherwise, the `report_to` sinks (`metrics.jsonl`, one JSON object per log event with HF
//! `log_history` keys; TensorBoard event files), and a final summary.
//!
//! Throughput is measured here, on the wall clock between log events (a log event reads the
//! step's results back, so the time includes the device's work, not just the dispatch); the ETA
//! comes from the pace of the last [`PACE_WINDOW`] steps, so compile time, a resume or an early
//! slow step do not skew it. Timings go to the sinks and the console but never into
//! `log_history`, which stays a pure function of the run (bit-exact resume compares it).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::summary::TrainSummary;
use super::tensorboard::{default_run_dir, EventWriter};
use crate::config::TrainingArgs;
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

/// `report_to` (HF's setting): where log events go. `jsonl` writes `metrics.jsonl`,
/// `tensorboard` event files under `logging_dir`; a list, `"all"` or `"none"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportTo {
    pub jsonl: bool,
    pub tensorboard: bool,
}

impl Default for ReportTo {
    fn default() -> Self {
        ReportTo {
            jsonl: true,
            tensorboard: false,
        }
    }
}

impl ReportTo {
    const NAMES: &'static str = "\"jsonl\", \"tensorboard\", \"all\" or \"none\"";

    /// Parses names (each may itself be a comma-separated list).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> std::result::Result<ReportTo, String> {
        let mut to = ReportTo {
            jsonl: false,
            tensorboard: false,
        };
        for name in names.iter().flat_map(|n| n.as_ref().split(',')) {
            match name.trim() {
                "jsonl" => to.jsonl = true,
                "tensorboard" => to.tensorboard = true,
                "all" => {
                    to.jsonl = true;
                    to.tensorboard = true;
                }
                "none" | "" => {}
                other => {
                    return Err(format!(
                        "unknown report target \"{other}\"; expected {}",
                        Self::NAMES
                    ))
                }
            }
        }
        Ok(to)
    }

    fn names(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.jsonl {
            names.push("jsonl");
        }
        if self.tensorboard {
            names.push("tensorboard");
        }
        names
    }
}

impl Serialize for ReportTo {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        self.names().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ReportTo {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let names = match Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(format!(
                "expected a name or a list of names: {}",
                ReportTo::NAMES
            ))
        })? {
            Raw::One(name) => vec![name],
            Raw::Many(names) => names,
        };
        ReportTo::parse(&names).map_err(serde::de::Error::custom)
    }
}

/// Steps the ETA looks back over.
pub(crate) const PACE_WINDOW: usize = 50;

pub(crate) struct Reporter {
    console: Console,
    max_steps: u64,
    unit: &'static str,
    items_per_step: u64,
    /// TFLOP/s and MFU of training events, when the model's FLOPs are known.
    speed: Option<super::speed::SpeedModel>,
    metrics: Option<(BufWriter<File>, PathBuf)>,
    tensorboard: Option<EventWriter>,
    last_loss: Option<f64>,
    last_lr: Option<f64>,
    /// `(step, when)` of the last log event (or of the start), for throughput.
    last_log: (u64, Instant),
    /// `(step, when)` of recent steps, for the ETA.
    pace: VecDeque<(u64, Instant)>,
}

impl Reporter {
    pub(crate) fn new(console: Console, max_steps: u64, unit: &'static str) -> Reporter {
        Reporter {
            console,
            max_steps,
            unit,
            items_per_step: 0,
            speed: None,
            metrics: None,
            tensorboard: None,
            last_loss: None,
            last_lr: None,
            last_log: (0, Instant::now()),
            pace: VecDeque::new(),
        }
    }

    pub(crate) fn set_console(&mut self, console: Console) {
        self.console = console;
    }

    pub(crate) fn set_items_per_step(&mut self, items: u64) {
        self.items_per_step = items;
    }

    pub(crate) fn set_speed(&mut self, speed: Option<super::speed::SpeedModel>) {
        self.speed = speed;
    }

    /// `tflops_per_device`/`mfu` (with `prefix`) at `steps_per_second`, when FLOPs are known.
    pub(crate) fn speed_fields(&self, steps_per_second: f64, prefix: &str) -> Map<String, Value> {
        self.speed
            .map(|s| s.fields(steps_per_second, prefix))
            .unwrap_or_default()
    }

    /// Opens the sinks `args.report_to` asks for (`metrics.jsonl` appended to; a new TensorBoard
    /// event file) and starts the clocks at `start_step` (a resumed run starts past 0).
    pub(crate) fn open(&mut self, args: &TrainingArgs, start_step: u64) -> Result<()> {
        if args.report_to.jsonl {
            let path = args.output_dir.join("metrics.jsonl");
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io("cannot open the metrics file", &path, e))?;
            self.metrics = Some((BufWriter::new(file), path));
        }
        if args.report_to.tensorboard {
            // TensorBoard is pointed at the folder of all runs, so they can be compared
            let (dir, logdir) = match &args.logging_dir {
                Some(dir) => (dir.clone(), dir.clone()),
                None => (
                    default_run_dir(&args.output_dir),
                    args.output_dir.join("runs"),
                ),
            };
            let events = EventWriter::create(&dir)?;
            if self.console != Console::Quiet {
                log::info!(
                    "TensorBoard events: {} (tensorboard --logdir {})",
                    events.path().display(),
                    logdir.display()
                );
            }
            self.tensorboard = Some(events);
        }
        let now = Instant::now();
        self.last_log = (start_step, now);
        self.pace.clear();
        self.pace.push_back((start_step, now));
        Ok(())
    }

    /// The throughput key of log events: `tokens_per_second` or `samples_per_second`.
    fn rate_key(&self) -> String {
        self.unit.replace("/s", "_per_second")
    }

    /// Writes a log event to the sinks and the console. A training event (one with `loss`) gets
    /// the throughput since the previous one added (there, not in `log_history`).
    pub(crate) fn log(&mut self, entry: &Value) -> Result<()> {
        let mut entry = entry.clone();
        let step = entry.get("step").and_then(Value::as_u64).unwrap_or(0);
        if let Some(loss) = entry.get("loss").and_then(Value::as_f64) {
            self.last_loss = Some(loss);
            let (since_step, since) = self.last_log;
            let now = Instant::now();
            let seconds = now.duration_since(since).as_secs_f64();
            if step > since_step && seconds > 0.0 {
                let steps_per_second = (step - since_step) as f64 / seconds;
                let rate = steps_per_second * self.items_per_step as f64;
                entry[self.rate_key()] = serde_json::json!(rate);
                for (key, value) in self.speed_fields(steps_per_second, "") {
                    entry[key] = value;
                }
            }
            self.last_log = (step, now);
        }
        if let Some(lr) = entry.get("learning_rate").and_then(Value::as_f64) {
            self.last_lr = Some(lr);
        }
        if let Some((file, path)) = &mut self.metrics {
            writeln!(file, "{entry}")
                .and_then(|()| file.flush())
                .map_err(|e| Error::io("cannot write the metrics file", path.clone(), e))?;
        }
        if let Some(events) = &mut self.tensorboard {
            events.scalars(step, &tensorboard_scalars(&entry))?;
        }
        if self.console == Console::Quiet {
            return Ok(());
        }
        let mut line = format!("step={step} ");
        match entry.get("epoch").and_then(Value::as_f64) {
            Some(epoch) => line.push_str(&format!("epoch={epoch:.4} ")),
            None => line.push_str("epoch=stream "),
        }
        if let Some(obj) = entry.as_object() {
            for (key, value) in obj {
                if key == "step" || key == "epoch" {
                    continue;
                }
                let text = match value.as_f64() {
                    Some(v) if key == &self.rate_key() => format!("{v:.0}"),
                    Some(v) if v.fract() != 0.0 => format!("{v:.6}"),
                    _ => value.to_string(),
                };
                line.push_str(&format!("{key}={text} "));
            }
        }
        if entry.get("loss").is_some() {
            if let Some(eta) = self.eta(step) {
                line.push_str(&format!("eta={}", clock(eta)));
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

    /// Seconds left at the pace of the recent steps (None until two steps were seen).
    fn eta(&self, step: u64) -> Option<f64> {
        let (&(first_step, first), &(last_step, last)) = (self.pace.front()?, self.pace.back()?);
        if last_step <= first_step {
            return None;
        }
        let per_step = last.duration_since(first).as_secs_f64() / (last_step - first_step) as f64;
        Some(per_step * self.max_steps.saturating_sub(step) as f64)
    }

    /// Items per second at the pace of the recent steps.
    fn recent_rate(&self) -> Option<f64> {
        let (&(first_step, first), &(last_step, last)) = (self.pace.front()?, self.pace.back()?);
        let seconds = last.duration_since(first).as_secs_f64();
        (last_step > first_step && seconds > 0.0)
            .then(|| (last_step - first_step) as f64 * self.items_per_step as f64 / seconds)
    }

    /// Remembers when `step` finished, keeping the last [`PACE_WINDOW`] steps.
    fn record_pace(&mut self, step: u64, at: Instant) {
        self.pace.push_back((step, at));
        while self.pace.len() > PACE_WINDOW + 1 {
            self.pace.pop_front();
        }
    }

    /// Called after every step: records the pace and redraws the bar (on a terminal).
    /// `epoch`: fractional epochs, or None for an endless stream.
    pub(crate) fn tick(&mut self, step: u64, epoch: Option<f64>) {
        self.record_pace(step, Instant::now());
        if self.console != Console::Bar {
            return;
        }
        let width = 30usize;
        let done = if self.max_steps == 0 {
            width
        } else {
            (step as usize * width / self.max_steps as usize).min(width)
        };
        let epoch = epoch.map_or("stream".to_string(), |e| format!("{e:.2}"));
        let rate = self
            .recent_rate()
            .map_or("-".to_string(), |r| format!("{r:.0}"));
        let eta = self.eta(step).map_or("-".to_string(), clock);
        let loss = self
            .last_loss
            .map_or("-".to_string(), |l| format!("{l:.4}"));
        let lr = self.last_lr.map_or("-".to_string(), |l| format!("{l:.2e}"));
        let mut out = std::io::stdout().lock();
        let _ = write!(
            out,
            "\r\x1b[2K[{}{}] {step}/{} epoch {epoch} loss {loss} lr {lr} {rate} {} ETA {eta}",
            "#".repeat(done),
            ".".repeat(width - done),
            self.max_steps,
            self.unit,
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

/// TensorBoard tags of a log event's numbers, named as HF's TensorBoard callback names them:
/// `eval_loss` -> `eval/loss`, anything else `train/<key>`.
fn tensorboard_scalars(entry: &Value) -> Vec<(String, f64)> {
    let Some(obj) = entry.as_object() else {
        return Vec::new();
    };
    obj.iter()
        .filter(|(key, _)| key.as_str() != "step")
        .filter_map(|(key, value)| {
            let value = value.as_f64()?;
            let tag = match key.strip_prefix("eval_") {
                Some(rest) => format!("eval/{rest}"),
                None => format!("train/{key}"),
            };
            Some((tag, value))
        })
        .collect()
}

fn clock(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn report_to_takes_hf_style_names_lists_all_and_none() {
        let parse = |names: &[&str]| ReportTo::parse(names).unwrap();
        assert_eq!(parse(&["jsonl"]), ReportTo::default());
        let both = ReportTo {
            jsonl: true,
            tensorboard: true,
        };
        assert_eq!(parse(&["jsonl,tensorboard"]), both);
        assert_eq!(parse(&["tensorboard", "jsonl"]), both);
        assert_eq!(parse(&["all"]), both);
        assert_eq!(parse(&["none"]).names(), Vec::<&str>::new());
        let err = ReportTo::parse(&["wandb"]).unwrap_err();
        assert!(
            err.contains("\"wandb\"") && err.contains("tensorboard"),
            "{err}"
        );
        let json = serde_json::to_string(&both).unwrap();
        assert_eq!(json, r#"["jsonl","tensorboard"]"#);
        assert_eq!(serde_json::from_str::<ReportTo>(&json).unwrap(), both);
        assert_eq!(
            serde_json::from_str::<ReportTo>(r#""tensorboard""#).unwrap(),
            parse(&["tensorboard"])
        );
    }

    #[test]
    fn the_eta_follows_the_recent_pace_not_the_average_since_the_start() {
        let mut reporter = Reporter::new(Console::Quiet, 1000, "tokens/s");
        reporter.set_items_per_step(100);
        let start = Instant::now();
        // a slow start (10 s for the first 10 steps), then 0.1 s per step
        reporter.record_pace(0, start);
        reporter.record_pace(10, start + Duration::from_secs(10));
        for k in 1..=(PACE_WINDOW as u64 + 5) {
            let at = start + Duration::from_secs(10) + Duration::from_millis(100 * k);
            reporter.record_pace(10 + k, at);
        }
        let step = 10 + PACE_WINDOW as u64 + 5;
        let eta = reporter.eta(step).unwrap();
        let want = 0.1 * (1000 - step) as f64;
        assert!((eta - want).abs() < 1e-6 * want, "{eta} vs {want}");
        let rate = reporter.recent_rate().unwrap();
        assert!((rate - 1000.0).abs() < 1e-6, "{rate}");
    }
}
