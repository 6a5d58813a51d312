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
//! Every run has a device [`Mesh`] (one device is the trivial one): the step is the program of
//! the global batch with each state tensor's sharding annotated (see [`super::layout`]), compiled
//! once for all partitions by XLA's SPMD partitioner. The [`TrainState`] holds each partition's
//! blocks; data parallelism (`--num-devices`, `data=N`), sharded state (`--shard-state`,
//! `fsdp=N`) and tensor parallelism (`tensor=N`) are configurations of the same loop, so eval,
//! gradient accumulation, saves of every kind and resume work the same in all of them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::{EvalStrategy, TrainingArgs};
use crate::data::{Batch, Dataset, Inputs};
use crate::hf::HfModel;
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::{Arg, Buffer, Client, CompileOptions, DType, Executable};
use crate::{Error, Result};

use super::callback::{TrainerCallback, TrainerControl};
use super::layout::StateLayout;
use super::mesh::{block_bytes, Mesh, Sharding};
use super::model::Model;
use super::plot::{run_title, LossCurves};
use super::program::{
    batch_sharding, eval_program_on, train_step_program_on, Program, STEP_METRICS,
};
use super::progress::{epoch_of, log_event};
use super::report::{Console, Reporter};
use super::state::InitialParams;
use super::summary::TrainSummary;

mod evaluate;
use super::{TrainState, TrainerProgress};

/// Called by [`Trainer::run_loop`] around every optimizer step. Any
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

pub struct Trainer {
    pub args: TrainingArgs,
    client: Client,
    model: ModelConfig,
    /// The opened weights of a pretrained model (the initial parameters).
    pretrained: Option<HfModel>,
    dataset: Dataset,
    optimizer: OptimizerSpec,
    train_program: Program,
    train_exe: Executable,
    eval_exe: Option<Executable>,
    /// `[batch][partition]`: each held-out batch, whole on every device.
    eval_batches: Vec<Vec<(Buffer, Buffer)>>,
    /// Tensors, shardings, mesh and the device of each partition.
    layout: Arc<StateLayout>,
    /// `None` only before the first step of a run that resumes (the checkpoint's state is the
    /// first one built) or after a failed step.
    state: Option<TrainState>,
    progress: TrainerProgress,
    /// Metric buffers of the steps since the last log: `[loss, grad_norm, learning_rate]`.
    pending: Vec<Vec<Buffer>>,
    stop: Arc<AtomicBool>,
    callbacks: Vec<Box<dyn TrainerCallback>>,
    control: TrainerControl,
    reporter: Reporter,
    compile_time: Duration,
    step_times: Vec<Duration>,
    items_per_step: u64,
}

impl Trainer {
    /// A trainer of `model` on the client `args.device` names (`cpu`, `cuda`, `tpu` or a plugin
    /// path, with the plugin's default device count); see [`Self::with_client`].
    pub fn new(model: Model, args: TrainingArgs) -> Result<Trainer> {
        let client = Client::open(&args.client_options())?;
        Trainer::with_client(client, model, args)
    }

