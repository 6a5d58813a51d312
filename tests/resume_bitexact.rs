//! Resume is bit-exact on the real CPU plugin: N uninterrupted steps, and k steps, a save, a resume
//! and N-k more steps, give bit-identical parameters, optimizer state, PRNG key and per-step
//! losses, for the MLP and a small GPT with dropout (so the PRNG key matters), with async saves
//! on. Saving does not perturb training; retention never deletes the best checkpoint; the best
//! model is loaded at the end.

mod train_common;

use std::path::Path;

use serde_json::Value;
use train_common::{args, trainer_of};
use xlatrain::checkpoint::{list_checkpoints, open_checkpoint, Verify};
use xlatrain::train::{train_with_checkpoints, Checkpointing, RunOutcome, Trainer};

const SMALL_GPT: [&str; 8] = [
    "model=\"gpt\"",
    "d_model=32",
    "n_layers=2",
    "n_heads=2",
    "d_ff=64",
    "seq_len=16",
    "per_device_train_batch_size=4",
    "dropout=0.1",
];

fn run(pairs: &[String]) -> (Trainer, Checkpointing, RunOutcome) {
    let pairs: Vec<&str> = pairs.iter().map(String::as_str).collect();
    let mut trainer = trainer_of(args(&pairs));
    let mut checkpointing = Checkpointing::new(&trainer, trainer.stop_flag()).unwrap();
    let outcome = train_with_checkpoints(&mut trainer, &mut checkpointing).unwrap();
    (trainer, checkpointing, outcome)
}

fn with(base: &[&str], more: &[String]) -> Vec<String> {
    base.iter()
        .map(|s| s.to_string())
        .chain(more.iter().cloned())
        .collect()
}

fn dir_arg(dir: &Path) -> String {
    format!("output_dir={:?}", dir.display().to_string())
}

/// `(step, loss)` of every training log entry.
fn losses(trainer: &Trainer) -> Vec<(u64, f64)> {
    trainer
        .progress()
        .log_history
        .iter()
        .filter_map(|e| Some((e.get("step")?.as_u64()?, e.get("loss")?.as_f64()?)))
        .collect()
}

fn assert_resume_is_bit_exact(base: &[&str], total: u64, k: u64) {
    let root = tempfile::tempdir().unwrap();
    let steps = [format!("max_steps={total}"), "logging_steps=1".to_string()];

    // The reference: N steps, no checkpoint at all.
    let plain = with(
        base,
        &[
            steps[0].clone(),
            steps[1].clone(),
            dir_arg(&root.path().join("plain")),
            "save_strategy=\"no\"".into(),
        ],
    );
    let (reference, _, _) = run(&plain);
    let reference_state = reference.state().unwrap().to_host().unwrap();
    let reference_losses = losses(&reference);
    assert_eq!(reference_losses.len() as u64, total);

    // The same run saving every k steps in the background: training is not perturbed.
    let saving_dir = root.path().join("saving");
    let saving = with(
        base,
        &[
            steps[0].clone(),
            steps[1].clone(),
            dir_arg(&saving_dir),
            format!("save_steps={k}"),
            "async_save=true".into(),
        ],
    );
    let (saver, checkpointing, outcome) = run(&saving);
    assert_eq!(saver.state().unwrap().to_host().unwrap(), reference_state);
    assert_eq!(losses(&saver), reference_losses);
    assert!(outcome.saved_steps.contains(&k) && outcome.saved_steps.contains(&total));
    assert!(checkpointing.reports().iter().all(|r| r.tensor_bytes > 0));

    // Resume from the step-k checkpoint in another output directory and run to N.
    let resumed_dir = root.path().join("resumed");
    let resuming = with(
        base,
        &[
            steps[0].clone(),
            steps[1].clone(),
            dir_arg(&resumed_dir),
            format!("save_steps={k}"),
            format!(
                "resume_from_checkpoint={:?}",
                saving_dir
                    .join(format!("checkpoint-{k}"))
                    .display()
                    .to_string()
            ),
        ],
    );
    let (resumed, _, outcome) = run(&resuming);
    let info = outcome.resumed.expect("resumed");
    assert_eq!(info.step, k);
    assert!(!info.model_only);
    let state = resumed.state().unwrap();
    for ((desc, got), want) in state
        .descriptors()
        .iter()
        .zip(state.to_host().unwrap())
        .zip(&reference_state)
    {
        assert!(got == *want, "tensor {} differs after resume", desc.name);
    }
    assert_eq!(
        losses(&resumed),
        reference_losses,
        "the loss curve continues bit for bit (history restored, then steps k+1..N)"
    );

    // The final checkpoints of both runs hold the same bytes.
    let a = open_checkpoint(
        &saving_dir.join(format!("checkpoint-{total}")),
        Verify::Full,
    )
    .unwrap();
    let b = open_checkpoint(
        &resumed_dir.join(format!("checkpoint-{total}")),
        Verify::Full,
    )
    .unwrap();
    for (set_a, set_b) in [
        (&a.model, &b.model),
        (a.optimizer.as_ref().unwrap(), b.optimizer.as_ref().unwrap()),
    ] {
        assert_eq!(set_a.len(), set_b.len());
        for (x, y) in set_a.iter().zip(set_b.iter()) {
            assert_eq!(x.0, y.0);
            assert!(x.1 == y.1, "{} differs", x.0.name);
        }
    }
    assert_eq!(
        b.trainer_state.xlatrain.data_cursor,
        a.trainer_state.xlatrain.data_cursor
    );
}

