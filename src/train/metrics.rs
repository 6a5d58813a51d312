//! Classification metrics of an evaluation, as HF `Trainer` users compute them with
//! `evaluate`/scikit-learn: accuracy, and precision, recall and F1 of the positive class
//! (label 1) for two labels or their unweighted mean over the labels (`average="macro"`) for
//! more; a ratio with an empty denominator is 0 (scikit-learn's `zero_division=0`).
//!
//! The eval program of an encoder classifier returns its logits besides the loss
//! ([`eval_outputs`]); the trainer feeds them here with the labels ([`Confusion::add`]) and
//! logs [`Confusion::fields`]. [`best_metric_value`] reads the metric that
//! `metric_for_best_model` names from an eval log entry.

use serde_json::{json, Map, Value};

use crate::graph::Tensor;
use crate::models::ModelConfig;

/// Metrics an eval of a classifier logs (besides `eval_loss`), by their HF names.
pub const CLASSIFICATION_METRICS: [&str; 4] =
    ["eval_accuracy", "eval_f1", "eval_precision", "eval_recall"];

/// Whether `model` is a sequence classifier (its eval computes [`CLASSIFICATION_METRICS`]).
pub fn is_classifier(model: &ModelConfig) -> bool {
    matches!(model, ModelConfig::Hf(c) if c.family.is_encoder())
}

/// Extra results of the eval program after `loss, accuracy`: the logits of a classifier.
pub fn eval_outputs(model: &ModelConfig, logits: Tensor) -> Vec<Tensor> {
    if is_classifier(model) {
        vec![logits]
    } else {
        Vec::new()
    }
}

/// Counts of (true label, predicted label) pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confusion {
    labels: usize,
    /// `counts[truth * labels + predicted]`
    counts: Vec<u64>,
}

impl Confusion {
    pub fn new(labels: usize) -> Confusion {
        Confusion {
            labels,
            counts: vec![0; labels * labels],
        }
    }

    /// An empty count for `model`'s labels when it is a classifier.
    pub fn for_model(model: &ModelConfig) -> Option<Confusion> {
        match model {
            ModelConfig::Hf(c) if is_classifier(model) => {
                c.encoder.as_ref().map(|e| Confusion::new(e.num_labels))
            }
            _ => None,
        }
    }

    /// Counts one pair; labels outside `0..labels` are ignored.
    pub fn count(&mut self, truth: usize, predicted: usize) {
        if truth < self.labels && predicted < self.labels {
            self.counts[truth * self.labels + predicted] += 1;
        }
    }

    /// Counts the argmax (first of equal maxima) of each row of `logits [B, labels]` against
    /// `truth [B]`.
    pub fn add(&mut self, logits: &[f32], truth: &[i32]) {
        for (row, &t) in logits.chunks(self.labels.max(1)).zip(truth) {
            let predicted = argmax(row);
            if let Ok(t) = usize::try_from(t) {
                self.count(t, predicted);
            }
        }
    }

    fn at(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.labels + predicted]
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn accuracy(&self) -> f64 {
        let right: u64 = (0..self.labels).map(|k| self.at(k, k)).sum();
        ratio(right, self.total())
    }

    /// Precision, recall and F1 of label `k` against the rest.
    pub fn one_vs_rest(&self, k: usize) -> (f64, f64, f64) {
        let tp = self.at(k, k);
        let predicted: u64 = (0..self.labels).map(|t| self.at(t, k)).sum();
        let actual: u64 = (0..self.labels).map(|p| self.at(k, p)).sum();
        let precision = ratio(tp, predicted);
        let recall = ratio(tp, actual);
        // F1 = 2 tp / (2 tp + fp + fn), 0 when there is neither a prediction nor a truth of k
        let f1 = ratio(2 * tp, predicted + actual);
        (precision, recall, f1)
    }

