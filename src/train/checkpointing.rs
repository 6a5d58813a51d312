//! Saving and resuming a [`Trainer`]: the save cadence (`--save-strategy`, `--save-steps`,
//! `--save-interval-minutes`, a final save, a save on SIGTERM/SIGINT), the contents of each
//! checkpoint (parameters in `model*.safetensors`; optimizer slots, `step` and `rng_key` in
//! `optimizer*.safetensors`; the host progress in `trainer_state.json`), retention and best-model
//! tracking, and `--resume-from-checkpoint`.
//!
//! Async saves never copy the state on the host: at a save point after step `k` the trainer is
//! told to run step `k+1` with its state borrowed instead of donated, which leaves the buffers of
//! state `k` intact; after step `k+1` they are moved to the background writer, which downloads
//! them straight into the streaming writer's windows while training goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::checkpoint::{
    check_architecture, checkpoint_dir_name, cleanup_stale, free_space, open_checkpoint,
    resume_from, Checkpoint, CheckpointWriter, ResumeState, RetentionPolicy, SaveJob, SaveOptions,
    SaveReport, TensorSource, TrainerState, Verify, WriterOptions, FORMAT_VERSION,
};
use crate::config::{ResumeFrom, SaveOnBusy, SaveStrategy, TrainingArgs};
use crate::models::ModelConfig;
use crate::pjrt::Client;
use crate::{Error, Result, TensorSpec};

use super::program::RNG_KEY;
use super::state::StateSource;
use super::{StepHook, TrainState, TrainSummary, Trainer, TrainerProgress};

/// A save requested after step `step`, waiting for the state of that step to be released by the
/// next (non-donating) step.
struct PendingSave {
    step: u64,
    requested_at: Instant,
    /// Loop time spent so far on this save (the snapshot).
    prepare_time: Duration,
    trainer_state: TrainerState,
    retention: RetentionPolicy,
}

/// What resuming did.
#[derive(Debug, Clone, PartialEq)]
pub struct Resumed {
    pub path: PathBuf,
    pub step: u64,
    /// Messages about newer checkpoints that were skipped as invalid.
    pub skipped: Vec<String>,
    /// The checkpoint had no optimizer state (`--save-only-model`): not a bit-exact resume.
    pub model_only: bool,
    pub elapsed: Duration,
}

/// The best checkpoint loaded at the end (`--load-best-model-at-end`).
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedBest {
    pub path: PathBuf,
    pub step: u64,
    pub metric: f64,
}

/// Save/resume state of one run: the trainer's [`StepHook`] during the loop, then
/// [`Self::finish`]; [`train_with_checkpoints`] does both.
pub struct Checkpointing {
    args: TrainingArgs,
    writer: CheckpointWriter,
    stop: Arc<AtomicBool>,
    pending: Option<PendingSave>,
    last_saved_step: Option<u64>,
    saved_steps: Vec<u64>,
    last_save_at: Instant,
    last_epoch: u64,
    resumed_from_step: Option<u64>,
    identity: RunIdentity,
    reports: Vec<SaveReport>,
    /// Reports already passed to the trainer's callbacks.
    notified: usize,
    /// Steps whose save was skipped because the previous one was still being written.
    skipped_busy: Vec<u64>,
    /// Parameters of the model (the first tensors of the state); kept so a save never re-reads
    /// the model's files (an HF model's config comes from `model_name_or_path`).
    n_params: usize,
}

