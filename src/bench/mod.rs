//! `xlatrain bench`: the figures a user holds a trainer against, measured in one run on one
//! machine so they can be compared as ratios: the device's large-matmul FLOP/s (the practical
//! limit), the disk's own fsync'd write and cold read rates on the checkpoint directory, saving
//! and resuming device-resident states of given sizes through the real checkpoint path, and the
//! training-step speed of the reference models.
//!
//! Files: `stats.rs` (median, percentiles), `memory.rs` (peak RSS probes), `disk.rs` (raw disk
//! rates, page-cache dropping), `state.rs` (state sets, device upload, the device
//! [`crate::checkpoint::TensorSource`]), `checkpoint.rs` (one save + resume round), `matmul.rs`,
//! `train.rs`, `report.rs` (JSON report and table).

mod async_stall;
mod checkpoint;
mod disk;
mod matmul;
mod memory;
mod models;
mod report;
mod state;
mod stats;
mod train;

pub use async_stall::AsyncStallReport;
pub use checkpoint::{save_and_resume, RoundSample};
pub use disk::{drop_file_cache, drop_tree_cache, DiskSample, Pattern};
pub use matmul::{matmul_program, MatmulReport};
pub use memory::{measure_peak, MemoryPeak};
pub use models::{BenchModel, BenchRun};
pub use report::{render, BenchReport, CheckpointReport, DeviceReport, Machine, Rates, Ratios};
pub use state::{DeviceState, StateSet};
pub use stats::{gb_per_s, Summary};
pub use train::{
    measure as measure_training, reference_name, step_flops, ReferenceRun, TrainReport,
};

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::checkpoint::{window_memory, DEFAULT_WINDOW_BYTES};
use crate::config::ModelKind;
use crate::pjrt::Client;
use crate::{Error, Result};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Directory for the disk probe files and the checkpoints (created if missing; what the
    /// benchmark writes there is removed again).
    pub dir: PathBuf,
    /// `None` skips the matmul probe.
    pub matmul: Option<MatmulConfig>,
    /// State sizes for the checkpoint benchmark (empty: skipped).
    pub ckpt_sizes: Vec<StateSet>,
    /// Save/resume rounds (and disk probes) per state size.
    pub ckpt_runs: usize,
    /// Models whose train step is timed, each with its timed step count.
    pub training: Vec<(BenchModel, usize)>,
    /// Also run each training model through the trainer with async saves and report the stall.
    pub async_save: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct MatmulConfig {
    pub n: usize,
    pub warmup: usize,
    pub runs: usize,
}

/// Runs the device and checkpoint parts; `progress` receives one line per finished piece.
pub fn run(
    client: &Client,
    config: &BenchConfig,
    progress: &mut dyn FnMut(&str),
) -> Result<BenchReport> {
    let device_kind = client
        .devices()
        .first()
        .map(|d| d.kind.clone())
        .unwrap_or_default();
    let mut report = BenchReport {
        xlatrain_version: env!("CARGO_PKG_VERSION"),
        created_unix_s: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine: Machine::describe(),
        device: DeviceReport {
            plugin: client.plugin().path().display().to_string(),
            platform: client.platform_name(),
            platform_version: client.platform_version(),
            device_kind,
            addressable_devices: client.device_count(),
            matmul: None,
        },
        checkpoint_dir: config.dir.display().to_string(),
        cold_cache_method: "fsync + posix_fadvise(POSIX_FADV_DONTNEED) per file",
        checkpoints: Vec::new(),
        training: Vec::new(),
        load_average_at_end: [0.0; 3],
        async_save: Vec::new(),
        todo: Vec::new(),
    };
    if let Some(mm) = config.matmul {
        let measured = matmul::measure(client, mm.n, mm.warmup, mm.runs)?;
        progress(&format!(
            "matmul {n}^3 f32: {:.1} GFLOP/s",
            measured.flops_per_s / 1e9,
            n = mm.n
        ));
        report.device.matmul = Some(measured);
    }
    if !config.ckpt_sizes.is_empty() {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| Error::io("cannot create benchmark directory", &config.dir, e))?;
        let pattern = Pattern::new(0x5eed);
        for set in &config.ckpt_sizes {
            let measured = checkpoint_size(client, config, set, &pattern)?;
            progress(&format!(
                "checkpoint {}: save {:.3} s ({:.2}x disk write), resume {:.3} s ({:.2}x cold read + upload)",
                set.label,
                measured.save_s.median,
                measured.ratios.save_over_disk_direct_write,
                measured.resume_s.median,
                measured.ratios.resume_over_cold_read_plus_upload
            ));
            report.checkpoints.push(measured);
        }
    }
    let matmul_flops = report.device.matmul.as_ref().map(|m| m.flops_per_s);
    for &(model, steps) in &config.training {
        let measured = train::measure(client, model, steps, model.warmup_steps(), matmul_flops)?;
        progress(&format!(
            "train {}: median step {:.2} ms, {:.0} {}",
            measured.model,
            measured.step_s.median * 1e3,
            measured.throughput,
            measured.throughput_unit
        ));
        report.training.push(measured);
    }
    if config.async_save && !config.training.is_empty() {
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| Error::io("cannot create benchmark directory", &config.dir, e))?;
    }
    let stall_kinds = config.training.iter().filter_map(|(m, _)| m.kind());
    for kind in stall_kinds.filter(|_| config.async_save) {
        let (steps, every) = match kind {
            ModelKind::Mlp => (60, 10),
            ModelKind::Gpt => (24, 6),
        };
        let measured = async_stall::measure(client, kind, &config.dir, steps, every)?;
        progress(&format!(
            "async save {}: stall {:.2} ms median over {} saves ({:.2} steps)",
            measured.model,
            measured.stall_s.median * 1e3,
            measured.saves,
            measured.stall_over_step
        ));
        report.async_save.push(measured);
    }
    report.load_average_at_end = report::load_average();
    Ok(report)
}

