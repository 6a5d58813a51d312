//! The state API the checkpoint integration builds on: named descriptors in a fixed order, a
//! borrowed (non-donating) step that leaves the previous state valid, a host round trip that
//! continues bit-exactly, and the stop flag.

mod train_common;

use std::sync::atomic::Ordering;

use train_common::{step_losses, trainer};
use xlatrain::train::TrainState;

const SMALL_GPT: [&str; 9] = [
    "model=\"gpt\"",
    "d_model=32",
    "n_layers=1",
    "n_heads=2",
    "d_ff=64",
    "seq_len=16",
    "per_device_train_batch_size=4",
    "max_steps=6",
    "dropout=0.1",
];

#[test]
fn descriptors_list_params_then_adam_slots_then_step_and_key() {
    let t = trainer(&["model=\"mlp\"", "layers=[8,4,2]"]);
    let names: Vec<&str> = t
        .state()
        .unwrap()
        .descriptors()
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "fc0.w",
            "fc0.b",
            "fc1.w",
            "fc1.b",
            "exp_avg.fc0.w",
            "exp_avg.fc0.b",
            "exp_avg.fc1.w",
            "exp_avg.fc1.b",
            "exp_avg_sq.fc0.w",
            "exp_avg_sq.fc0.b",
            "exp_avg_sq.fc1.w",
            "exp_avg_sq.fc1.b",
            "step",
            "rng_key"
        ]
    );
}

#[test]
fn a_borrowed_step_keeps_the_previous_state_valid_and_matches_the_donated_step() {
    let mut donated = trainer(&SMALL_GPT);
    let mut borrowed = trainer(&SMALL_GPT);
    donated.step().unwrap();
    let before = borrowed.state().unwrap().to_host().unwrap();
    let previous = borrowed.step_keeping_previous().unwrap();
    assert_eq!(
        previous.to_host().unwrap(),
        before,
        "old buffers must stay intact"
    );
    assert_eq!(previous.step().unwrap(), 0);
    assert_eq!(borrowed.state().unwrap().step().unwrap(), 1);
    assert_eq!(
        borrowed.state().unwrap().to_host().unwrap(),
        donated.state().unwrap().to_host().unwrap()
    );
}

#[test]
fn state_and_progress_restored_from_host_bytes_continue_bit_exactly() {
    let mut straight = trainer(&SMALL_GPT);
    let all = step_losses(&mut straight, 6);

    let mut first = trainer(&SMALL_GPT);
    let head = step_losses(&mut first, 3);
    let saved = first.state().unwrap().to_host().unwrap();
    let descs = first.state().unwrap().descriptors().to_vec();
    let progress: xlatrain::train::TrainerProgress =
        serde_json::from_str(&serde_json::to_string(first.progress()).unwrap()).unwrap();
    drop(first);

    let mut resumed = trainer(&SMALL_GPT);
    let mut k = 0;
    let state = TrainState::from_host(resumed.client(), descs, |_| {
        k += 1;
        Ok(&saved[k - 1][..])
    })
    .unwrap();
    resumed.restore(state, progress).unwrap();
    let tail = step_losses(&mut resumed, 3);
    assert_eq!([head, tail].concat(), all);
}

#[test]
fn the_stop_flag_ends_training_after_the_current_step() {
    let dir = tempfile::tempdir().unwrap();
    let out = format!("output_dir=\"{}\"", dir.path().display());
    let mut t = trainer(&["model=\"mlp\"", "layers=[784,16,10]", "max_steps=50", &out]);
    let summary = t
        .run_loop(&mut |t: &mut xlatrain::train::Trainer| {
            if t.progress().global_step == 7 {
                t.stop_flag().store(true, Ordering::Relaxed);
            }
            Ok(())
        })
        .unwrap();
    assert!(summary.stopped_early);
    assert_eq!(summary.steps, 7);
    assert_eq!(t.state().unwrap().step().unwrap(), 7);
}

/// Keeps the pre-step state of every third step and checks it is the state one step back.
struct KeepEveryThird {
    kept: Vec<u64>,
}

impl xlatrain::train::StepHook for KeepEveryThird {
    fn keep_previous(&mut self, next_step: u64) -> bool {
        next_step.is_multiple_of(3)
    }

    fn after_step(
        &mut self,
        trainer: &mut xlatrain::train::Trainer,
        previous: Option<TrainState>,
    ) -> xlatrain::Result<()> {
        let now = trainer.state()?.step()?;
        if let Some(previous) = previous {
            assert_eq!(previous.step()?, now - 1);
            self.kept.push(now);
        }
        Ok(())
    }
}

#[test]
fn a_step_hook_can_ask_for_the_previous_state_of_chosen_steps() {
    let dir = tempfile::tempdir().unwrap();
    let out = format!("output_dir=\"{}\"", dir.path().display());
    let mut t = trainer(&["model=\"mlp\"", "layers=[784,16,10]", "max_steps=7", &out]);
    let mut hook = KeepEveryThird { kept: Vec::new() };
    t.run_loop(&mut hook).unwrap();
    assert_eq!(hook.kept, [3, 6]);
}