impl Checkpointing {
    /// Prepares saving for `trainer`'s run: removes staging directories a crash left in
    /// `output_dir`. `stop` is the flag SIGTERM/SIGINT set (a save is made before stopping).
    pub fn new(trainer: &Trainer, stop: Arc<AtomicBool>) -> Result<Checkpointing> {
        let args = trainer.args.clone();
        remove_unfinished(&args.output_dir)?;
        let saves = args.save_strategy != SaveStrategy::No || args.save_interval_minutes.is_some();
        if saves {
            // A full disk is found now, not at the first save hours into the run: one
            // checkpoint of this state must fit.
            ensure_room_for(&args.output_dir, &trainer.layout().descs)?;
        }
        let mut save = SaveOptions {
            max_shard_size: args.max_shard_size_bytes()?,
            ..SaveOptions::default()
        };
        if let Some(model) = &args.model_name_or_path {
            // An HF model's checkpoints are its own directory layout, tokenizer included.
            save.extra_documents =
                crate::hf::checkpoint::tokenizer_documents(model, args.tokenizer.as_deref())?;
        }
        let writer = CheckpointWriter::new(WriterOptions {
            output_dir: args.output_dir.clone(),
            save,
            async_save: args.async_save,
            on_save: args.on_save.clone(),
        });
        let identity = RunIdentity::new(&args, trainer.model(), trainer.client())?;
        Ok(Checkpointing {
            writer,
            stop,
            pending: None,
            last_saved_step: None,
            saved_steps: Vec::new(),
            last_save_at: Instant::now(),
            last_epoch: trainer.progress().cursor.epoch,
            resumed_from_step: None,
            identity,
            reports: Vec::new(),
            notified: 0,
            skipped_busy: Vec::new(),
            n_params: trainer.model().param_specs()?.len(),
            args,
        })
    }

    /// Every save report so far (completed saves only).
    pub fn reports(&self) -> &[SaveReport] {
        &self.reports
    }

    /// Steps whose save `--save-on-busy skip` skipped.
    pub fn skipped_busy(&self) -> &[u64] {
        &self.skipped_busy
    }

    /// Resumes `trainer` per `--resume-from-checkpoint` (nothing when it is unset or `false`, or
    /// with `auto` when `output_dir` holds no valid checkpoint). Each byte of the checkpoint is
    /// read once: hashed while each device's blocks of it are uploaded, onto any mesh.
    pub fn resume(&mut self, trainer: &mut Trainer) -> Result<Option<Resumed>> {
        let (path, auto) = match &self.args.resume_from_checkpoint {
            None | Some(ResumeFrom::Latest(false)) => {
                self.log_initial_weights();
                return Ok(None);
            }
            Some(ResumeFrom::Latest(true)) => (None, false),
            Some(ResumeFrom::Auto(_)) => (None, true),
            Some(ResumeFrom::Path(path)) => (Some(path.clone()), false),
        };
        let started = Instant::now();
        let output_dir = self.args.output_dir.clone();
        if auto && !output_dir.is_dir() {
            self.log_fresh_start(&format!("{} does not exist", output_dir.display()));
            return Ok(None);
        }
        let mut precision_change = None;
        let chosen = resume_from(&output_dir, path.as_deref(), Verify::Structure, |c| {
            require_fingerprint(c)?;
            check_architecture(c, trainer.model())?;
            precision_change = super::precision::check_resume(c, &self.args)?;
            trainer.restore_checkpoint(c, false)
        });
        let choice = match chosen {
            Err(Error::NoValidCheckpoint { skipped, .. }) if auto => {
                let why = if skipped.is_empty() {
                    format!("{} holds no checkpoint", output_dir.display())
                } else {
                    format!(
                        "{} holds no valid checkpoint:{skipped}",
                        output_dir.display()
                    )
                };
                self.log_fresh_start(&why);
                return Ok(None);
            }
            chosen => chosen?,
        };
        let skipped = choice.skipped_messages();
        for message in &skipped {
            log::warn!("{message}");
        }
        let checkpoint = choice.checkpoint;
        let model_only = choice.restored;
        let step = checkpoint.step();
        if let Some(model) = &self.args.model_name_or_path {
            let what = if model_only {
                "parameters"
            } else {
                "parameters and optimizer state"
            };
            log::info!(
                "{what} from checkpoint {} (step {step}), not from the weights of \
                 --model-name-or-path {}",
                checkpoint.path.display(),
                model.display()
            );
        }
        self.resumed_from_step = Some(step);
        self.last_saved_step = Some(step);
        self.last_epoch = trainer.progress().cursor.epoch;
        if checkpoint.path.parent() == Some(self.args.output_dir.as_path()) {
            self.saved_steps.push(step);
        }
        if let Some(warning) = precision_change {
            log::warn!("{warning}");
        }
        log::info!(
            "resumed from {} (step {step}) onto {} in {:.3} s",
            checkpoint.path.display(),
            describe_mesh(trainer),
            started.elapsed().as_secs_f64()
        );
        if model_only {
            log::warn!(
                "{} was saved with --save-only-model: it holds no optimizer state, \
                 so the optimizer restarts from zero and the run is not a bit-exact \
                 continuation",
                checkpoint.path.display()
            );
        }
        Ok(Some(Resumed {
            path: checkpoint.path.clone(),
            step,
            skipped,
            model_only,
            elapsed: started.elapsed(),
        }))
    }

