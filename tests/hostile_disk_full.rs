//! A full disk never costs a checkpoint. On a small tmpfs (8 MiB, mounted by the test: it needs
//! root or CAP_SYS_ADMIN and FAILS without them, it does not skip), one checkpoint is saved, the
//! file system is filled, and a second save is attempted in the two ways space can run out:
//!
//! - already full when the save starts: the free-space preflight refuses it with
//!   `Error::InsufficientSpace { needed, available }` before anything is created;
//! - filled while the save is writing (the filler is created from inside
//!   `TensorSource::copy_tensor`, after the preflight passed): the streaming writer's next write
//!   fails with `Error::Io` carrying ENOSPC and naming the shard it was writing (tmpfs refuses
//!   `O_DIRECT`, so this also runs the writer's buffered fallback).
//!
//! Either way the staging directory is gone, discovery sees only the first checkpoint, which
//! still verifies bit for bit, and a save after space is freed succeeds. A failed save is an
//! ordinary runtime error: `Error::exit_code()` is 1, the code the `xlatrain` binary exits with.

mod checkpoint_support;

use std::cell::Cell;
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use checkpoint_support::{host_tensors, Fixture};
use xlatrain::checkpoint::*;
use xlatrain::Error;

/// Serializes the tests of this file. They fork `mount`/`umount`, and a child forked while
/// another test holds its filler file open keeps that file's blocks allocated until it execs,
/// which under load made a freed file system look full (seen once in CI).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A tmpfs of `size` mounted on a fresh directory; unmounted on drop, also when a test fails.
/// Holds [`ONE_AT_A_TIME`] from before the mount until after the unmount.
struct TmpfsMount {
    mount_point: tempfile::TempDir,
    _serial: MutexGuard<'static, ()>,
}

impl TmpfsMount {
    fn new(size: &str) -> Self {
        let serial = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let mount_point = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(mount_point.path())
            .output()
            .unwrap_or_else(|e| panic!("this test needs the `mount` command: {e}"));
        assert!(
            output.status.success(),
            "this test needs root (or CAP_SYS_ADMIN) to mount a {size} tmpfs on {}: \
             `mount -t tmpfs` failed with {}: {}",
            mount_point.path().display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        TmpfsMount {
            mount_point,
            _serial: serial,
        }
    }

    fn path(&self) -> &Path {
        self.mount_point.path()
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(self.path())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // Still busy (a test failed with a file open): detach it so it goes away when closed.
            let _ = Command::new("umount").arg("-l").arg(self.path()).status();
        }
    }
}

/// Model and optimizer of 1 MiB each, split into 512 KiB shards: ~2 MiB per checkpoint.
struct State {
    model: HostTensors,
    optimizer: HostTensors,
    fixture: Fixture,
}

impl State {
    fn new(seed: u64) -> Self {
        let spec = |name: &str| TensorSpec::new(name, DType::F32, [128, 1024]);
        State {
            model: host_tensors(&[spec("w1"), spec("w2")], seed),
            optimizer: host_tensors(&[spec("m.w1"), spec("m.w2")], seed + 100),
            fixture: Fixture::new(seed),
        }
    }

    fn contents<'a>(&'a self, step: u64, model: &'a dyn TensorSource) -> CheckpointContents<'a> {
        CheckpointContents {
            step,
            model,
            optimizer: Some(&self.optimizer),
            trainer_state: &self.fixture.state,
            training_args: &self.fixture.args,
            config: &self.fixture.config,
        }
    }
}

fn options() -> SaveOptions {
    SaveOptions {
        max_shard_size: 512 * 1024,
        ..SaveOptions::default()
    }
}

/// Writes zeros into `path` until the file system refuses more; returns the bytes written.
fn fill_file_system(path: &Path) -> u64 {
    let mut file = File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    // Small writes can still fit in the last partly used page; take those bytes too.
    while let Ok(n @ 1..) = file.write(&[0u8; 1]) {
        written += n as u64;
    }
    written
}

/// Entries of `dir` whose names start with a dot (staging and retired directories).
fn hidden_entries(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect()
}

/// The first checkpoint is the only one, is what resume picks, and holds the saved bytes.
fn assert_only_first_checkpoint_is_valid(
    output_dir: &Path,
    first: &SavedCheckpoint,
    state: &State,
) {
    let listed = list_checkpoints(output_dir, Verify::Full).unwrap();
    let steps: Vec<(u64, bool)> = listed.iter().map(|e| (e.step, e.is_valid())).collect();
    assert_eq!(steps, [(1, true)], "{listed:?}");
    let newest = newest_valid(output_dir, Verify::Full).unwrap();
    assert_eq!(newest.checkpoint.path, first.path);
    assert!(newest.skipped.is_empty(), "{:?}", newest.skipped);
    verify(&first.path).unwrap();
    let checkpoint = open_checkpoint(&first.path, Verify::Full).unwrap();
    for (spec, bytes) in checkpoint.model.iter() {
        assert_eq!(Some(bytes), state.model.get(&spec.name), "{}", spec.name);
    }
    let optimizer = checkpoint.optimizer.as_ref().unwrap();
    for (spec, bytes) in optimizer.iter() {
        assert_eq!(
            Some(bytes),
            state.optimizer.get(&spec.name),
            "{}",
            spec.name
        );
    }
    assert!(hidden_entries(output_dir).is_empty(), "staging left behind");
    assert!(cleanup_stale(output_dir).unwrap().is_empty());
}

