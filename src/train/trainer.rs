//! [`Trainer`]: compiles a run's programs, keeps its [`TrainState`] on the device and drives the
//! loop: upload a batch, execute one train step (state donated into the next state), and only at
//! the logging cadence read back the metric scalars that earlier steps left on the device.
//!
//! The loop calls a [`StepHook`] after every optimizer step, with the trainer borrowed mutably:
//! that is where a checkpoint save goes. Before each step the hook may ask for the step to run
//! with its input state borrowed instead of donated ([`Trainer::step_keeping_previous`]); the
//! pre-step state then stays valid and is handed to the hook (e.g. for a background writer).
//! [`Trainer::stop_flag`] ends the loop cleanly after the current step (e.g. on SIGTERM).
//!
//! With `num_devices = N > 1` the step is compiled for `N` replicas (see [`super::parallel`]):
//! every device keeps a full copy of the state, gets its slice of each global batch, and the
//! program averages gradients across devices. [`Trainer::state`] is device 0's copy (what a
//! checkpoint writes); [`Trainer::restore`] copies a restored state onto every device.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{EvalStrategy, TrainingArgs};
use crate::data::{Batch, Dataset, Inputs};
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Arg, Buffer, Client, CompileOptions, Executable};
use crate::{Error, Result};

use super::parallel::{batch_slice, replicate_state};
use super::plot::{run_title, LossCurves};
use super::program::{eval_program, train_step_program_replicated, Program, STEP_METRICS};
use super::progress::{epoch_of, log_event};
use super::report::{Console, Reporter};
use super::{TrainState, TrainerProgress};

/// Results of one evaluation over the held-out batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalMetrics {
    pub loss: f64,
    pub accuracy: f64,
    pub perplexity: f64,
}

/// What a finished (or stopped) run reports.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainSummary {
    pub steps: u64,
    pub stopped_early: bool,
    pub compile_time: Duration,
    pub train_time: Duration,
    /// Median wall time of one step, excluding the first `WARMUP_STEPS` steps.
    pub median_step_time: Duration,
    /// Samples (MLP) or tokens (GPT) per second over the median step.
    pub items_per_second: f64,
    pub final_loss: Option<f64>,
    pub final_eval: Option<EvalMetrics>,
}

/// Called by [`Trainer::train`] around every optimizer step. Any
/// `FnMut(&mut Trainer) -> Result<()>` closure is a hook that never keeps the previous state.
pub trait StepHook {
    /// Whether step `next_step` (1-based) should run with its input state borrowed, so that the
    /// state from before it stays valid and is passed to [`Self::after_step`].
    fn keep_previous(&mut self, _next_step: u64) -> bool {
        false
    }

    /// Runs after every step (and its logging/eval); `previous` is the pre-step state when
    /// [`Self::keep_previous`] asked for it.
    fn after_step(&mut self, trainer: &mut Trainer, previous: Option<TrainState>) -> Result<()>;
}

impl<F: FnMut(&mut Trainer) -> Result<()>> StepHook for F {
    fn after_step(&mut self, trainer: &mut Trainer, _previous: Option<TrainState>) -> Result<()> {
        self(trainer)
    }
}

/// Steps left out of the median step time (compilation warm-up, caches).
pub const WARMUP_STEPS: usize = 10;

pub struct Trainer {
    pub args: TrainingArgs,
    client: Client,
    model: ModelConfig,
    dataset: Dataset,
    optimizer: OptimizerSpec,
    train_program: Program,
    train_exe: Executable,
    eval_exe: Option<Executable>,
    eval_batches: Vec<(Buffer, Buffer)>,
    state: Option<TrainState>,
    /// Data parallelism: the state of devices `1..num_devices` (identical to `state`, which is
    /// device 0's); empty on one device.
    replicas: Vec<TrainState>,
    /// Device index of each replica's argument list, as the executable wants them.
    replica_devices: Vec<usize>,
    progress: TrainerProgress,
    /// Metric buffers of the steps since the last log: `[loss, grad_norm, learning_rate]`.
    pending: Vec<Vec<Buffer>>,
    stop: Arc<AtomicBool>,
    reporter: Reporter,
    compile_time: Duration,
    step_times: Vec<Duration>,
    items_per_step: u64,
}

