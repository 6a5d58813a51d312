//! The speed figures of a run's log events: TFLOP/s per device from the analytic FLOPs of a
//! step ([`crate::bench::step_flops`]: 6 · params · tokens plus attention) and MFU, the fraction
//! of the device's peak they are. Peaks are dense (no sparsity) vendor figures for the matmul
//! units in the run's precision; CPUs and unknown chips have none unless `--peak-tflops` gives
//! one, and then only TFLOP/s is reported.

use serde_json::{json, Map, Value};

use crate::graph::Precision;

/// Peak dense TFLOP/s of one device by its PJRT device kind, `(bf16, f32)`. f32 is the
/// non-tensor-core FP32 rate on GPUs; TPUs have no f32 matmul figure (XLA runs f32 dots as
/// bf16 passes), so their f32 entry is unknown.
const PEAKS: [(&[&str], f64, Option<f64>); 7] = [
    (&["h200"], 989.0, Some(67.0)),
    (&["h100"], 989.0, Some(67.0)),
    (&["a100"], 312.0, Some(19.5)),
    (&["tpu v4"], 275.0, None),
    (&["tpu v5 lite", "tpu v5e"], 197.0, None),
    (&["tpu v5p", "tpu v5"], 459.0, None),
    (&["tpu v6 lite", "tpu v6e", "tpu7x"], 918.0, None),
];

/// The table's peak for a device kind (e.g. `NVIDIA H200`, `TPU v5 lite`) under `precision`.
pub fn known_peak_tflops(device_kind: &str, precision: Precision) -> Option<f64> {
    let kind = device_kind.to_ascii_lowercase();
    PEAKS
        .iter()
        .find(|(names, ..)| names.iter().any(|n| kind.contains(n)))
        .and_then(|&(_, bf16, f32)| match precision {
            Precision::Bf16 => Some(bf16),
            Precision::F32 => f32,
        })
}

/// What turns a step rate into TFLOP/s per device and MFU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeedModel {
    /// Analytic FLOPs of one optimizer step over all devices (all micro-batches).
    pub flops_per_step: f64,
    pub devices: usize,
    /// Peak TFLOP/s of one device (`--peak-tflops`, else the table), when known.
    pub peak_tflops: Option<f64>,
}

impl SpeedModel {
    /// `tflops_per_device` and, with a peak, `mfu` (a fraction) at `steps_per_second`, under
    /// `prefix` (`""` for step events, `"train_"` for the closing summary).
    pub fn fields(&self, steps_per_second: f64, prefix: &str) -> Map<String, Value> {
        let tflops = self.flops_per_step * steps_per_second / self.devices.max(1) as f64 / 1e12;
        let mut out = Map::new();
        out.insert(format!("{prefix}tflops_per_device"), json!(tflops));
        if let Some(peak) = self.peak_tflops {
            out.insert(format!("{prefix}mfu"), json!(tflops / peak));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_come_from_the_device_kind_and_precision() {
        assert_eq!(
            known_peak_tflops("NVIDIA H200", Precision::Bf16),
            Some(989.0)
        );
        assert_eq!(
            known_peak_tflops("NVIDIA A100-SXM4-80GB", Precision::F32),
            Some(19.5)
        );
        assert_eq!(
            known_peak_tflops("TPU v5 lite", Precision::Bf16),
            Some(197.0)
        );
        assert_eq!(known_peak_tflops("TPU v5p", Precision::Bf16), Some(459.0));
        assert_eq!(known_peak_tflops("TPU v4", Precision::F32), None);
        assert_eq!(known_peak_tflops("cpu", Precision::Bf16), None);
    }

    #[test]
    fn tflops_are_flops_per_step_times_steps_per_second_per_device() {
        let speed = SpeedModel {
            flops_per_step: 4e12,
            devices: 2,
            peak_tflops: Some(10.0),
        };
        let f = speed.fields(0.5, "");
        assert_eq!(f["tflops_per_device"], json!(1.0));
        assert_eq!(f["mfu"], json!(0.1));
        let none = SpeedModel {
            peak_tflops: None,
            ..speed
        };
        assert!(!none.fields(0.5, "train_").contains_key("train_mfu"));
    }
}