#[test]
fn a_save_that_does_not_fit_is_refused_before_writing_anything() {
    let tmpfs = TmpfsMount::new("8m");
    let output_dir = tmpfs.path().join("run");
    let state = State::new(1);
    let first = save_checkpoint(&output_dir, &state.contents(1, &state.model), &options()).unwrap();

    let filler = tmpfs.path().join("filler");
    fill_file_system(&filler);
    // Leave 1 MiB: room for files, not for a ~2 MiB checkpoint.
    fs::OpenOptions::new()
        .write(true)
        .open(&filler)
        .unwrap()
        .set_len(fs::metadata(&filler).unwrap().len() - (1 << 20))
        .unwrap();

    let err = save_checkpoint(&output_dir, &state.contents(2, &state.model), &options())
        .expect_err("a save larger than the free space must fail");
    match &err {
        Error::InsufficientSpace {
            path,
            needed,
            available,
        } => {
            assert_eq!(path, &output_dir);
            assert!(needed > available, "{needed} <= {available}");
            assert!(*needed >= 2 << 20, "needed {needed} covers the tensors");
        }
        e => panic!("expected InsufficientSpace, got {e:?}"),
    }
    assert!(err.to_string().contains("not enough free space"), "{err}");
    assert_eq!(err.exit_code(), 1);
    assert!(
        hidden_entries(&output_dir).is_empty(),
        "nothing was created"
    );
    assert_only_first_checkpoint_is_valid(&output_dir, &first, &state);

    fs::remove_file(&filler).unwrap();
    let second =
        save_checkpoint(&output_dir, &state.contents(2, &state.model), &options()).unwrap();
    assert_eq!(
        newest_valid(&output_dir, Verify::Full)
            .unwrap()
            .checkpoint
            .path,
        second.path
    );
}

/// Hands out `tensors`, but fills the file system on the copy of tensor `fill_at`: the space the
/// preflight saw vanishes while the save is writing.
struct FillsDiskDuringCopy<'a> {
    tensors: &'a HostTensors,
    fill_at: usize,
    filler: PathBuf,
    filled: Cell<bool>,
}

impl TensorSource for FillsDiskDuringCopy<'_> {
    fn specs(&self) -> &[TensorSpec] {
        self.tensors.specs()
    }

    fn copy_tensor(&self, index: usize, dst: &mut [u8]) -> xlatrain::Result<()> {
        if index == self.fill_at && !self.filled.replace(true) {
            fill_file_system(&self.filler);
        }
        self.tensors.copy_tensor(index, dst)
    }
}

/// Saves checkpoint 1, then checkpoint 2 with the disk filled during the copy of tensor
/// `fill_at` of the model (or of the optimizer, which is written last); checks that the save
/// failed with ENOSPC and left nothing behind, frees the space and saves checkpoint 2 for real.
/// Returns the error's file and context.
fn space_vanishes_during_save(in_optimizer: bool, fill_at: usize) -> (PathBuf, String) {
    let tmpfs = TmpfsMount::new("8m");
    let output_dir = tmpfs.path().join("run");
    let state = State::new(2);
    let first = save_checkpoint(&output_dir, &state.contents(1, &state.model), &options()).unwrap();

    let filler = tmpfs.path().join("filler");
    let source = FillsDiskDuringCopy {
        tensors: if in_optimizer {
            &state.optimizer
        } else {
            &state.model
        },
        fill_at,
        filler: filler.clone(),
        filled: Cell::new(false),
    };
    let mut contents = state.contents(2, &state.model);
    if in_optimizer {
        contents.optimizer = Some(&source);
    } else {
        contents.model = &source;
    }
    assert!(
        required_bytes(&contents, &options()).unwrap() < free_space(&output_dir).unwrap(),
        "the state must pass the preflight for this test to mean anything"
    );
    let err = save_checkpoint(&output_dir, &contents, &options())
        .expect_err("a save whose space vanished must fail");
    assert!(source.filled.get(), "the disk was filled during the save");
    let (path, context) = match &err {
        Error::Io {
            path,
            source,
            context,
        } => {
            assert_eq!(source.kind(), ErrorKind::StorageFull, "{err}");
            (path.clone(), context.clone())
        }
        e => panic!("expected an Io error with ENOSPC, got {e:?}"),
    };
    assert!(
        path.starts_with(&output_dir),
        "the error names the file being written: {}",
        path.display()
    );
    assert_eq!(err.exit_code(), 1);
    assert!(
        !output_dir.join(checkpoint_dir_name(2)).exists(),
        "no checkpoint-2 may appear"
    );
    assert_only_first_checkpoint_is_valid(&output_dir, &first, &state);

    fs::remove_file(&filler).unwrap();
    let second =
        save_checkpoint(&output_dir, &state.contents(2, &state.model), &options()).unwrap();
    assert_eq!(
        newest_valid(&output_dir, Verify::Full)
            .unwrap()
            .checkpoint
            .path,
        second.path
    );
    assert_eq!(
        list_checkpoints(&output_dir, Verify::Full).unwrap().len(),
        2
    );
    (path, context)
}

#[test]
fn space_vanishing_during_the_first_shard_fails_that_shard() {
    // The disk fills while the first tensor of the first model shard is copied into the window:
    // writing that window is the first write to fail.
    let (path, context) = space_vanishes_during_save(false, 0);
    assert!(
        path.ends_with("model-00001-of-00002.safetensors"),
        "{}",
        path.display()
    );
    assert!(context.contains("cannot write shard"), "{context}");
}

#[test]
fn space_vanishing_during_the_last_shard_fails_a_shard_write() {
    // The disk fills during the optimizer, the last tensor set: a shard write fails (the model
    // shards' windows may still be queued when it happens), before any JSON document.
    let (path, context) = space_vanishes_during_save(true, 1);
    assert!(
        path.extension().is_some_and(|e| e == "safetensors"),
        "{context}: {}",
        path.display()
    );
    assert!(context.contains("cannot write shard"), "{context}");
}
