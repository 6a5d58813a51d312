//! Measures checkpoint save (fsync'd) and load+verify throughput for host-memory states.
//!
//! Usage: cargo run --release --example checkpoint_bench -- [DIR] [SIZES_MB...]
//! Defaults: a temporary directory under target/, sizes 100 and 1000 MB. Load is measured twice:
//! cold (the files' pages dropped from the page cache with posix_fadvise(DONTNEED) after the
//! fsync'd save) and warm (pages cached).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use serde_json::json;
use xlatrain::checkpoint::*;

const TENSOR_BYTES: usize = 16 << 20;

fn state(total_mb: usize) -> Result<(HostTensors, HostTensors)> {
    let total = total_mb * 1_000_000;
    let mut model = HostTensors::new();
    let mut optimizer = HostTensors::new();
    // Model gets a third, optimizer moments two thirds, like Adam.
    let mut written = 0usize;
    let mut i = 0;
    while written < total {
        let len = TENSOR_BYTES.min(total - written) / 4 * 4;
        if len == 0 {
            break;
        }
        let bytes: Vec<u8> = (0..len)
            .map(|j| (j as u32).wrapping_mul(2654435761).to_le_bytes()[3] ^ i as u8)
            .collect();
        let spec = TensorSpec::new(format!("t{i}"), DType::F32, [len / 4]);
        if i % 3 == 0 {
            model.push(spec, bytes)?;
        } else {
            optimizer.push(spec, bytes)?;
        }
        written += len;
        i += 1;
    }
    Ok((model, optimizer))
}

fn drop_cache(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let file = File::open(entry?.path())?;
        rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::DontNeed)?;
    }
    Ok(())
}

fn load_and_touch(path: &Path) -> Result<u64> {
    let ckpt = open_checkpoint(path, Verify::Full)?;
    let mut sum = 0u64;
    for set in std::iter::once(&ckpt.model).chain(ckpt.optimizer.as_ref()) {
        for (_, bytes) in set.iter() {
            // One byte per page: what an upload that reads every page would fault in at least.
            sum += bytes.iter().step_by(4096).map(|&b| b as u64).sum::<u64>();
        }
    }
    Ok(sum)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/checkpoint-bench"));
    let sizes: Vec<usize> = if args.len() > 1 {
        args[1..]
            .iter()
            .map(|s| s.parse())
            .collect::<Result<_, _>>()?
    } else {
        vec![100, 1000]
    };
    std::fs::create_dir_all(&dir)?;
    let state_json = TrainerState::at_step(1);
    let args_json = json!({});
    let config = json!({"model_type": "bench"});
    for (run, mb) in sizes.into_iter().enumerate() {
        let (model, optimizer) = state(mb)?;
        let contents = CheckpointContents {
            step: run as u64 + 1,
            model: &model,
            optimizer: Some(&optimizer),
            trainer_state: &state_json,
            training_args: &args_json,
            config: &config,
        };
        let start = Instant::now();
        let saved = save_checkpoint(&dir, &contents, &SaveOptions::default())?;
        let save_s = start.elapsed().as_secs_f64();
        drop_cache(&saved.path)?;
        let start = Instant::now();
        let touched = load_and_touch(&saved.path)?;
        let cold_s = start.elapsed().as_secs_f64();
        let start = Instant::now();
        load_and_touch(&saved.path)?;
        let warm_s = start.elapsed().as_secs_f64();
        let gb = saved.bytes as f64 / 1e9;
        println!(
            "{mb} MB state ({} bytes on disk): save+fsync {save_s:.3} s = {:.2} GB/s | load+verify cold {cold_s:.3} s = {:.2} GB/s, warm {warm_s:.3} s = {:.2} GB/s (page sum {touched})",
            saved.bytes,
            gb / save_s,
            gb / cold_s,
            gb / warm_s
        );
        std::fs::remove_dir_all(&saved.path)?;
    }
    Ok(())
}
