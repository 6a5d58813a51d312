//! Crash injection: a real `xlatrain train` process that commits a checkpoint after every step
//! (asynchronous saves, sharded files, `--save-total-limit 2`, so a shard copy, fsync, manifest
//! write, rename or retention delete is nearly always under way) is killed with SIGKILL at seeded
//! random instants, resumed with `--resume-from-checkpoint`, killed again, and so on in the same
//! output directory. After every kill each `checkpoint-<step>` left behind passes full
//! verification, no committed save is lost, and the next run resumes from exactly the newest
//! committed checkpoint; a chain run to its end has the final parameters, optimizer state and
//! logged losses of an uninterrupted run, bit for bit.
//!
//! `XLATRAIN_CRASH_KILLS=N` sets the number of kills that hit a live process (default 30;
//! `scripts/crash_kill.sh` runs 500), `XLATRAIN_CRASH_SEED=S` the seed of the kill delays
//! (printed; where a kill lands also depends on the machine's timing).

mod crash_support;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crash_support::{assert_matches_straight, Rng, Run};
use xlatrain::checkpoint::{
    list_checkpoints, newest_valid, open_checkpoint, Verify, MANIFEST_FILE, RETIRED_PREFIX,
    STAGING_PREFIX,
};

const MAX_STEPS: u64 = 60;
const DEFAULT_KILLS: usize = 30;
const DEFAULT_SEED: u64 = 0x5eed_c4a5;
const SIGKILL: i32 = 9;

/// Where a kill found the output directory, judged from what the dead process left there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Landed {
    /// A staging directory without a manifest: shards being copied, fsync'd, JSON written.
    StagingFiles,
    /// A staging directory with its manifest: written, not yet renamed into place.
    StagedNotRenamed,
    /// A retired checkpoint: retention was deleting it.
    RetentionDelete,
    /// Neither: between saves, during start-up or resume, or between a rename and its fsync.
    Quiet,
}

fn landed_in(dir: &Path) -> Landed {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Landed::Quiet;
    };
    let mut landed = Landed::Quiet;
    for entry in entries.map_while(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let here = if name.starts_with(STAGING_PREFIX) {
            if entry.path().join(MANIFEST_FILE).exists() {
                Landed::StagedNotRenamed
            } else {
                Landed::StagingFiles
            }
        } else if name.starts_with(RETIRED_PREFIX) {
            Landed::RetentionDelete
        } else {
            continue;
        };
        landed = landed.min(here);
    }
    landed
}

#[derive(Debug, Default)]
struct Tally {
    kills_tried: usize,
    /// The process was alive and died of SIGKILL.
    kills_landed: usize,
    /// The run had already finished when its kill came.
    kills_after_finish: usize,
    landed: BTreeMap<String, usize>,
    /// Runs that resumed and named the checkpoint they picked.
    resumes_picked: usize,
    /// Runs killed before they said what they resumed from.
    resumes_cut_short: usize,
    /// Runs that started from scratch because no checkpoint had been committed yet.
    fresh_starts: usize,
    /// `checkpoint-<step>` directories found invalid after a kill, or chosen while invalid.
    invalid_found: usize,
    invalid_chosen: usize,
    chains_finished: usize,
    logged_steps_compared: usize,
    /// Logged steps that appear more than once (re-run after resuming from an earlier step).
    logged_steps_replayed: usize,
}

impl Tally {
    fn chain_finished(&mut self, dir: &Path, straight: &Path) {
        let compared = assert_matches_straight(dir, straight, MAX_STEPS);
        self.logged_steps_compared += compared.logged_steps;
        self.logged_steps_replayed += compared.replayed;
        self.chains_finished += 1;
    }
}

/// After a kill: every committed checkpoint verifies, none that the dead run reported saved is
/// missing, and the one a resume must pick is returned.
fn check_after_kill(dir: &Path, reported_saved: Option<u64>, tally: &mut Tally) -> Option<PathBuf> {
    if !dir.exists() {
        return None;
    }
    for entry in list_checkpoints(dir, Verify::Full).unwrap() {
        if let Some(reason) = &entry.invalid_reason {
            tally.invalid_found += 1;
            panic!(
                "a kill left an invalid checkpoint {}: {reason}",
                entry.path.display()
            );
        }
    }
    let newest = newest_valid(dir, Verify::Full).ok().map(|n| n.checkpoint);
    if let Some(saved) = reported_saved {
        let newest_step = newest.as_ref().map(|n| n.step);
        assert!(
            newest_step >= Some(saved),
            "checkpoint-{saved} was reported saved but the newest valid is {newest_step:?}"
        );
    }
    newest.map(|n| n.path)
}