    /// Precision, recall and F1: of label 1 for two labels, macro-averaged for more.
    pub fn precision_recall_f1(&self) -> (f64, f64, f64) {
        if self.labels == 2 {
            return self.one_vs_rest(1);
        }
        let n = self.labels.max(1) as f64;
        let (p, r, f) = (0..self.labels)
            .map(|k| self.one_vs_rest(k))
            .fold((0.0, 0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        (p / n, r / n, f / n)
    }

    /// `eval_accuracy`, `eval_f1`, `eval_precision`, `eval_recall`.
    pub fn fields(&self) -> Map<String, Value> {
        let (precision, recall, f1) = self.precision_recall_f1();
        let values = [self.accuracy(), f1, precision, recall];
        CLASSIFICATION_METRICS
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect()
    }
}

/// Adds [`Confusion::fields`] to an eval log entry.
pub fn extend_entry(entry: &mut Value, confusion: &Confusion) {
    if let Value::Object(map) = entry {
        map.extend(confusion.fields());
    }
}

/// The index of the largest value (the first of equal maxima; 0 for an empty row).
pub fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 {
                (i, v)
            } else {
                best
            }
        })
        .0
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Whether `metric_for_best_model` names a metric an eval logs: the eval loss (`loss`,
/// `eval_loss`) or, for a classifier, one of [`CLASSIFICATION_METRICS`] (with or without the
/// `eval_` prefix).
pub fn check_metric_name(metric: &str) -> crate::Result<()> {
    let key = metric.strip_prefix("eval_").unwrap_or(metric);
    let known = key == "loss" || CLASSIFICATION_METRICS.iter().any(|m| m[5..] == *key);
    if known {
        return Ok(());
    }
    Err(crate::Error::InvalidArgument {
        key: "metric_for_best_model".into(),
        value: metric.into(),
        reason: "must be eval_loss (or loss), or for a classifier eval_accuracy, eval_f1, \
                 eval_precision or eval_recall"
            .into(),
    })
}

/// Refuses a classification metric for a model that is no classifier (its evals log no such
/// value, so no checkpoint could ever be the best).
pub fn check_best_metric_applies(metric: Option<&str>, model: &ModelConfig) -> crate::Result<()> {
    match metric {
        Some(m) if !m.ends_with("loss") && !is_classifier(model) => {
            Err(crate::Error::InvalidArgument {
                key: "metric_for_best_model".into(),
                value: m.into(),
                reason: format!(
                    "a {} model's evals log eval_loss only; classification metrics need a bert \
                     or roberta classifier",
                    model.kind_name()
                ),
            })
        }
        _ => Ok(()),
    }
}

/// HF's default of `greater_is_better`: true unless the metric is a loss.
pub fn greater_is_better_by_default(metric: Option<&str>) -> bool {
    metric.is_some_and(|m| !m.ends_with("loss"))
}

/// The value of `metric` (HF accepts it with or without the `eval_` prefix; `loss` is the eval
/// loss) in an eval log entry.
pub fn best_metric_value(metric: Option<&str>, entry: &Value) -> Option<f64> {
    let metric = metric.unwrap_or("eval_loss");
    let key = if metric.starts_with("eval_") {
        metric.to_string()
    } else {
        format!("eval_{metric}")
    };
    entry.get(&key).and_then(Value::as_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_metrics_match_a_hand_count() {
        // truth:     1 1 1 0 0 0 0 1
        // predicted: 1 0 1 1 0 0 0 1  -> tp 3, fn 1, fp 1, tn 3
        let truth = [1, 1, 1, 0, 0, 0, 0, 1];
        let logits: Vec<f32> = [1, 0, 1, 1, 0, 0, 0, 1]
            .iter()
            .flat_map(|&p| if p == 1 { [0.0, 2.0] } else { [2.0, 0.0] })
            .collect();
        let mut c = Confusion::new(2);
        c.add(&logits, &truth);
        assert_eq!(c.total(), 8);
        assert_eq!(c.accuracy(), 6.0 / 8.0);
        let (p, r, f1) = c.precision_recall_f1();
        assert_eq!((p, r), (3.0 / 4.0, 3.0 / 4.0));
        assert!((f1 - 0.75).abs() < 1e-12);
        let fields = c.fields();
        assert_eq!(fields["eval_f1"], json!(f1));
        assert_eq!(fields["eval_accuracy"], json!(0.75));
    }

    #[test]
    fn three_labels_are_macro_averaged() {
        // (truth, predicted): label 0: tp 2, fn 1 (->1); label 1: tp 1, fp 1; label 2: never
        // predicted, one truth (->0)
        let mut c = Confusion::new(3);
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (2, 0)] {
            c.count(t, p);
        }
        // label 0: p 2/3 r 2/3 f1 2/3; label 1: p 1/2 r 1 f1 2/3; label 2: p 0 r 0 f1 0
        let (p, r, f1) = c.precision_recall_f1();
        assert!((p - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12);
        assert!((r - (2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        assert!((f1 - (4.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(c.accuracy(), 3.0 / 5.0);
    }

    #[test]
    fn no_positive_predictions_give_zero_not_nan() {
        let mut c = Confusion::new(2);
        c.count(1, 0);
        c.count(0, 0);
        assert_eq!(c.precision_recall_f1(), (0.0, 0.0, 0.0));
    }

    #[test]
    fn the_best_metric_is_read_with_or_without_the_eval_prefix() {
        let entry = json!({"eval_loss": 0.5, "eval_f1": 0.8});
        assert_eq!(best_metric_value(Some("eval_f1"), &entry), Some(0.8));
        assert_eq!(best_metric_value(Some("f1"), &entry), Some(0.8));
        assert_eq!(best_metric_value(Some("loss"), &entry), Some(0.5));
        assert_eq!(best_metric_value(None, &entry), Some(0.5));
        assert_eq!(best_metric_value(Some("eval_recall"), &entry), None);
    }
}