    fn log_fresh_start(&self, why: &str) {
        log::info!("--resume-from-checkpoint auto: {why}; starting a fresh run");
        self.log_initial_weights();
    }

    /// Says that a run that starts fresh takes its parameters from `--model-name-or-path`.
    fn log_initial_weights(&self) {
        if let Some(model) = &self.args.model_name_or_path {
            log::info!(
                "initial parameters: the weights of --model-name-or-path {} (optimizer state zero)",
                model.display()
            );
        }
    }

    /// After each step: hands the kept pre-step state to the writer, and decides whether this
    /// step saves.
    fn on_step(&mut self, trainer: &mut Trainer, previous: Option<TrainState>) -> Result<()> {
        let entered = Instant::now();
        if let Some(pending) = self.pending.take() {
            match previous {
                Some(state) => self.submit(pending, state, entered)?,
                // Not kept (cannot happen: keep_previous asked for it); save it with the rest.
                None => self.pending = Some(pending),
            }
        }
        let step = trainer.progress().global_step;
        let epoch = trainer.progress().cursor.epoch;
        let epoch_ended = epoch > self.last_epoch;
        self.last_epoch = epoch;
        let requested = trainer.take_save_request();
        if !self.saving() && !requested {
            return self.notify(trainer);
        }
        let stopping = self.stop.load(Ordering::SeqCst) || trainer.control().should_training_stop;
        if trainer.finished() || stopping {
            self.save_now(trainer)?;
            return self.notify(trainer);
        }
        let due = requested || self.save_due(trainer, epoch_ended);
        if due && !self.args.async_save {
            // Written right here from the live buffers; nothing to keep for later.
            self.last_save_at = Instant::now();
            self.save_now(trainer)?;
            return self.notify(trainer);
        }
        if due {
            if self.args.save_on_busy == SaveOnBusy::Skip && self.writer.is_busy() {
                self.skipped_busy.push(step);
                log::info!(
                    "skipping the save of step {step}: checkpoint-{} is still being written \
                     (--save-on-busy skip)",
                    self.writer.in_flight_step().unwrap_or_default()
                );
                return self.notify(trainer);
            }
            let snapshot_started = Instant::now();
            let trainer_state = self.trainer_state(trainer, step);
            let retention = self.retention(trainer, step);
            self.pending = Some(PendingSave {
                step,
                requested_at: snapshot_started,
                prepare_time: snapshot_started.elapsed(),
                trainer_state,
                retention,
            });
            self.last_save_at = Instant::now();
        }
        self.notify(trainer)
    }

    /// Tells the trainer's callbacks about every checkpoint committed since the last call.
    fn notify(&mut self, trainer: &mut Trainer) -> Result<()> {
        for report in &self.reports[self.notified..] {
            trainer.notify_saved(&report.saved.path);
        }
        self.notified = self.reports.len();
        Ok(())
    }

    /// Whether this run saves at all (a strategy, or only by time).
    fn saving(&self) -> bool {
        self.args.save_strategy != SaveStrategy::No || self.args.save_interval_minutes.is_some()
    }

    fn save_due(&self, trainer: &Trainer, epoch_ended: bool) -> bool {
        let progress = trainer.progress();
        let step = progress.global_step;
        let by_strategy = match self.args.save_strategy {
            SaveStrategy::No => false,
            SaveStrategy::Steps => step.is_multiple_of(self.args.save_steps.max(1)),
            SaveStrategy::Epoch => epoch_ended,
            SaveStrategy::Best => progress.best_global_step == Some(step),
        };
        let by_time = self.args.save_interval_minutes.is_some_and(|minutes| {
            self.last_save_at.elapsed() >= Duration::from_secs_f64(minutes * 60.0)
        });
        (by_strategy || by_time) && self.last_saved_step != Some(step)
    }