#[test]
fn sigkill_at_random_instants_never_leaves_a_bad_checkpoint_and_resume_is_bit_exact() {
    let kills: usize = std::env::var("XLATRAIN_CRASH_KILLS")
        .ok()
        .map(|v| v.parse().expect("XLATRAIN_CRASH_KILLS is a number"))
        .unwrap_or(DEFAULT_KILLS);
    let seed: u64 = std::env::var("XLATRAIN_CRASH_SEED")
        .ok()
        .map(|v| v.parse().expect("XLATRAIN_CRASH_SEED is a number"))
        .unwrap_or(DEFAULT_SEED);
    let started = Instant::now();
    let root = tempfile::tempdir().unwrap();

    let straight = root.path().join("straight");
    let mut reference = Run::start(&straight, MAX_STEPS, false);
    let status = reference.finish();
    assert!(status.success(), "{}", reference.text());

    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    let mut chain = 0;
    let mut dir = root.path().join("chain-0");
    // What the next run must resume from (None: nothing committed yet, start from scratch).
    let mut expected: Option<PathBuf> = None;
    // Counted are kills that hit a live process; one that comes after the run finished is a miss.
    while tally.kills_landed < kills {
        assert!(
            tally.kills_tried < 3 * kills + 10,
            "runs keep finishing before their kill: {tally:?}"
        );
        let resume = expected.is_some();
        let mut run = Run::start(&dir, MAX_STEPS, resume);
        // Some kills from the start (landing in start-up, resume or the first saves), most at
        // 0-150 ms after the first committed save, when saves follow each other back to back
        // (10-100 ms each, idle to loaded machine): a few saves, so a chain takes several kills.
        if rng.below(10) < 3 {
            std::thread::sleep(Duration::from_millis(rng.below(900)));
        } else {
            run.wait_for_line("saved ");
            std::thread::sleep(Duration::from_millis(rng.below(150)));
        }
        tally.kills_tried += 1;
        let finished_first = run.child.try_wait().unwrap();
        let status = match finished_first {
            Some(status) => status,
            None => {
                run.child.kill().unwrap();
                run.child.wait().unwrap()
            }
        };
        let killed = status.signal() == Some(SIGKILL);
        let landed = killed.then(|| landed_in(&dir));
        run.finish();
        let text = run.text();
        assert!(
            killed || status.success(),
            "run {} failed: {status:?}\n{text}",
            tally.kills_tried
        );
        assert!(
            !text.contains("is invalid") && !text.contains("panicked"),
            "{text}"
        );
        match run.resumed_from() {
            Some((path, step)) => {
                let wanted = expected.as_ref().unwrap();
                if Path::new(&path) != wanted {
                    tally.invalid_chosen += 1;
                    panic!(
                        "resumed from {path} (step {step}), newest committed is {}\n{text}",
                        wanted.display()
                    );
                }
                open_checkpoint(Path::new(&path), Verify::Full)
                    .unwrap_or_else(|e| panic!("resumed from an invalid checkpoint: {e}"));
                tally.resumes_picked += 1;
            }
            None if resume => tally.resumes_cut_short += 1,
            None => tally.fresh_starts += 1,
        }
        if let Some(landed) = landed {
            tally.kills_landed += 1;
            *tally.landed.entry(format!("{landed:?}")).or_default() += 1;
            expected = check_after_kill(&dir, run.saved_steps().last().copied(), &mut tally);
        } else {
            // It finished before the kill: a whole chain, to compare with the reference.
            tally.kills_after_finish += 1;
            tally.chain_finished(&dir, &straight);
            chain += 1;
            dir = root.path().join(format!("chain-{chain}"));
            expected = None;
        }
    }
    // Run the last chain to its end.
    let mut run = Run::start(&dir, MAX_STEPS, expected.is_some());
    let status = run.finish();
    assert!(status.success(), "{}", run.text());
    if run.resumed_from().is_some() {
        tally.resumes_picked += 1;
    }
    tally.chain_finished(&dir, &straight);

    println!(
        "crash_kill: seed {seed}: {} kills tried, {} landed, {} after the run had finished; \
         where they landed: {:?}; {} resumes picked the newest committed checkpoint, {} runs \
         killed before resuming, {} fresh starts; invalid checkpoints found {} / chosen {}; {} \
         chains bit-identical to the uninterrupted run ({} logged steps compared, {} replayed); \
         {:.1} s",
        tally.kills_tried,
        tally.kills_landed,
        tally.kills_after_finish,
        tally.landed,
        tally.resumes_picked,
        tally.resumes_cut_short,
        tally.fresh_starts,
        tally.invalid_found,
        tally.invalid_chosen,
        tally.chains_finished,
        tally.logged_steps_compared,
        tally.logged_steps_replayed,
        started.elapsed().as_secs_f64(),
    );
    assert_eq!(tally.kills_landed, kills);
    assert_eq!(tally.invalid_found + tally.invalid_chosen, 0);
    let mid_save = tally.landed.iter().filter(|(k, _)| *k != "Quiet");
    assert!(
        mid_save.map(|(_, n)| n).sum::<usize>() > 0 || kills < 10,
        "no kill landed while a checkpoint was being written: {tally:?}"
    );
    assert!(
        tally.resumes_picked * 3 >= tally.kills_landed,
        "too few resumes got far enough to pick a checkpoint: {tally:?}"
    );
}
