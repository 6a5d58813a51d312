//! The JSON report of `xlatrain bench` and its short human table. Every comparison is a ratio
//! of two figures measured in the same run on the same machine (time ratios: ours / reference,
//! so 1.10 means 10% slower than the reference).

use serde::Serialize;

use super::async_stall::AsyncStallReport;
use super::matmul::MatmulReport;
use super::memory::MemoryPeak;
use super::stats::Summary;
use super::train::TrainReport;

/// Everything one `xlatrain bench` run measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub xlatrain_version: &'static str,
    pub created_unix_s: u64,
    pub machine: Machine,
    pub device: DeviceReport,
    /// Directory holding the disk probe files and the checkpoints.
    pub checkpoint_dir: String,
    /// How "cold" was made: the files' pages dropped from the guest page cache.
    pub cold_cache_method: &'static str,
    pub checkpoints: Vec<CheckpointReport>,
    pub training: Vec<TrainReport>,
    /// Async-save stall through the trainer, per model.
    pub async_save: Vec<AsyncStallReport>,
    /// `/proc/loadavg` when the run ended.
    pub load_average_at_end: [f64; 3],
    /// Measurements that are not taken yet, with the reason (never a made-up number).
    pub todo: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub memory_bytes: u64,
    pub kernel: String,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the run started: other work on the machine
    /// inflates every CPU-bound figure (disk-bound ones less).
    pub load_average_at_start: [f64; 3],
}

/// The 1, 5 and 15 minute load averages (zeros where unreadable).
pub fn load_average() -> [f64; 3] {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut out = [0.0; 3];
    for (slot, field) in out.iter_mut().zip(text.split_whitespace()) {
        *slot = field.parse().unwrap_or(0.0);
    }
    out
}

impl Machine {
    /// What `/proc` says about this machine (empty fields where unreadable).
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, name)| name.trim().to_string())
            .unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let memory_bytes = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024);
        Machine {
            cpu_model,
            logical_cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_bytes,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            load_average_at_start: load_average(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceReport {
    pub plugin: String,
    pub platform: String,
    pub platform_version: String,
    pub device_kind: String,
    pub addressable_devices: usize,
    pub matmul: Option<MatmulReport>,
}

/// Rates in GB/s (1e9 bytes per second) at the median times.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Rates {
    pub disk_direct_write: f64,
    pub disk_buffered_write: f64,
    pub disk_cold_read: f64,
    pub upload: f64,
    pub save: f64,
    pub resume: f64,
}

/// The goals' comparisons as ratios of medians.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Ratios {
    /// save / disk O_DIRECT write + fsync of the same bytes (goal: <= 1.10).
    pub save_over_disk_direct_write: f64,
    /// save / disk buffered write + fsync of the same bytes.
    pub save_over_disk_buffered_write: f64,
    /// save / the faster of the two disk writes.
    pub save_over_best_disk_write: f64,
    /// resume / (disk cold read + upload from memory) (goal: <= 1.10).
    pub resume_over_cold_read_plus_upload: f64,
    /// Peak anonymous memory added by a save, over the state size (goal: no second copy, ~0).
    pub save_anon_memory_over_state: f64,
    /// Peak `VmHWM` growth of a save (mapped file pages included), over the state size.
    pub save_hwm_over_state: f64,
    /// Peak anonymous memory added by a resume, over the state size (goal: <= 1: the resumed
    /// state itself, which lives in host memory on the CPU plugin).
    pub resume_anon_memory_over_state: f64,
    /// Peak `VmHWM` growth of a resume, over the state size (peers report this figure).
    pub resume_hwm_over_state: f64,
    /// Peak anonymous memory added by a save, over the streaming writer's windows (goal: <= 1).
    pub save_anon_memory_over_windows: f64,
}

/// One state size: the disk's own rates and the checkpoint's, from the same runs.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointReport {
    pub label: String,
    pub tensors: usize,
    /// Bytes of tensor data.
    pub bytes: u64,
    /// Bytes of all checkpoint files (headers and JSON included).
    pub checkpoint_bytes: u64,
    pub runs: usize,
    /// Whether the disk write probe could use O_DIRECT.
    pub disk_direct: bool,
    pub disk_direct_write_s: Summary,
    pub disk_buffered_write_s: Summary,
    pub disk_cold_read_s: Summary,
    /// Host-to-device copy of the whole state from memory (the first upload).
    pub upload_s: f64,
    /// Until the committed checkpoint is durable.
    pub save_s: Summary,
    /// Cold open with full verification plus upload of every tensor.
    pub resume_s: Summary,
    /// The open part of `resume_s` (structure, consistency, JSON checksums; the shard checksums
    /// are computed during the upload).
    pub resume_open_s: Summary,
    /// Whether every save wrote its shards with O_DIRECT (else buffered full pages).
    pub save_direct_io: bool,
    /// Bytes of the streaming writer's windows (the extra host memory a save may use).
    pub save_window_bytes: u64,
    /// Page faults per GB of tensor data saved (worst run; goal < 500).
    pub save_page_faults_per_gb: f64,
    /// Page faults per GB of tensor data resumed (worst run; mapped reads fault the file in).
    pub resume_page_faults_per_gb: f64,
    /// Peak anonymous memory of a resume beyond the resumed state itself (which the CPU plugin
    /// keeps in host memory), in bytes.
    pub resume_anon_beyond_state_bytes: u64,
    /// Worst over runs.
    pub save_memory: MemoryPeak,
    pub resume_memory: MemoryPeak,
    pub rates_gb_per_s: Rates,
    pub ratios: Ratios,
}

