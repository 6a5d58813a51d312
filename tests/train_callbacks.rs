//! The library API of the one trainer, as HF's `Trainer` users know it: `train(resume)`,
//! `save_model`, `save_state`, and callbacks whose control asks the loop to save, evaluate or
//! stop — on one device and on a sharded mesh; `Trainer::new(model, args)` trains the model
//! given and refuses arguments that name another.

mod train_common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use train_common::{args, step_losses, trainer};
use xlatrain::checkpoint::{open_checkpoint, Verify};
use xlatrain::config::ResumeFrom;
use xlatrain::models::{MlpConfig, ModelConfig};
use xlatrain::train::{
    EvalMetrics, Model, Trainer, TrainerCallback, TrainerControl, TrainerProgress,
};
use xlatrain::Error;

#[derive(Default)]
struct Seen {
    step_ends: Vec<u64>,
    logged_steps: Vec<u64>,
    evaluated: Vec<u64>,
    saved: Vec<PathBuf>,
}

/// Records every hook; asks for a save at step 3, an evaluation at step 4 and a stop at step 6.
struct Steering(Rc<RefCell<Seen>>);

impl TrainerCallback for Steering {
    fn on_step_end(&mut self, progress: &TrainerProgress, control: &mut TrainerControl) {
        let step = progress.global_step;
        self.0.borrow_mut().step_ends.push(step);
        control.should_save |= step == 3;
        control.should_evaluate |= step == 4;
        control.should_training_stop |= step == 6;
    }

    fn on_log(
        &mut self,
        progress: &TrainerProgress,
        logs: &serde_json::Value,
        _: &mut TrainerControl,
    ) {
        if logs.get("loss").is_some() {
            self.0.borrow_mut().logged_steps.push(progress.global_step);
        }
    }

    fn on_evaluate(&mut self, progress: &TrainerProgress, _: &EvalMetrics, _: &mut TrainerControl) {
        self.0.borrow_mut().evaluated.push(progress.global_step);
    }

    fn on_save(&mut self, _: &TrainerProgress, checkpoint: &Path, _: &mut TrainerControl) {
        // the checkpoint is complete when this runs: it verifies
        open_checkpoint(checkpoint, Verify::Full).unwrap();
        self.0.borrow_mut().saved.push(checkpoint.to_path_buf());
    }
}

fn settings(out: &Path, mesh: &str) -> Vec<String> {
    vec![
        "model=\"mlp\"".into(),
        "layers=[64,32,10]".into(),
        "per_device_train_batch_size=4".into(),
        format!("mesh=\"{mesh}\""),
        "max_steps=10".into(),
        "logging_steps=2".into(),
        // evaluations only on request: the cadence is past the run
        "eval_strategy=\"steps\"".into(),
        "eval_steps=100".into(),
        "save_strategy=\"no\"".into(),
        format!("output_dir=\"{}\"", out.display()),
    ]
}

#[test]
fn callbacks_see_every_step_log_eval_and_save_and_their_control_saves_evaluates_and_stops() {
    for mesh in ["data=1", "fsdp=2,data=2"] {
        let dir = tempfile::tempdir().unwrap();
        let pairs = settings(dir.path(), mesh);
        let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
        let mut t = trainer(&pairs);
        let seen = Rc::new(RefCell::new(Seen::default()));
        t.add_callback(Steering(seen.clone()));
        let outcome = t.train(None).unwrap();
        assert!(outcome.summary.stopped_early, "{mesh}");
        assert_eq!(outcome.summary.steps, 6, "{mesh}");
        let seen = seen.borrow();
        assert_eq!(seen.step_ends, [1, 2, 3, 4, 5, 6], "{mesh}");
        assert_eq!(seen.logged_steps, [2, 4, 6], "{mesh}");
        assert_eq!(seen.evaluated, [4], "{mesh}");
        // the requested save, and with save_strategy "no" nothing else
        assert_eq!(seen.saved, [dir.path().join("checkpoint-3")], "{mesh}");
        assert_eq!(outcome.saved_steps, [3], "{mesh}");
    }
}

