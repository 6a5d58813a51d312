//! Picking the next token from logits, with HF `generate`'s knobs: `temperature` 0 is greedy
//! (argmax, the lowest id on a tie); otherwise logits are divided by the temperature, cut to
//! the `top_k` largest and to the smallest set whose probability reaches `top_p`, and one token
//! is drawn with a seeded counter-based generator (the same seed gives the same tokens).

use crate::rng;
use crate::{Error, Result};

/// Sampling settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Sampling {
    /// 0 = greedy.
    pub temperature: f64,
    /// 0 = no cut.
    pub top_k: usize,
    /// 1 = no cut.
    pub top_p: f64,
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl Sampling {
    /// Checks the settings (a bad value is a usage error).
    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::Usage(format!(
                "--temperature {} must be a finite number >= 0",
                self.temperature
            )));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::Usage(format!(
                "--top-p {} must be in (0, 1]",
                self.top_p
            )));
        }
        Ok(())
    }

    pub(super) fn sampler(&self) -> Sampler {
        Sampler {
            settings: self.clone(),
            draws: 0,
        }
    }
}

pub(super) struct Sampler {
    settings: Sampling,
    draws: u64,
}

impl Sampler {
    /// The next token for one row of logits.
    pub(super) fn pick(&mut self, logits: &[f32]) -> Result<u32> {
        if logits.iter().any(|x| x.is_nan()) {
            return Err(Error::ExecuteArgs("the model produced NaN logits".into()));
        }
        let s = &self.settings;
        if s.temperature == 0.0 {
            let mut best = 0;
            for (i, &x) in logits.iter().enumerate() {
                if x > logits[best] {
                    best = i;
                }
            }
            return Ok(best as u32);
        }
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        if s.top_k > 0 {
            order.truncate(s.top_k);
        }
        let max = f64::from(logits[order[0]]);
        let weights: Vec<f64> = order
            .iter()
            .map(|&i| ((f64::from(logits[i]) - max) / s.temperature).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let mut keep = weights.len();
        if s.top_p < 1.0 {
            let mut cumulative = 0.0;
            for (j, w) in weights.iter().enumerate() {
                cumulative += w / total;
                if cumulative >= s.top_p {
                    keep = j + 1;
                    break;
                }
            }
        }
        let kept: f64 = weights[..keep].iter().sum();
        let u = rng::u01(rng::stream_at(s.seed, self.draws)) * kept;
        self.draws += 1;
        let mut acc = 0.0;
        for (j, w) in weights[..keep].iter().enumerate() {
            acc += w;
            if u < acc {
                return Ok(order[j] as u32);
            }
        }
        Ok(order[keep - 1] as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum_and_cuts_leave_only_the_best() {
        let logits = [0.5, 2.0, 2.0, -1.0];
        assert_eq!(Sampling::default().sampler().pick(&logits).unwrap(), 1);
        let top1 = Sampling {
            temperature: 1.0,
            top_k: 1,
            ..Sampling::default()
        };
        let mut s = top1.sampler();
        assert!((0..20).all(|_| s.pick(&[0.0, 3.0, 1.0]).unwrap() == 1));
        let nucleus = Sampling {
            temperature: 1.0,
            top_p: 0.5,
            seed: 7,
            ..Sampling::default()
        };
        let mut s = nucleus.sampler();
        assert!((0..20).all(|_| s.pick(&[0.0, 5.0, 1.0]).unwrap() == 1));
        let free = Sampling {
            temperature: 1.0,
            seed: 3,
            ..Sampling::default()
        };
        let picks: std::collections::HashSet<u32> = {
            let mut s = free.sampler();
            (0..200)
                .map(|_| s.pick(&[0.0, 0.0, 0.0]).unwrap())
                .collect()
        };
        assert_eq!(picks.len(), 3, "uniform logits must reach every token");
    }
}