impl Trainer {
    /// Opens the data, builds and compiles the programs and puts the initial state on the
    /// device (models.json init, or the weights of `model_name_or_path`; zero optimizer slots,
    /// step 0, key from `seed`).
    pub fn new(client: Client, args: TrainingArgs) -> Result<Trainer> {
        let model = args.model_config()?;
        let num_devices = match args.num_devices {
            Some(requested) => requested.resolve(client.device_count())?,
            None => 1,
        };
        let dataset = Dataset::open(&args.data_spec_for_devices(num_devices)?)?;
        let micro_batches = usize::try_from(args.gradient_accumulation_steps)
            .map_err(|_| Error::Usage("gradient_accumulation_steps is too large".into()))?;
        let max_steps = total_steps(&args, &dataset)?;
        let optimizer = OptimizerSpec::from_args(&args, max_steps);
        let layout = dataset.batch_layout();
        let mut device_layout = layout.clone();
        for shape in [&mut device_layout.x_shape, &mut device_layout.y_shape] {
            if let Some(batch) = shape.first_mut() {
                *batch /= num_devices;
            }
        }
        let started = Instant::now();
        let train_program = train_step_program_replicated(
            &model,
            &optimizer,
            &device_layout,
            micro_batches,
            num_devices,
            super::precision::compute_policy(&args),
        )?;
        let train_exe = client.compile(
            &train_program.mlir,
            &CompileOptions::replicated(num_devices),
        )?;
        let replica_devices = train_exe.device_indices();
        let eval_data = match args.eval_data_spec()? {
            _ if args.eval_strategy == EvalStrategy::No => Vec::new(),
            Some(spec) => Dataset::open(&spec)?.contract_eval_batches(layout.x_shape[0])?,
            None => dataset.eval_batches(),
        };
        // held-out batches may be smaller than the training batch
        let mut eval_layout = layout.clone();
        if let Some(first) = eval_data.first() {
            let batch = first.y.len() / layout.y_shape[1..].iter().product::<usize>().max(1);
            eval_layout.x_shape[0] = batch;
            eval_layout.y_shape[0] = batch;
        }
        let eval_exe = if eval_data.is_empty() {
            None
        } else {
            let program = eval_program(&model, &eval_layout, args.mixed_precision)?;
            Some(client.compile(&program.mlir, &CompileOptions::default())?)
        };
        let compile_time = started.elapsed();
        let mut eval_batches = Vec::with_capacity(eval_data.len());
        for batch in &eval_data {
            eval_batches.push(upload_batch(
                &client,
                std::slice::from_ref(batch),
                &eval_layout.x_shape,
                &eval_layout.y_shape,
                false,
                0,
            )?);
        }
        let state = match &args.model_name_or_path {
            Some(path) => {
                let weights = crate::hf::HfModel::open(path)?;
                TrainState::pretrained(&client, &model, &optimizer, args.seed, &weights)?
            }
            None => TrainState::initial(&client, &model, &optimizer, args.seed)?,
        };
        let replicas = replicate_state(&client, &state, replica_devices.get(1..).unwrap_or(&[]))?;
        let items_per_step = layout.y_shape.iter().product::<usize>() as u64 * micro_batches as u64;
        let progress = TrainerProgress::new(dataset.start_cursor(), max_steps);
        let mut reporter = Reporter::new(Console::Quiet, max_steps, items_unit(&model));
        reporter.set_items_per_step(items_per_step);
        reporter.set_speed(speed_model(
            &client,
            &args,
            &model,
            &layout,
            micro_batches,
            num_devices,
        ));
        Ok(Trainer {
            args,
            client,
            model,
            dataset,
            optimizer,
            train_program,
            train_exe,
            eval_exe,
            eval_batches,
            state: Some(state),
            replicas,
            replica_devices,
            progress,
            pending: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            reporter,
            compile_time,
            step_times: Vec::new(),
            items_per_step,
        })
    }

    /// Where console output goes (quiet by default; the CLI picks bar or lines).
    pub fn set_console(&mut self, console: Console) {
        self.reporter.set_console(console);
    }

    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    pub fn optimizer(&self) -> &OptimizerSpec {
        &self.optimizer
    }

    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// The StableHLO text of the train step.
    pub fn train_step_mlir(&self) -> &str {
        &self.train_program.mlir
    }

    /// How many devices each step runs on (data parallelism; 1 = a single device).
    pub fn num_devices(&self) -> usize {
        self.replica_devices.len().max(1)
    }

