//! Preemption while checkpoints are being written: SIGTERM reaches a run that commits a checkpoint
//! after every step (an asynchronous save is nearly always in flight) at seeded instants. Each
//! time the run must finish its step, let the save in flight complete, save the step it stopped
//! at, and exit 0 within a few seconds; a resume from that checkpoint continues, and the chain
//! ends with the parameters, optimizer state and logged losses of an uninterrupted run, bit for
//! bit.
//!
//! tests/resume_cli.rs already sends one SIGTERM between saves (every 50 steps) and compares the
//! resumed run's final tensors; this adds saves in flight, repeated preemption, the exit time
//! bound and the logged losses.

mod crash_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crash_support::{assert_matches_straight, Rng, Run};
use xlatrain::checkpoint::{newest_valid, verify, Verify};

/// Long enough that three stops, each up to 150 ms after a save line, cannot reach the end even
/// on an idle machine (a step with its save takes a few ms there; 30 steps once ran out).
const MAX_STEPS: u64 = 300;
const PREEMPTIONS: usize = 3;
/// One step here takes milliseconds and one save a fraction of a second even on a loaded
/// machine; the exit may also wait for the save in flight and write the loss plot.
const EXIT_BOUND: Duration = Duration::from_secs(5);

fn sigterm(pid: u32) {
    let sent = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

/// The step of the `stopped by SIGTERM after step <n>` line.
fn stopped_at(run: &Run) -> Option<u64> {
    run.log.iter().find_map(|l| {
        let rest = l.split("stopped by SIGTERM after step ").nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    })
}

#[test]
fn sigterm_during_saves_exits_0_quickly_with_a_checkpoint_and_resumes_bit_exactly() {
    let root = tempfile::tempdir().unwrap();
    let straight = root.path().join("straight");
    let mut reference = Run::start(&straight, MAX_STEPS, false);
    assert!(reference.finish().success(), "{}", reference.text());

    let dir = root.path().join("preempted");
    let mut rng = Rng(0x7e4d);
    let mut exit_times = Vec::new();
    let mut last_stop = 0;
    for preemption in 0..PREEMPTIONS {
        let mut run = Run::start(&dir, MAX_STEPS, preemption > 0);
        run.wait_for_line("saved ");
        std::thread::sleep(Duration::from_millis(rng.below(150)));
        let signalled = Instant::now();
        sigterm(run.child.id());
        let status = run.finish();
        let took = signalled.elapsed();
        let text = run.text();
        assert_eq!(status.code(), Some(0), "exit after SIGTERM:\n{text}");
        assert!(
            took < EXIT_BOUND,
            "exit took {took:?} after SIGTERM (bound {EXIT_BOUND:?}):\n{text}"
        );
        exit_times.push(took);
        let step = stopped_at(&run).unwrap_or_else(|| panic!("no stop message:\n{text}"));
        assert!(
            step > last_stop && step < MAX_STEPS,
            "stopped at {step}:\n{text}"
        );
        if preemption > 0 {
            let (from, _) = run.resumed_from().expect("resumed");
            assert_eq!(
                Path::new(&from),
                dir.join(format!("checkpoint-{last_stop}")),
                "{text}"
            );
        }
        // The stop step is saved, committed, verifies, and is what a resume picks.
        let checkpoint = dir.join(format!("checkpoint-{step}"));
        assert_eq!(run.saved_steps().last(), Some(&step), "{text}");
        verify(&checkpoint).unwrap();
        assert_eq!(
            newest_valid(&dir, Verify::Full).unwrap().checkpoint.path,
            checkpoint
        );
        last_stop = step;
    }
    let mut run = Run::start(&dir, MAX_STEPS, true);
    assert!(run.finish().success(), "{}", run.text());
    let compared = assert_matches_straight(&dir, &straight, MAX_STEPS);
    // Each stop saved the step it stopped at, so no step ran twice.
    assert_eq!(compared.replayed, 0);
    println!(
        "crash_preempt: {PREEMPTIONS} SIGTERMs during saves, exits after {exit_times:?}, \
         {} logged steps compared ({} replayed)",
        compared.logged_steps, compared.replayed
    );
}