    /// After the loop: the final save (unless `--save-strategy no` or this step is saved
    /// already), then waits until every save is durable. Errors of background saves surface here.
    pub fn finish(&mut self, trainer: &mut Trainer) -> Result<()> {
        if self.saving() {
            self.save_now(trainer)?;
        }
        let report = self.writer.wait()?;
        self.reports.extend(report);
        self.notify(trainer)
    }

    /// Saves the live state now as `checkpoint-<step>/` (unless that step is saved already) and
    /// waits until it is durable: [`Trainer::save_state`].
    pub(super) fn save_once(&mut self, trainer: &mut Trainer) -> Result<PathBuf> {
        self.save_now(trainer)?;
        let report = self.writer.wait()?;
        self.reports.extend(report);
        self.notify(trainer)?;
        Ok(self.checkpoint_path(trainer.progress().global_step))
    }

    /// Saves the live state now, in this thread (borrowing the buffers), unless it is saved.
    fn save_now(&mut self, trainer: &mut Trainer) -> Result<()> {
        let requested_at = Instant::now();
        let step = trainer.progress().global_step;
        self.pending = None;
        if self.last_saved_step == Some(step) {
            return Ok(());
        }
        let trainer_state = self.trainer_state(trainer, step);
        let retention = self.retention(trainer, step);
        let state = trainer.state()?;
        let (model, optimizer) = StateSource::split(state, self.n_params);
        let mut job = self.job(step, model, optimizer, trainer_state, retention);
        job.requested_at = requested_at;
        job.prepare_time = requested_at.elapsed();
        let reports = self.writer.save_blocking(job)?;
        self.record_saved(step, reports);
        Ok(())
    }

    fn submit(&mut self, pending: PendingSave, state: TrainState, entered: Instant) -> Result<()> {
        let (model, optimizer) = StateSource::split(Arc::new(state), self.n_params);
        let step = pending.step;
        let mut job = self.job(
            step,
            model,
            optimizer,
            pending.trainer_state,
            pending.retention,
        );
        job.requested_at = pending.requested_at;
        // The snapshot at the save point plus the hand-over now; `save` adds its own wait.
        job.prepare_time = pending.prepare_time + entered.elapsed();
        let reports = self.writer.save(job)?;
        self.record_saved(step, reports);
        Ok(())
    }

    fn job<S: TensorSource>(
        &self,
        step: u64,
        model: S,
        optimizer: S,
        trainer_state: TrainerState,
        retention: RetentionPolicy,
    ) -> SaveJob<S> {
        SaveJob {
            step,
            model,
            optimizer: (!self.args.save_only_model).then_some(optimizer),
            trainer_state,
            training_args: self.identity.args_json.clone(),
            config: self.identity.model_json.clone(),
            retention,
            prepare_time: Duration::ZERO,
            requested_at: Instant::now(),
        }
    }

    fn record_saved(&mut self, step: u64, reports: Vec<SaveReport>) {
        self.last_saved_step = Some(step);
        self.saved_steps.push(step);
        self.reports.extend(reports);
    }

    fn checkpoint_path(&self, step: u64) -> PathBuf {
        self.args.output_dir.join(checkpoint_dir_name(step))
    }

    /// The best step if it has (or is getting) a checkpoint.
    fn best_saved(&self, trainer: &Trainer, saving: u64) -> Option<u64> {
        let best = trainer.progress().best_global_step?;
        (best == saving || self.saved_steps.contains(&best)).then_some(best)
    }

    fn retention(&self, trainer: &Trainer, saving: u64) -> RetentionPolicy {
        RetentionPolicy {
            save_total_limit: self.args.save_total_limit,
            best_step: self.best_saved(trainer, saving),
            resumed_from_step: self.resumed_from_step,
        }
    }