    /// Every replica's state, device 0's first (they are identical after every step).
    pub fn replica_states(&self) -> Result<Vec<&TrainState>> {
        let mut states = vec![self.state()?];
        states.extend(self.replicas.iter());
        Ok(states)
    }

    /// The device state (between steps it is always present). In a data-parallel run this is
    /// device 0's copy, which is what a checkpoint writes.
    pub fn state(&self) -> Result<&TrainState> {
        self.state.as_ref().ok_or_else(|| {
            Error::ExecuteArgs("the training state was lost by a failed step".into())
        })
    }

    pub fn progress(&self) -> &TrainerProgress {
        &self.progress
    }

    /// Replaces the device state and the host progress (the resume path). The cursor must fit
    /// this run's data.
    pub fn restore(&mut self, state: TrainState, progress: TrainerProgress) -> Result<()> {
        self.dataset.check_cursor(&progress.cursor)?;
        let expected = self.state()?.descriptors().to_vec();
        if state.descriptors() != expected.as_slice() {
            return Err(Error::BufferShape(
                "the restored state's tensors differ from this run's layout".into(),
            ));
        }
        self.pending.clear();
        let others = self.replica_devices.get(1..).unwrap_or(&[]);
        self.replicas = replicate_state(&self.client, &state, others)?;
        self.state = Some(state);
        self.progress = progress;
        Ok(())
    }

    /// A flag that, once set, makes [`Self::train`] return after the current step.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Whether the run has done all its steps.
    pub fn finished(&self) -> bool {
        self.progress.global_step >= self.progress.max_steps
    }

    /// One optimizer step with the state donated (its old buffers are consumed).
    pub fn step(&mut self) -> Result<()> {
        self.run_step(true).map(|_| ())
    }

    /// One optimizer step whose inputs are only borrowed: returns the state from before the
    /// step, still valid (e.g. for a background checkpoint writer), at the cost of one state's
    /// worth of extra device memory while both live.
    pub fn step_keeping_previous(&mut self) -> Result<TrainState> {
        self.run_step(false)?
            .ok_or_else(|| Error::ExecuteArgs("no previous state kept".into()))
    }

    fn run_step(&mut self, donate: bool) -> Result<Option<TrainState>> {
        let started = Instant::now();
        let micro = self.train_program.x.shape[0];
        let batches: Vec<Batch> = (0..micro)
            .map(|_| self.dataset.next_batch(&mut self.progress.cursor))
            .collect();
        let x_shape = &self.train_program.x.shape[1..];
        let y_shape = &self.train_program.y.shape[1..];
        let devices = self.replica_devices.len().max(1);
        let mut inputs = Vec::with_capacity(devices);
        for (replica, &device) in self.replica_devices.iter().enumerate() {
            inputs.push(if devices == 1 {
                upload_batch(&self.client, &batches, x_shape, y_shape, true, device)?
            } else {
                let slices: Vec<Batch> = batches
                    .iter()
                    .map(|b| batch_slice(b, replica, devices))
                    .collect::<Result<_>>()?;
                upload_batch(&self.client, &slices, x_shape, y_shape, true, device)?
            });
        }
        let state = self.state.take().ok_or_else(|| {
            Error::ExecuteArgs("the training state was lost by a failed step".into())
        })?;
        let mut states = vec![state];
        states.append(&mut self.replicas);
        let mut descs = Vec::new();
        let mut held = Vec::with_capacity(devices);
        for state in states {
            let (d, buffers) = state.into_parts();
            descs = d;
            held.push(buffers);
        }
        let n = descs.len();
        let (outputs, previous) = if donate {
            let args: Vec<Vec<Arg>> = held
                .into_iter()
                .zip(&inputs)
                .map(|(buffers, (x, y))| {
                    let mut args: Vec<Arg> = buffers.into_iter().map(Arg::Donated).collect();
                    args.push(Arg::Borrowed(x));
                    args.push(Arg::Borrowed(y));
                    args
                })
                .collect();
            (self.train_exe.execute_replicated(args)?, None)
        } else {
            let args: Vec<Vec<Arg>> = held
                .iter()
                .zip(&inputs)
                .map(|(buffers, (x, y))| {
                    let mut args: Vec<Arg> = buffers.iter().map(Arg::Borrowed).collect();
                    args.push(Arg::Borrowed(x));
                    args.push(Arg::Borrowed(y));
                    args
                })
                .collect();
            let outputs = self.train_exe.execute_replicated(args)?;
            // device 0's pre-step state is the one handed on; the other copies are dropped
            (outputs, held.into_iter().next())
        };
        let mut next_states = Vec::with_capacity(devices);
        let mut metrics = None;
        for mut replica_outputs in outputs {
            if replica_outputs.len() != n + STEP_METRICS.len() {
                return Err(Error::ExecuteArgs(format!(
                    "train step returned {} results, expected {}",
                    replica_outputs.len(),
                    n + STEP_METRICS.len()
                )));
            }
            // metrics are all-reduced in the program: device 0's stand for every replica
            let replica_metrics = replica_outputs.split_off(n);
            metrics.get_or_insert(replica_metrics);
            next_states.push(TrainState::from_parts(descs.clone(), replica_outputs)?);
        }
        let previous = match previous {
            Some(buffers) => Some(TrainState::from_parts(descs, buffers)?),
            None => None,
        };
        let mut next_states = next_states.into_iter();
        self.state = next_states.next();
        self.replicas = next_states.collect();
        self.pending.push(metrics.unwrap_or_default());
        self.progress.global_step += 1;
        self.progress.num_input_tokens_seen += self.items_per_step;
        self.progress.epoch = self.epoch().unwrap_or(0.0);
        self.step_times.push(started.elapsed());
        Ok(previous)
    }

