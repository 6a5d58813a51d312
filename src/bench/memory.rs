//! Resident-memory probes for "how much memory did this phase add": the kernel's high-water mark
//! (`VmHWM`, reset by writing `5` to `/proc/self/clear_refs`, as the peer benchmark does) plus a
//! sampling thread that tracks anonymous and file-backed resident memory separately.
//!
//! The split matters for memory-mapped checkpoints: pages of a mapped shard count towards `VmHWM`
//! as file-backed memory (page cache the kernel may drop at any time), while a second in-memory
//! copy of the state would show up as anonymous memory.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Memory fields of `/proc/self/status`, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStatus {
    pub rss: u64,
    pub hwm: u64,
    pub anon: u64,
    pub file: u64,
}

/// Reads `/proc/self/status`; `None` where it is unavailable (not Linux) or unreadable.
pub fn status() -> Option<MemStatus> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let mut status = MemStatus::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let kib = value
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok();
        let slot = match key {
            "VmRSS" => &mut status.rss,
            "VmHWM" => &mut status.hwm,
            "RssAnon" => &mut status.anon,
            "RssFile" => &mut status.file,
            _ => continue,
        };
        *slot = kib?.saturating_mul(1024);
    }
    Some(status)
}

/// Page faults (minor + major) this process took so far, from `/proc/self/stat`; `None` where
/// it is unavailable.
pub fn page_faults() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces, so split after its ')'): state is
    // field 3, minflt field 10, majflt field 12.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let minor: u64 = fields.get(7)?.parse().ok()?;
    let major: u64 = fields.get(9)?.parse().ok()?;
    Some(minor + major)
}

/// Resets `VmHWM` to the current RSS; false where the kernel does not allow it.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

/// What one phase added to resident memory, in bytes above the level before it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryPeak {
    /// `VmHWM` after minus `VmRSS` before (counts mapped file pages); `None` if the high-water
    /// mark could not be reset.
    pub hwm_extra_bytes: Option<u64>,
    /// Highest sampled anonymous RSS minus the level before (a second copy of the state shows
    /// up here).
    pub anon_extra_bytes: u64,
    /// Highest sampled file-backed RSS minus the level before (mapped shard pages).
    pub file_extra_bytes: u64,
}

/// Runs `work` while sampling memory every few milliseconds; returns its result and the peak
/// memory it added. Sampling misses spikes shorter than the interval; `VmHWM` does not.
pub fn measure_peak<R>(work: impl FnOnce() -> R) -> (R, MemoryPeak) {
    let reset = reset_peak();
    let before = status().unwrap_or_default();
    let done = AtomicBool::new(false);
    let (result, (peak_anon, peak_file)) = std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            let (mut anon, mut file) = (before.anon, before.file);
            loop {
                if let Some(now) = status() {
                    anon = anon.max(now.anon);
                    file = file.max(now.file);
                }
                if done.load(Ordering::Acquire) {
                    break (anon, file);
                }
                std::thread::sleep(Duration::from_millis(3));
            }
        });
        let result = work();
        done.store(true, Ordering::Release);
        let peaks = sampler.join().unwrap_or((before.anon, before.file));
        (result, peaks)
    });
    let after = status().unwrap_or_default();
    let peak = MemoryPeak {
        hwm_extra_bytes: reset.then(|| after.hwm.saturating_sub(before.rss)),
        anon_extra_bytes: peak_anon.max(after.anon).saturating_sub(before.anon),
        file_extra_bytes: peak_file.max(after.file).saturating_sub(before.file),
    };
    (result, peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_reports_a_resident_set() {
        let s = status().expect("/proc/self/status is readable on Linux");
        assert!(s.rss > 0 && s.hwm >= s.rss / 2 && s.anon > 0);
    }

    #[test]
    fn touching_fresh_pages_counts_page_faults() {
        let before = page_faults().expect("/proc/self/stat is readable on Linux");
        let mut fresh = vec![0u8; 64 << 20];
        for page in fresh.chunks_mut(4096) {
            page[0] = 1;
        }
        std::hint::black_box(&fresh);
        let after = page_faults().unwrap();
        // 16384 small pages, or 32 huge ones where the allocation got them.
        assert!(after - before >= 32, "{before} -> {after}");
    }
}