#[test]
fn mlp_resume_is_bit_exact() {
    assert_resume_is_bit_exact(&["model=\"mlp\"", "layers=[64,32,10]"], 12, 5);
}

#[test]
fn data_parallel_mlp_resume_is_bit_exact() {
    // Two replicas: the checkpoint holds device 0's copy, restore replicates it.
    assert_resume_is_bit_exact(
        &["model=\"mlp\"", "layers=[64,32,10]", "num_devices=2"],
        8,
        3,
    );
}

#[test]
fn small_gpt_with_dropout_resume_is_bit_exact() {
    assert_resume_is_bit_exact(&SMALL_GPT, 9, 4);
}

#[test]
fn retention_keeps_the_best_and_the_best_model_is_loaded_at_the_end() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    // On this small MLP the eval loss rises after the first evaluation, so the best checkpoint is
    // the oldest one, which a limit of 1 would otherwise delete (asserted below, not assumed).
    let pairs = with(
        &["model=\"mlp\"", "layers=[64,32,10]"],
        &[
            "max_steps=20".into(),
            dir_arg(&dir),
            "eval_strategy=\"steps\"".into(),
            "eval_steps=5".into(),
            "save_steps=5".into(),
            "save_total_limit=1".into(),
            "load_best_model_at_end=true".into(),
        ],
    );
    let (trainer, _, outcome) = run(&pairs);
    assert_eq!(
        trainer.progress().best_global_step,
        Some(5),
        "precondition: the best is not the newest"
    );
    let steps: Vec<u64> = list_checkpoints(&dir, Verify::Full)
        .unwrap()
        .iter()
        .filter(|e| e.is_valid())
        .map(|e| e.step)
        .collect();
    assert_eq!(steps, [5, 20], "the newest plus the best");
    let best = outcome.best.expect("best model loaded");
    assert_eq!(best.step, 5);
    let checkpoint = open_checkpoint(&dir.join("checkpoint-5"), Verify::Full).unwrap();
    let state = trainer.state().unwrap();
    for (i, (spec, bytes)) in checkpoint.model.iter().enumerate() {
        let mut live = vec![0u8; bytes.len()];
        state.buffers()[i].copy_to_host(&mut live).unwrap();
        assert!(live == bytes, "{} is the best checkpoint's", spec.name);
    }
    let final_state = open_checkpoint(&dir.join("checkpoint-20"), Verify::Full).unwrap();
    assert_eq!(
        final_state.trainer_state.best_model_checkpoint.as_deref(),
        Some(dir.join("checkpoint-5").display().to_string().as_str())
    );
    assert_eq!(final_state.trainer_state.best_global_step, Some(5));
    let evals = final_state
        .trainer_state
        .log_history
        .iter()
        .filter(|e| e.contains_key("eval_loss"))
        .count();
    assert_eq!(evals, 4);
    assert!(matches!(
        final_state.training_args.get("save_total_limit"),
        Some(Value::Number(_))
    ));
}

#[test]
fn save_strategy_best_saves_only_improvements_and_the_final_step() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("run");
    let pairs = with(
        &["model=\"mlp\"", "layers=[64,32,10]"],
        &[
            "max_steps=20".into(),
            dir_arg(&dir),
            "eval_strategy=\"steps\"".into(),
            "eval_steps=5".into(),
            "save_strategy=\"best\"".into(),
        ],
    );
    let (trainer, _, outcome) = run(&pairs);
    let evals: Vec<(u64, f64)> = trainer
        .progress()
        .log_history
        .iter()
        .filter_map(|e| Some((e.get("step")?.as_u64()?, e.get("eval_loss")?.as_f64()?)))
        .collect();
    assert_eq!(evals.len(), 4);
    // The steps whose eval loss beat every earlier one, then the final save.
    let mut improved = Vec::new();
    let mut best = f64::INFINITY;
    for (step, loss) in evals {
        if loss < best {
            best = loss;
            improved.push(step);
        }
    }
    let mut expected = improved.clone();
    if expected.last() != Some(&20) {
        expected.push(20);
    }
    assert_eq!(outcome.saved_steps, expected);
    assert!(
        improved.len() < 4,
        "precondition: not every evaluation improves"
    );
}