    /// `trainer_state.json` for a checkpoint of `step` (the progress right after that step).
    fn trainer_state(&self, trainer: &Trainer, step: u64) -> TrainerState {
        let best = self
            .best_saved(trainer, step)
            .map(|best| self.checkpoint_path(best).display().to_string());
        trainer_state_of(&self.args, &self.identity, trainer.progress(), step, best)
    }

    /// `--load-best-model-at-end`: loads the best checkpoint's parameters into `trainer`.
    pub fn load_best(&mut self, trainer: &mut Trainer) -> Result<Option<LoadedBest>> {
        if !self.args.load_best_model_at_end {
            return Ok(None);
        }
        let progress = trainer.progress();
        let (Some(step), Some(metric)) = (progress.best_global_step, progress.best_metric) else {
            return Ok(None);
        };
        let path = self.checkpoint_path(step);
        let checkpoint = open_checkpoint(&path, Verify::Structure)?;
        checkpoint.verify_documents()?;
        check_architecture(&checkpoint, trainer.model())?;
        // The whole saved state of that step; the run's progress (log history) stays.
        trainer.restore_checkpoint(&checkpoint, true)?;
        Ok(Some(LoadedBest { path, step, metric }))
    }
}

impl StepHook for Checkpointing {
    /// The step after a save point runs with its input state borrowed, so that state stays
    /// valid on the device for the background writer.
    fn keep_previous(&mut self, _next_step: u64) -> bool {
        self.pending.is_some()
    }

    fn after_step(&mut self, trainer: &mut Trainer, previous: Option<TrainState>) -> Result<()> {
        self.on_step(trainer, previous)
    }
}

/// Removes staging directories a crashed run left in `output_dir` (discovery ignores them anyway).
pub(super) fn remove_unfinished(output_dir: &Path) -> Result<()> {
    for path in cleanup_stale(output_dir)? {
        log::info!("removed unfinished checkpoint {}", path.display());
    }
    Ok(())
}