fn gb(bytes: u64) -> f64 {
    bytes as f64 / 1e9
}

fn secs(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else {
        format!("{:.1} ms", s * 1e3)
    }
}

/// The short table `xlatrain bench` prints.
pub fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    let m = &report.machine;
    out.push_str(&format!(
        "machine: {} x{} cpus, {:.1} GB RAM, Linux {}, load average {:.1} at start, {:.1} at end\n",
        m.cpu_model,
        m.logical_cpus,
        gb(m.memory_bytes),
        m.kernel,
        m.load_average_at_start[0],
        report.load_average_at_end[0]
    ));
    let d = &report.device;
    out.push_str(&format!(
        "device:  {} {} ({} x {})\n",
        d.platform, d.platform_version, d.addressable_devices, d.device_kind
    ));
    if let Some(mm) = &d.matmul {
        out.push_str(&format!(
            "matmul f32 {n}x{n}x{n}: {:.1} GFLOP/s median ({:.1} best), {} per run, compile {}\n",
            mm.flops_per_s / 1e9,
            mm.best_flops_per_s / 1e9,
            secs(mm.run_s.median),
            secs(mm.compile_s),
            n = mm.n
        ));
    }
    if !report.checkpoints.is_empty() {
        out.push_str(&format!(
            "\ncheckpoints in {} (median of runs; ratio = ours / disk)\n",
            report.checkpoint_dir
        ));
        out.push_str(
            "state      disk write direct|buffered  save (ratio)          cold read + upload   resume (ratio)        extra mem save anon|hwm  resume anon|hwm  faults/GB save|resume\n",
        );
        for c in &report.checkpoints {
            let r = &c.ratios;
            out.push_str(&format!(
                "{:<10} {:>9} | {:<9}          {:>9} ({:.2}x|{:.2}x)  {:>9} + {:<9} {:>9} ({:.2}x)  {:>5.2}x | {:<5.2}x        {:.2}x | {:.2}x     {:.0} | {:.0}\n",
                format!("{} {:.2}GB", c.label, gb(c.bytes)),
                secs(c.disk_direct_write_s.median),
                secs(c.disk_buffered_write_s.median),
                secs(c.save_s.median),
                r.save_over_disk_direct_write,
                r.save_over_disk_buffered_write,
                secs(c.disk_cold_read_s.median),
                secs(c.upload_s),
                secs(c.resume_s.median),
                r.resume_over_cold_read_plus_upload,
                r.save_anon_memory_over_state,
                r.save_hwm_over_state,
                r.resume_anon_memory_over_state,
                r.resume_hwm_over_state,
                c.save_page_faults_per_gb,
                c.resume_page_faults_per_gb,
            ));
        }
        for c in &report.checkpoints {
            out.push_str(&format!(
                "{:<10} save: {} writes, windows {:.0} MiB, extra anonymous {:.2}x the windows; resume: {:.1} MiB anonymous beyond the state\n",
                c.label,
                if c.save_direct_io { "O_DIRECT" } else { "buffered" },
                c.save_window_bytes as f64 / (1u64 << 20) as f64,
                c.ratios.save_anon_memory_over_windows,
                c.resume_anon_beyond_state_bytes as f64 / (1u64 << 20) as f64,
            ));
        }
    }
    if !report.training.is_empty() {
        out.push_str("\ntraining (median step, p10-p90)\n");
        for t in &report.training {
            out.push_str(&format!(
                "{:<20} compile {:>8}  step {:>9} ({}-{})  {:>10.0} {}  {:.1} GFLOP/s{}\n",
                t.model,
                secs(t.compile_s),
                secs(t.step_s.median),
                secs(t.step_s.p10),
                secs(t.step_s.p90),
                t.throughput,
                t.throughput_unit,
                t.achieved_flops_per_s / 1e9,
                t.fraction_of_matmul
                    .map(|f| format!(" = {:.0}% of matmul", f * 100.0))
                    .unwrap_or_default(),
            ));
        }
    }
    if !report.async_save.is_empty() {
        out.push_str(
            "\nasync save through the trainer (stall per save p50 / p99, --save-on-busy policy)\n",
        );
        for a in &report.async_save {
            out.push_str(&format!(
                "{:<20} state {:.1} MB  stall p50 {} / p99 {} ({:.3} / {:.3} of a {} step)  durable after {}  {} saves every {} steps{}  busy: {}\n",
                a.model,
                a.state_bytes as f64 / 1e6,
                secs(a.stall_s.median),
                secs(a.stall_s.p99),
                a.stall_over_step,
                a.stall_p99_over_step,
                secs(a.median_step_s),
                secs(a.to_durable_s.median),
                a.saves,
                a.save_steps,
                a.first_save_steps
                    .map(|f| format!(" (lengthened from {f} to follow the time to durable)"))
                    .unwrap_or_default(),
                a.busy_policy,
            ));
        }
    }
    for todo in &report.todo {
        out.push_str(&format!("TODO: {todo}\n"));
    }
    out
}