#[test]
fn save_model_writes_a_model_directory_and_save_state_a_checkpoint_that_train_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = settings(dir.path(), "fsdp=4");
    let mut pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    pairs.push("max_steps=6");
    let mut straight = trainer(&pairs);
    straight.train(None).unwrap();
    let want = straight.state().unwrap().read_f32("fc0.w").unwrap();

    let other = tempfile::tempdir().unwrap();
    let pairs = settings(other.path(), "fsdp=4");
    let mut pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    pairs.push("max_steps=6");
    let mut first = trainer(&pairs);
    for _ in 0..3 {
        first.step().unwrap();
    }
    let state = first.save_state().unwrap();
    assert_eq!(state, other.path().join("checkpoint-3"));
    assert!(open_checkpoint(&state, Verify::Full)
        .unwrap()
        .optimizer
        .is_some());
    let model = first.save_model(Some(&other.path().join("model"))).unwrap();
    let bytes = std::fs::read(model.join("model.safetensors")).unwrap();
    let parsed = xlatrain::checkpoint::parse_shard(&model, &bytes).unwrap();
    let names: Vec<String> = parsed.tensors.iter().map(|(s, _)| s.name.clone()).collect();
    assert_eq!(names, ["fc0.w", "fc0.b", "fc1.w", "fc1.b"]);
    assert!(model.join("config.json").is_file());
    drop(first);

    // a fresh trainer resumes the saved state and ends where the straight run did
    let mut resumed = trainer(&pairs);
    resumed
        .train(Some(ResumeFrom::Path(state.clone())))
        .unwrap();
    assert_eq!(resumed.state().unwrap().read_f32("fc0.w").unwrap(), want);
}

#[test]
fn a_resuming_trainer_builds_no_state_of_its_own_before_the_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = settings(dir.path(), "data=2");
    let mut pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    pairs.push("max_steps=4");
    let mut first = trainer(&pairs);
    first.step().unwrap();
    let checkpoint = first.save_state().unwrap();
    drop(first);
    let resume = format!("resume_from_checkpoint=\"{}\"", checkpoint.display());
    pairs.push(&resume);
    let mut resumed = trainer(&pairs);
    // nothing on the devices until the checkpoint is read
    assert!(resumed.state().is_err());
    let outcome = resumed.train(None).unwrap();
    assert_eq!(outcome.resumed.unwrap().step, 1);
    assert_eq!(resumed.state().unwrap().step().unwrap(), 4);
}

/// A 64-32-10 MLP with models.json's init.
fn small_mlp_config() -> ModelConfig {
    ModelConfig::Mlp(MlpConfig {
        layers: vec![64, 32, 10],
        ..MlpConfig::default()
    })
}

fn small_mlp() -> Model {
    Model::from_config(small_mlp_config())
}

#[test]
fn the_model_given_is_the_model_trained_and_arguments_naming_another_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let named = settings(dir.path(), "data=2");
    let no_sizes: Vec<String> = named
        .iter()
        .filter(|p| !p.starts_with("layers="))
        .cloned()
        .collect();
    // the model's sizes win over models.json's when the arguments set none
    let mut given = Trainer::new(small_mlp(), args(&no_sizes)).unwrap();
    assert_eq!(given.model(), &small_mlp_config());
    assert_eq!(given.args.layers, Some(vec![64, 32, 10]));
    let named: Vec<&str> = named.iter().map(String::as_str).collect();
    let mut from_args = trainer(&named);
    assert_eq!(step_losses(&mut given, 4), step_losses(&mut from_args, 4));

    let refused = |model: Model, pairs: &[String]| match Trainer::new(model, args(pairs)) {
        Err(e @ Error::ModelMismatch { .. }) => e.to_string(),
        Err(e) => panic!("refused with another error: {e}"),
        Ok(_) => panic!("a model the arguments do not name was accepted"),
    };
    let kind = refused(Model::gpt(), &no_sizes);
    assert!(
        kind.contains("gpt") && kind.contains("model = mlp"),
        "{kind}"
    );
    let mut other_sizes = no_sizes.clone();
    other_sizes.push("layers=[64,16,10]".into());
    let sizes = refused(small_mlp(), &other_sizes);
    assert!(
        sizes.contains("[64, 32, 10]") && sizes.contains("[64, 16, 10]"),
        "{sizes}"
    );
}