    /// Fractional epochs so far; None on an endless stream.
    fn epoch(&self) -> Option<f64> {
        epoch_of(&self.dataset, &self.progress.cursor)
    }

    /// Reads the metrics of the steps since the last log (one blocking read of small scalars)
    /// and records a log event `{step, epoch, loss (mean), grad_norm, learning_rate}`.
    pub fn log_metrics(&mut self) -> Result<Option<Value>> {
        if self.pending.is_empty() {
            return Ok(None);
        }
        let mut loss_sum = 0.0;
        let mut last = [0.0f64; 3];
        for metrics in &self.pending {
            for (slot, buffer) in last.iter_mut().zip(metrics) {
                *slot = f64::from(buffer.to_vec::<f32>()?.first().copied().unwrap_or(f32::NAN));
            }
            loss_sum += last[0];
        }
        let loss = loss_sum / self.pending.len() as f64;
        self.pending.clear();
        let entry = log_event(
            self.progress.global_step,
            self.epoch(),
            json!({"loss": loss, "grad_norm": last[1], "learning_rate": last[2]}),
        );
        self.record(entry.clone())?;
        Ok(Some(entry))
    }

    fn record(&mut self, entry: Value) -> Result<()> {
        self.reporter.log(&entry)?;
        self.progress.log_history.push(entry);
        Ok(())
    }

    /// Mean loss and accuracy over the held-out batches with the current parameters, logged as
    /// `eval_loss` and `eval_accuracy` (MLP) or `eval_perplexity` (GPT).
    pub fn evaluate(&mut self) -> Result<Option<EvalMetrics>> {
        let Some(exe) = &self.eval_exe else {
            return Ok(None);
        };
        let n_params = self.model.param_specs()?.len();
        let state = self.state.as_ref().ok_or_else(|| {
            Error::ExecuteArgs("the training state was lost by a failed step".into())
        })?;
        let (mut loss, mut accuracy) = (0.0, 0.0);
        for (x, y) in &self.eval_batches {
            let mut args: Vec<Arg> = state.buffers()[..n_params]
                .iter()
                .map(Arg::Borrowed)
                .collect();
            args.push(Arg::Borrowed(x));
            args.push(Arg::Borrowed(y));
            let out = exe.execute(args)?;
            let scalar = |i: usize| -> Result<f64> {
                let b = out.get(i).ok_or_else(|| {
                    Error::ExecuteArgs("eval program returned too few results".into())
                })?;
                Ok(f64::from(
                    b.to_vec::<f32>()?.first().copied().unwrap_or(f32::NAN),
                ))
            };
            loss += scalar(0)?;
            accuracy += scalar(1)?;
        }
        let count = self.eval_batches.len().max(1) as f64;
        let metrics = EvalMetrics {
            loss: loss / count,
            accuracy: accuracy / count,
            perplexity: (loss / count).exp(),
        };
        let mut entry = log_event(
            self.progress.global_step,
            self.epoch(),
            json!({"eval_loss": metrics.loss}),
        );
        match self.model {
            ModelConfig::Mlp(_) => entry["eval_accuracy"] = json!(metrics.accuracy),
            ModelConfig::Gpt(_) | ModelConfig::Hf(_) => {
                entry["eval_perplexity"] = json!(metrics.perplexity)
            }
        }
        self.record(entry)?;
        let greater_is_better = self.args.greater_is_better.unwrap_or(false);
        let improved = self.progress.best_metric.is_none_or(|best| {
            if greater_is_better {
                metrics.loss > best
            } else {
                metrics.loss < best
            }
        });
        if improved {
            self.progress.best_metric = Some(metrics.loss);
            self.progress.best_global_step = Some(self.progress.global_step);
        }
        Ok(Some(metrics))
    }