    /// Opens the data, builds and compiles the programs on `client` and puts the initial state
    /// on the device (models.json init, or the pretrained model's weights; zero optimizer
    /// slots, step 0, key from `seed`). `args` must name the same model (`model` or
    /// `model_name_or_path`, and size keys that agree with it): a disagreement is
    /// [`Error::ModelMismatch`]; size keys `args` leave unset take the model's values.
    pub fn with_client(client: Client, model: Model, mut args: TrainingArgs) -> Result<Trainer> {
        let (model, pretrained) = model.resolve(&mut args)?;
        super::metrics::check_best_metric_applies(args.metric_for_best_model.as_deref(), &model)?;
        let mesh = args.resolve_mesh(client.device_count())?;
        let dataset = Dataset::open(&args.data_spec_of(&model, mesh.batch_ways())?)?;
        let micro_batches = usize::try_from(args.gradient_accumulation_steps)
            .map_err(|_| Error::Usage("gradient_accumulation_steps is too large".into()))?;
        let max_steps = total_steps(&args, &dataset)?;
        let optimizer = OptimizerSpec::from_args(&args, max_steps);
        let layout = dataset.batch_layout();
        let started = Instant::now();
        let planned = StateLayout::new(&model, &optimizer, mesh, Vec::new())?;
        let train_program = train_step_program_on(
            &model,
            &optimizer,
            &layout,
            micro_batches,
            &planned,
            super::precision::compute_policy(&args),
        )?;
        let compile_options = if mesh.devices() > 1 {
            CompileOptions::spmd(mesh.devices())
        } else {
            CompileOptions::default()
        };
        let train_exe = client.compile(&train_program.mlir, &compile_options)?;
        let state_layout = Arc::new(StateLayout {
            devices: train_exe.device_indices(),
            ..planned
        });
        let eval_data = match args.eval_data_spec_of(&model)? {
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
            let n_params = model.param_specs()?.len();
            let program = eval_program_on(
                &model,
                &eval_layout,
                &mesh,
                &state_layout.shardings[..n_params],
                args.mixed_precision,
            )?;
            Some(client.compile(&program.mlir, &compile_options)?)
        };
        let compile_time = started.elapsed();
        let mut eval_batches = Vec::with_capacity(eval_data.len());
        for batch in &eval_data {
            let batch = std::slice::from_ref(batch);
            let ((x, x_type), (y, _)) = (stacked_bytes(batch, true), stacked_bytes(batch, false));
            let dims = |shape: &[usize]| shape.iter().map(|&d| d as i64).collect::<Vec<i64>>();
            let (x_dims, y_dims) = (dims(&eval_layout.x_shape), dims(&eval_layout.y_shape));
            let mut copies = Vec::with_capacity(state_layout.partitions());
            for &device in &state_layout.devices {
                copies.push((
                    client.buffer_from_bytes(&x, x_type, &x_dims, device)?,
                    client.buffer_from_bytes(&y, DType::S32, &y_dims, device)?,
                ));
            }
            eval_batches.push(copies);
        }
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
            mesh.devices(),
        ));
        let mut trainer = Trainer {
            args,
            client,
            model,
            pretrained,
            dataset,
            optimizer,
            train_program,
            train_exe,
            eval_exe,
            eval_batches,
            layout: state_layout,
            state: None,
            progress,
            pending: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            callbacks: Vec::new(),
            control: TrainerControl::default(),
            reporter,
            compile_time,
            step_times: Vec::new(),
            items_per_step,
        };
        // A run that resumes builds its first state from the checkpoint, never a throwaway one.
        if !trainer.args.resumes() {
            trainer.initialize_state()?;
        }
        Ok(trainer)
    }

    /// Puts the initial state on the devices (models.json init, or the pretrained model's
    /// weights; zero optimizer slots, step 0, key from `seed`), unless a state is
    /// there already.
    pub fn initialize_state(&mut self) -> Result<()> {
        if self.state.is_some() {
            return Ok(());
        }
        let params = match &self.pretrained {
            Some(w) => InitialParams::Pretrained(w),
            None => InitialParams::Spec,
        };
        self.state = Some(TrainState::fresh(
            &self.client,
            self.layout.clone(),
            &self.model,
            params,
            self.args.seed,
        )?);
        Ok(())
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

    /// How many devices each step runs on (1 = a single device).
    pub fn num_devices(&self) -> usize {
        self.layout.partitions()
    }

    /// The device mesh of this run.
    pub fn mesh(&self) -> Mesh {
        self.layout.mesh
    }

    /// The state's tensors, their shardings and the devices.
    pub fn layout(&self) -> &Arc<StateLayout> {
        &self.layout
    }

    /// The device state: every partition's blocks (present between steps, except before a
    /// resuming run has restored).
    pub fn state(&self) -> Result<&TrainState> {
        self.state.as_ref().ok_or_else(|| {
            Error::ExecuteArgs(
                "no training state: lost by a failed step, or not yet restored".into(),
            )
        })
    }

    pub fn progress(&self) -> &TrainerProgress {
        &self.progress
    }

    /// Replaces the device state and the host progress. The cursor must fit this run's data
    /// and the state this run's tensors; a state on another mesh (e.g. one built on one device
    /// from host bytes) is laid out onto this run's through the host.
    pub fn restore(&mut self, state: TrainState, progress: TrainerProgress) -> Result<()> {
        self.dataset.check_cursor(&progress.cursor)?;
        if state.descriptors() != self.layout.descs.as_slice() {
            return Err(Error::BufferShape(
                "the restored state's tensors differ from this run's layout".into(),
            ));
        }
        let state = if state.layout() == &self.layout {
            state
        } else {
            let host = state.to_host()?;
            drop(state);
            let mut tensors = host.iter();
            TrainState::from_host_on(&self.client, self.layout.clone(), |d| {
                tensors
                    .next()
                    .map(Vec::as_slice)
                    .ok_or_else(|| Error::BufferShape(format!("no host copy of {}", d.name)))
            })?
        };
        self.pending.clear();
        self.state = Some(state);
        self.progress = progress;
        Ok(())
    }

    /// Replaces the device state with the one `checkpoint` holds, read once and verified on the
    /// way, each partition uploading its blocks (no other state is on the devices meanwhile),
    /// and the host progress with the checkpoint's `trainer_state.json` unless `keep_progress`.
    /// Returns whether the checkpoint held parameters only (`--save-only-model`).
    pub fn restore_checkpoint(
        &mut self,
        checkpoint: &crate::checkpoint::Checkpoint,
        keep_progress: bool,
    ) -> Result<bool> {
        let progress = if keep_progress {
            self.progress.clone()
        } else {
            super::progress::progress_of(checkpoint, self.progress.max_steps)?
        };
        self.dataset.check_cursor(&progress.cursor)?;
        let n_params = self.model.param_specs()?.len();
        TrainState::check_restorable(&self.layout, checkpoint, n_params)?;
        // the old state's memory is free before the checkpoint's is uploaded
        self.state = None;
        let (state, model_only) = TrainState::restore(
            &self.client,
            self.layout.clone(),
            checkpoint,
            n_params,
            self.args.seed,
        )?;
        self.pending.clear();
        self.state = Some(state);
        self.progress = progress;
        Ok(model_only)
    }

    /// Creates `output_dir` and writes `training_args.json` into it: the one place a run's
    /// output directory is made (the loop, `train`, `save_state` and the CLI all come here).
    pub fn prepare_output_dir(&self) -> Result<()> {
        let dir = &self.args.output_dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io("cannot create the output directory", dir, e))?;
        let json_path = dir.join("training_args.json");
        std::fs::write(&json_path, self.args.to_json())
            .map_err(|e| Error::io("cannot write", &json_path, e))
    }

    /// A flag that, once set, makes [`Self::run_loop`] return after the current step.
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
        self.initialize_state()?;
        let started = Instant::now();
        let micro = self.train_program.x.shape[0];
        let batches: Vec<Batch> = (0..micro)
            .map(|_| self.dataset.next_batch(&mut self.progress.cursor))
            .collect();
        let inputs = self.upload_step_batch(&batches)?;
        let state = self.state.take().ok_or_else(|| {
            Error::ExecuteArgs("the training state was lost by a failed step".into())
        })?;
        let (layout, held) = state.into_partitions();
        let n = layout.descs.len();
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
            (self.train_exe.execute_replicated(args)?, Some(held))
        };
        let mut next = Vec::with_capacity(outputs.len());
        let mut metrics = None;
        for mut partition_outputs in outputs {
            if partition_outputs.len() != n + STEP_METRICS.len() {
                return Err(Error::ExecuteArgs(format!(
                    "train step returned {} results, expected {}",
                    partition_outputs.len(),
                    n + STEP_METRICS.len()
                )));
            }
            // metrics are replicated by the program: partition 0's stand for every device
            let partition_metrics = partition_outputs.split_off(n);
            metrics.get_or_insert(partition_metrics);
            next.push(partition_outputs);
        }
        let previous = match previous {
            Some(buffers) => Some(TrainState::from_partitions(layout.clone(), buffers)?),
            None => None,
        };
        self.state = Some(TrainState::from_partitions(layout, next)?);
        self.pending.push(metrics.unwrap_or_default());
        self.progress.global_step += 1;
        self.progress.num_input_tokens_seen += self.items_per_step;
        self.progress.epoch = self.epoch().unwrap_or(0.0);
        self.step_times.push(started.elapsed());
        Ok(previous)
    }

    /// Each partition's block of the stacked global batch `[micro, batch, ..]` (split along the
    /// batch axis over `data x fsdp`), uploaded to its device.
    fn upload_step_batch(&self, batches: &[Batch]) -> Result<Vec<(Buffer, Buffer)>> {
        let x = &self.train_program.x;
        let y = &self.train_program.y;
        let (x_bytes, x_type) = stacked_bytes(batches, true);
        let (y_bytes, _) = stacked_bytes(batches, false);
        let mesh = &self.layout.mesh;
        let sharding: Sharding = batch_sharding(x.shape.len(), mesh);
        let y_sharding: Sharding = batch_sharding(y.shape.len(), mesh);
        let mut inputs = Vec::with_capacity(self.layout.partitions());
        for (p, &device) in self.layout.devices.iter().enumerate() {
            let upload = |desc: &crate::TensorSpec,
                          sharding: &Sharding,
                          bytes: &[u8],
                          ty: DType|
             -> Result<Buffer> {
                let block = sharding.block(&desc.shape, mesh, p);
                let part = block_bytes(bytes, &desc.shape, &block, 4)?;
                let dims: Vec<i64> = block.iter().map(|r| r.len() as i64).collect();
                self.client.buffer_from_bytes(&part, ty, &dims, device)
            };
            inputs.push((
                upload(x, &sharding, &x_bytes, x_type)?,
                upload(y, &y_sharding, &y_bytes, DType::S32)?,
            ));
        }
        Ok(inputs)
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
        for callback in &mut self.callbacks {
            callback.on_log(&self.progress, &entry, &mut self.control);
        }
        self.progress.log_history.push(entry);
        Ok(())
    }

    /// Adds a callback; the loop calls every callback's hooks in the order they were added.
    pub fn add_callback(&mut self, callback: impl TrainerCallback + 'static) {
        self.callbacks.push(Box::new(callback));
    }

    /// What the callbacks have asked for and the loop has not done yet.
    pub fn control(&self) -> TrainerControl {
        self.control
    }

    /// Takes a callback's save request (the checkpointing hook acts on it).
    pub(super) fn take_save_request(&mut self) -> bool {
        std::mem::take(&mut self.control.should_save)
    }

    /// Tells the callbacks that `checkpoint` is committed.
    pub(super) fn notify_saved(&mut self, checkpoint: &std::path::Path) {
        for callback in &mut self.callbacks {
            callback.on_save(&self.progress, checkpoint, &mut self.control);
        }
    }

    /// Runs the remaining steps, logging every `logging_steps`, evaluating at the eval cadence
    /// (or when a callback asks), calling the callbacks and then `hook` after each step (the
    /// checkpoint point), and ending early when the stop flag is set or a callback asks. Writes
    /// `metrics.jsonl` (as it goes) and `loss_curve.png` and `loss_curve.svg` (at the end) into
    /// `output_dir`, and TensorBoard events when `report_to` asks for them. [`Self::train`] is
    /// the whole run with checkpoints around this loop.
    pub fn run_loop(&mut self, hook: &mut dyn StepHook) -> Result<TrainSummary> {
        self.initialize_state()?;
        self.prepare_output_dir()?;
        self.reporter.open(&self.args, self.progress.global_step)?;
        let started = Instant::now();
        let logging = self.args.logging_steps.max(1);
        let mut final_eval = None;
        let mut stopped_early = false;
        while !self.finished() {
            if self.stop.load(Ordering::Relaxed) || self.control.should_training_stop {
                self.control.should_training_stop = false;
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
            for callback in &mut self.callbacks {
                callback.on_step_end(&self.progress, &mut self.control);
            }
            if std::mem::take(&mut self.control.should_evaluate) {
                final_eval = self.evaluate()?.or(final_eval);
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
                    * self.layout.mesh.batch_ways() as f64 / seconds,
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
        // tokens per example: the last axis ([B, T] tokens, [B, 3, T] classifier inputs)
        _ => layout.x_shape.last().copied().unwrap_or(1),
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
        ModelConfig::Hf(c) if c.family.is_encoder() => "samples/s",
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

/// The micro-batches stacked as little-endian bytes: their inputs (`x`) with their element
/// type, or their labels.
fn stacked_bytes(batches: &[Batch], inputs: bool) -> (Vec<u8>, DType) {
    let mut bytes = Vec::new();
    let mut ty = DType::S32;
    for b in batches {
        match (&b.x, inputs) {
            (Inputs::F32(v), true) => {
                ty = DType::F32;
                bytes.extend(v.iter().flat_map(|f| f.to_le_bytes()));
            }
            (Inputs::I32(v), true) => bytes.extend(v.iter().flat_map(|i| i.to_le_bytes())),
            (_, false) => bytes.extend(b.y.iter().flat_map(|i| i.to_le_bytes())),
        }
    }
    (bytes, ty)
}