/// Fails now, not at the first save hours into the run, when one checkpoint of a state with
/// these tensors cannot fit in `output_dir`.
pub(super) fn ensure_room_for(output_dir: &Path, descs: &[TensorSpec]) -> Result<()> {
    let needed = descs
        .iter()
        .map(|d| d.byte_len().map_or(u64::MAX, |n| n as u64))
        .fold(0u64, u64::saturating_add);
    let available = free_space(output_dir)?;
    if needed > available {
        return Err(Error::InsufficientSpace {
            path: output_dir.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}

/// Refuses (as invalid, so auto-resume skips it) a checkpoint that records no architecture
/// fingerprint: the trainer never writes one, and without it nothing holds the tensors to a model.
pub(super) fn require_fingerprint(checkpoint: &Checkpoint) -> Result<()> {
    if checkpoint
        .trainer_state
        .xlatrain
        .architecture_fingerprint
        .is_empty()
    {
        return Err(Error::CheckpointInvalid {
            path: checkpoint.path.clone(),
            reason: "trainer_state.json records no xlatrain.architecture_fingerprint, so it is \
                     not a checkpoint of a training run"
                .into(),
        });
    }
    Ok(())
}

/// `"4 devices (data=1,fsdp=4,tensor=1)"`, or `"1 device"`.
pub(super) fn describe_mesh(trainer: &Trainer) -> String {
    match trainer.num_devices() {
        1 => "1 device".into(),
        n => format!("{n} devices ({})", trainer.mesh()),
    }
}

/// What every checkpoint of a run records about the run besides its state: the model config,
/// the training arguments, the architecture fingerprint, the platform and the versions.
pub(crate) struct RunIdentity {
    pub(crate) model_json: Value,
    pub(crate) args_json: Value,
    pub(crate) fingerprint: String,
    platform: Value,
    versions: BTreeMap<String, String>,
}

impl RunIdentity {
    pub(crate) fn new(args: &TrainingArgs, model: &ModelConfig, client: &Client) -> Result<Self> {
        let platform = json!({
            "name": client.platform_name(),
            "version": client.platform_version(),
            "devices": client.device_count(),
            "plugin": client.plugin().path().display().to_string(),
        });
        let mut versions = BTreeMap::from([
            (
                "xlatrain".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("pjrt_platform".to_string(), client.platform_version()),
        ]);
        for (key, value) in client.plugin_attributes() {
            if key.contains("version") {
                versions.insert(format!("pjrt.{key}"), value);
            }
        }
        let args_json: Value =
            serde_json::from_str(&args.to_json()).unwrap_or_else(|_| Value::Object(Map::new()));
        let model_json = match model {
            // HF's own config.json, so the checkpoint is a model directory `from_pretrained` reads
            ModelConfig::Hf(c) => crate::hf::checkpoint::config_json(c),
            _ => serde_json::to_value(model).unwrap_or(Value::Null),
        };
        Ok(RunIdentity {
            model_json,
            args_json,
            fingerprint: model.architecture()?.fingerprint(),
            platform,
            versions,
        })
    }
}

/// `trainer_state.json` for a checkpoint of `step`, from the host progress right after it.
pub(crate) fn trainer_state_of(
    args: &TrainingArgs,
    identity: &RunIdentity,
    progress: &TrainerProgress,
    step: u64,
    best_model_checkpoint: Option<String>,
) -> TrainerState {
    let mut state = TrainerState::at_step(step);
    state.epoch = progress.epoch;
    state.max_steps = progress.max_steps;
    state.logging_steps = args.logging_steps;
    state.eval_steps = args.eval_interval();
    state.save_steps = args.save_steps;
    state.train_batch_size = args.per_device_train_batch_size as u64;
    state.num_train_epochs = args.num_train_epochs.map_or(0, |e| e.ceil() as u64);
    state.num_input_tokens_seen = progress.num_input_tokens_seen;
    state.log_history = progress
        .log_history
        .iter()
        .filter_map(|e| e.as_object().cloned())
        .collect();
    state.best_metric = progress.best_metric;
    state.best_global_step = progress.best_global_step;
    state.best_model_checkpoint = best_model_checkpoint;
    super::precision::record(&mut state, args.mixed_precision);
    state.xlatrain = ResumeState {
        format_version: FORMAT_VERSION,
        prng_keys: json!({
            RNG_KEY: {
                "tensor": format!("{RNG_KEY} in optimizer.safetensors"),
                "algorithm": "THREE_FRY",
                "seed": args.seed,
            }
        }),
        data_cursor: serde_json::to_value(&progress.cursor).unwrap_or(Value::Null),
        architecture_fingerprint: identity.fingerprint.clone(),
        platform: identity.platform.clone(),
        versions: identity.versions.clone(),
    };
    state
}

/// What [`train_with_checkpoints`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    pub summary: TrainSummary,
    pub resumed: Option<Resumed>,
    pub best: Option<LoadedBest>,
    /// Steps of the checkpoints this run saved, in order.
    pub saved_steps: Vec<u64>,
    /// What each save of this run did and cost.
    pub reports: Vec<SaveReport>,
}

/// A whole run with checkpointing: resume (per the args), train with saves at the cadence (and
/// before a requested stop), final save, wait until every save is durable, then
/// `--load-best-model-at-end`.
pub fn train_with_checkpoints(
    trainer: &mut Trainer,
    checkpointing: &mut Checkpointing,
) -> Result<RunOutcome> {
    let resumed = checkpointing.resume(trainer)?;
    let first_saved = checkpointing.saved_steps.len();
    let first_report = checkpointing.reports.len();
    let summary = match trainer.run_loop(checkpointing) {
        Ok(summary) => summary,
        Err(e) => {
            // The save in flight still completes (or is reported); the failed state is not saved.
            if let Err(save) = checkpointing.writer.wait() {
                log::error!("{save}");
            }
            return Err(e);
        }
    };
    checkpointing.finish(trainer)?;
    let best = checkpointing.load_best(trainer)?;
    Ok(RunOutcome {
        summary,
        resumed,
        best,
        saved_steps: checkpointing.saved_steps[first_saved..].to_vec(),
        reports: checkpointing.reports[first_report..].to_vec(),
    })
}