    fn eval_due(&self, epoch_before: u64) -> bool {
        match self.args.eval_strategy {
            EvalStrategy::No => false,
            EvalStrategy::Steps => self
                .progress
                .global_step
                .is_multiple_of(self.args.eval_interval().max(1)),
            EvalStrategy::Epoch => self.progress.cursor.epoch > epoch_before,
        }
    }

    /// Runs the remaining steps, logging every `logging_steps`, evaluating at the eval cadence
    /// and calling `hook` around each step (the checkpoint point). Writes `metrics.jsonl`
    /// (as it goes) and `loss_curve.png` and `loss_curve.svg` (at the end) into
    /// `output_dir`, and TensorBoard events when `report_to` asks for them.
    pub fn train(&mut self, hook: &mut dyn StepHook) -> Result<TrainSummary> {
        std::fs::create_dir_all(&self.args.output_dir).map_err(|e| {
            Error::io(
                "cannot create the output directory",
                &self.args.output_dir,
                e,
            )
        })?;
        self.reporter.open(&self.args, self.progress.global_step)?;
        let started = Instant::now();
        let logging = self.args.logging_steps.max(1);
        let mut final_eval = None;
        let mut stopped_early = false;
        while !self.finished() {
            if self.stop.load(Ordering::Relaxed) {
                stopped_early = true;
                break;
            }
            let epoch_before = self.progress.cursor.epoch;
            let previous = if hook.keep_previous(self.progress.global_step + 1) {
                Some(self.step_keeping_previous()?)
            } else {
                self.step()?;
                None
            };
            let step = self.progress.global_step;
            if step.is_multiple_of(logging) || self.finished() {
                self.log_metrics()?;
            }
            if self.eval_due(epoch_before) {
                final_eval = self.evaluate()?;
            }
            self.reporter.tick(step, self.epoch());
            hook.after_step(self, previous)?;
        }
        self.log_metrics()?;
        let train_time = started.elapsed();
        let summary = TrainSummary::of_run(
            &self.progress,
            &self.step_times,
            self.items_per_step,
            self.compile_time,
            train_time,
            stopped_early,
            final_eval,
        );
        let final_loss = summary.final_loss;
        let steps = summary.steps as f64;
        let seconds = train_time.as_secs_f64().max(1e-9);
        let fields = json!({
            "train_runtime": seconds,
            "train_steps_per_second": steps / seconds,
            "train_samples_per_second":
                steps * self.args.per_device_train_batch_size as f64
                    * self.args.gradient_accumulation_steps as f64
                    * self.num_devices() as f64 / seconds,
            "train_loss": final_loss,
        });
        let mut fields = fields;
        if let Some(obj) = fields.as_object_mut() {
            obj.extend(self.reporter.speed_fields(steps / seconds, "train_"));
        }
        self.record(log_event(self.progress.global_step, self.epoch(), fields))?;
        self.reporter.finish(&summary)?;
        LossCurves::from_log_history(
            run_title(&self.model, &self.args),
            &self.progress.log_history,
            self.args.plot_log_scale,
        )
        .write(&self.args.output_dir)?;
        Ok(summary)
    }
}

