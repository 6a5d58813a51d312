//! Summaries of repeated timings: median and p10/p90 by the nearest-rank rule, so a handful of
//! samples gives stable, explainable numbers (no interpolation between two runs).

use serde::Serialize;

/// Order statistics of a set of samples (seconds, or any other unit the caller chose).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub median: f64,
    pub p10: f64,
    pub p90: f64,
    pub p99: f64,
    pub min: f64,
    pub max: f64,
    /// The raw samples in measurement order.
    pub samples: Vec<f64>,
}

impl Summary {
    /// Summarizes `samples`; `None` when there are none (or any is NaN).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() || samples.iter().any(|s| s.is_nan()) {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            median: nearest_rank(&sorted, 0.5),
            p10: nearest_rank(&sorted, 0.1),
            p90: nearest_rank(&sorted, 0.9),
            p99: nearest_rank(&sorted, 0.99),
            min: sorted[0],
            max: sorted[sorted.len() - 1],
            samples: samples.to_vec(),
        })
    }
}

/// The sample at quantile `q` of sorted data: the lower middle for an even count at q = 0.5.
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let index = (q * last as f64).round() as usize;
    sorted[index.min(last)]
}

/// Bytes per second as GB/s (1 GB = 1e9 B, as the peer tables); 0 for a zero duration.
pub fn gb_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        bytes as f64 / seconds / 1e9
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_an_odd_count_is_the_middle_sample() {
        let s = Summary::of(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        assert_eq!(s.samples, vec![5.0, 1.0, 3.0]);
    }

    #[test]
    fn percentiles_pick_actual_samples() {
        let samples: Vec<f64> = (1..=11).map(f64::from).collect();
        let s = Summary::of(&samples).unwrap();
        assert_eq!((s.p10, s.median, s.p90), (2.0, 6.0, 10.0));
    }

    #[test]
    fn no_samples_or_nan_give_no_summary() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn throughput_is_decimal_gigabytes() {
        assert_eq!(gb_per_s(2_000_000_000, 2.0), 1.0);
        assert_eq!(gb_per_s(1, 0.0), 0.0);
    }
}