/// Disk probes and save/resume rounds for one state size, interleaved run by run so that slow
/// drifts of the disk hit both alike.
fn checkpoint_size(
    client: &Client,
    config: &BenchConfig,
    set: &StateSet,
    pattern: &Pattern,
) -> Result<CheckpointReport> {
    let runs = config.ckpt_runs.max(1);
    let bytes = set.bytes();
    let state = DeviceState::upload(client, set, 0xc4ec_4b01)?;
    let mut disks = Vec::with_capacity(runs);
    let mut rounds = Vec::with_capacity(runs);
    for run in 0..runs {
        disks.push(disk::measure(&config.dir, bytes, pattern)?);
        rounds.push(save_and_resume(
            client,
            &state,
            &config.dir,
            run as u64 + 1,
        )?);
    }
    let summary = |values: Vec<f64>| {
        Summary::of(&values).ok_or_else(|| Error::BenchCheck {
            check: format!("checkpoint {}", set.label),
            reason: "a timing is not a number".into(),
        })
    };
    let disk_direct_write_s = summary(disks.iter().map(|d| d.direct_write_s).collect())?;
    let disk_buffered_write_s = summary(disks.iter().map(|d| d.buffered_write_s).collect())?;
    let disk_cold_read_s = summary(disks.iter().map(|d| d.cold_read_s).collect())?;
    let save_s = summary(rounds.iter().map(|r| r.save_s).collect())?;
    let resume_s = summary(rounds.iter().map(|r| r.resume_s).collect())?;
    let resume_open_s = summary(rounds.iter().map(|r| r.resume_open_s).collect())?;
    let worst = |pick: fn(&RoundSample) -> MemoryPeak| {
        rounds
            .iter()
            .map(pick)
            .fold(MemoryPeak::default(), |a, b| MemoryPeak {
                hwm_extra_bytes: match (a.hwm_extra_bytes, b.hwm_extra_bytes) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    (x, y) => x.or(y),
                },
                anon_extra_bytes: a.anon_extra_bytes.max(b.anon_extra_bytes),
                file_extra_bytes: a.file_extra_bytes.max(b.file_extra_bytes),
            })
    };
    let save_memory = worst(|r| r.save_memory);
    let resume_memory = worst(|r| r.resume_memory);
    let over_state = |extra: u64| extra as f64 / bytes.max(1) as f64;
    let best_write = disk_direct_write_s.median.min(disk_buffered_write_s.median);
    let ratios = Ratios {
        save_over_disk_direct_write: save_s.median / disk_direct_write_s.median,
        save_over_disk_buffered_write: save_s.median / disk_buffered_write_s.median,
        save_over_best_disk_write: save_s.median / best_write,
        resume_over_cold_read_plus_upload: resume_s.median
            / (disk_cold_read_s.median + state.upload_s),
        save_anon_memory_over_state: over_state(save_memory.anon_extra_bytes),
        save_hwm_over_state: over_state(save_memory.hwm_extra_bytes.unwrap_or(0)),
        resume_anon_memory_over_state: over_state(resume_memory.anon_extra_bytes),
        resume_hwm_over_state: over_state(resume_memory.hwm_extra_bytes.unwrap_or(0)),
        save_anon_memory_over_windows: save_memory.anon_extra_bytes as f64
            / window_memory(DEFAULT_WINDOW_BYTES) as f64,
    };
    let per_gb = |faults: u64| faults as f64 / (bytes.max(1) as f64 / 1e9);
    let rates = Rates {
        disk_direct_write: gb_per_s(bytes, disk_direct_write_s.median),
        disk_buffered_write: gb_per_s(bytes, disk_buffered_write_s.median),
        disk_cold_read: gb_per_s(bytes, disk_cold_read_s.median),
        upload: gb_per_s(bytes, state.upload_s),
        save: gb_per_s(bytes, save_s.median),
        resume: gb_per_s(bytes, resume_s.median),
    };
    Ok(CheckpointReport {
        label: set.label.clone(),
        tensors: set.tensors.len(),
        bytes,
        checkpoint_bytes: rounds.first().map_or(0, |r| r.checkpoint_bytes),
        runs,
        disk_direct: disks.iter().all(|d| d.direct),
        disk_direct_write_s,
        disk_buffered_write_s,
        disk_cold_read_s,
        upload_s: state.upload_s,
        save_s,
        resume_s,
        resume_open_s,
        save_direct_io: rounds.iter().all(|r| r.save_direct_io),
        save_window_bytes: window_memory(DEFAULT_WINDOW_BYTES),
        save_page_faults_per_gb: per_gb(
            rounds.iter().map(|r| r.save_page_faults).max().unwrap_or(0),
        ),
        resume_page_faults_per_gb: per_gb(
            rounds
                .iter()
                .map(|r| r.resume_page_faults)
                .max()
                .unwrap_or(0),
        ),
        resume_anon_beyond_state_bytes: resume_memory.anon_extra_bytes.saturating_sub(bytes),
        save_memory,
        resume_memory,
        rates_gb_per_s: rates,
        ratios,
    })
}