/// FLOPs per step (all devices) and the device's peak for the TFLOP/s and MFU of log events;
/// `None` where the analytic FLOP model cannot be evaluated.
fn speed_model(
    client: &Client,
    args: &TrainingArgs,
    model: &ModelConfig,
    layout: &crate::data::BatchLayout,
    micro_batches: usize,
    devices: usize,
) -> Option<super::speed::SpeedModel> {
    let examples = layout.y_shape.first().copied().unwrap_or(1) * micro_batches;
    let seq_len = match model {
        ModelConfig::Mlp(_) => 1,
        _ => layout.x_shape.get(1).copied().unwrap_or(1),
    };
    let flops_per_step = crate::bench::step_flops(model, examples, seq_len).ok()?;
    let kind = client
        .devices()
        .first()
        .map(|d| d.kind.clone())
        .unwrap_or_default();
    let peak_tflops = args
        .peak_tflops
        .or_else(|| super::speed::known_peak_tflops(&kind, args.mixed_precision));
    Some(super::speed::SpeedModel {
        flops_per_step,
        devices,
        peak_tflops,
    })
}

pub(super) fn items_unit(model: &ModelConfig) -> &'static str {
    match model {
        ModelConfig::Mlp(_) => "samples/s",
        ModelConfig::Gpt(_) | ModelConfig::Hf(_) => "tokens/s",
    }
}

/// Optimizer steps of the run: `max_steps`, or the epochs over a data file.
pub(super) fn total_steps(args: &TrainingArgs, dataset: &Dataset) -> Result<u64> {
    if let Some(steps) = args.max_steps {
        return Ok(steps);
    }
    let epochs = args.num_train_epochs.unwrap_or(1.0);
    let Some(per_epoch) = dataset.batches_per_epoch() else {
        return Err(Error::InvalidArgument {
            key: "num_train_epochs".into(),
            value: epochs.to_string(),
            reason: "the built-in synthetic data is endless; set max_steps".into(),
        });
    };
    let batches = (epochs * per_epoch as f64).ceil() as u64;
    Ok(batches
        .div_ceil(args.gradient_accumulation_steps.max(1))
        .max(1))
}

/// Uploads `batches` concatenated: with a leading micro-batch axis (`x: [N, ..x_shape]`) for
/// the train step when `stacked`, as one plain batch (eval) otherwise.
fn upload_batch(
    client: &Client,
    batches: &[Batch],
    x_shape: &[usize],
    y_shape: &[usize],
    stacked: bool,
    device: usize,
) -> Result<(Buffer, Buffer)> {
    let dims = |shape: &[usize]| -> Vec<i64> {
        let mut dims = Vec::with_capacity(shape.len() + 1);
        if stacked {
            dims.push(batches.len() as i64);
        }
        dims.extend(shape.iter().map(|&d| d as i64));
        dims
    };
    let y: Vec<i32> = batches.iter().flat_map(|b| b.y.iter().copied()).collect();
    let x = match batches.first().map(|b| &b.x) {
        Some(Inputs::F32(_)) => {
            let mut all = Vec::new();
            for b in batches {
                if let Inputs::F32(v) = &b.x {
                    all.extend_from_slice(v);
                }
            }
            client.upload(&all, &dims(x_shape), device)?
        }
        _ => {
            let mut all = Vec::new();
            for b in batches {
                if let Inputs::I32(v) = &b.x {
                    all.extend_from_slice(v);
                }
            }
            client.upload(&all, &dims(x_shape), device)?
        }
    };
    Ok((x, client.upload(&y, &dims(y_shape), device)?))
}

impl TrainSummary {
    /// The summary of a run from its progress and step times (the same for every trainer).
    pub(super) fn of_run(
        progress: &TrainerProgress,
        step_times: &[Duration],
        items_per_step: u64,
        compile_time: Duration,
        train_time: Duration,
        stopped_early: bool,
        final_eval: Option<EvalMetrics>,
    ) -> TrainSummary {
        let median_step_time = median(step_times);
        let items_per_second = if median_step_time.is_zero() {
            0.0
        } else {
            items_per_step as f64 / median_step_time.as_secs_f64()
        };
        let final_loss = progress
            .log_history
            .iter()
            .rev()
            .find_map(|e| e.get("loss").and_then(Value::as_f64));
        TrainSummary {
            steps: progress.global_step,
            stopped_early,
            compile_time,
            train_time,
            median_step_time,
            items_per_second,
            final_loss,
            final_eval,
        }
    }
}

pub(super) fn median(times: &[Duration]) -> Duration {
    let skip = if times.len() > WARMUP_STEPS {
        WARMUP_STEPS
    } else {
        0
    };
    let mut steady: Vec<Duration> = times[skip..].to_vec();
    if steady.is_empty() {
        return Duration::ZERO;
    }
    steady.sort();
    steady[steady.len() / 2]
}
