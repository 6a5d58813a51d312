//! [`Trainer::evaluate`]: the held-out batches through the eval program on every mesh (each
//! device holds the whole batch), the metrics a model's task has (loss and accuracy or
//! perplexity; a classifier's confusion counts), the callbacks' `on_evaluate`, and the best
//! checkpoint's metric; and when an evaluation is due.

use serde_json::json;

use crate::config::EvalStrategy;
use crate::models::ModelConfig;
use crate::pjrt::Arg;
use crate::{Error, Result};

use super::super::metrics;
use super::super::progress::log_event;
use super::super::summary::EvalMetrics;
use super::Trainer;

impl Trainer {
    /// Mean loss and accuracy over the held-out batches with the current parameters, logged as
    /// `eval_loss` and `eval_accuracy` (MLP) or `eval_perplexity` (GPT).
    pub fn evaluate(&mut self) -> Result<Option<EvalMetrics>> {
        let Some(exe) = &self.eval_exe else {
            return Ok(None);
        };
        let n_params = self.model.param_specs()?.len();
        let state = self.state.as_ref().ok_or_else(|| {
            Error::ExecuteArgs("the training state was lost by a failed step".into())
        })?;
        let (mut loss, mut accuracy) = (0.0, 0.0);
        let mut confusion = metrics::Confusion::for_model(&self.model);
        for copies in &self.eval_batches {
            let args: Vec<Vec<Arg>> = copies
                .iter()
                .enumerate()
                .map(|(p, (x, y))| {
                    let mut args: Vec<Arg> = state.partition(p)[..n_params]
                        .iter()
                        .map(Arg::Borrowed)
                        .collect();
                    args.push(Arg::Borrowed(x));
                    args.push(Arg::Borrowed(y));
                    args
                })
                .collect();
            let out = exe
                .execute_replicated(args)?
                .into_iter()
                .next()
                .unwrap_or_default();
            let scalar = |i: usize| -> Result<f64> {
                let b = out.get(i).ok_or_else(|| {
                    Error::ExecuteArgs("eval program returned too few results".into())
                })?;
                Ok(f64::from(
                    b.to_vec::<f32>()?.first().copied().unwrap_or(f32::NAN),
                ))
            };
            loss += scalar(0)?;
            accuracy += scalar(1)?;
            // every partition holds the whole (replicated) eval batch: the labels of the first
            if let (Some(c), Some(logits), Some((_, y))) =
                (confusion.as_mut(), out.get(2), copies.first())
            {
                c.add(&logits.to_vec::<f32>()?, &y.to_vec::<i32>()?);
            }
        }
        let count = self.eval_batches.len().max(1) as f64;
        let metrics = EvalMetrics {
            loss: loss / count,
            accuracy: accuracy / count,
            perplexity: (loss / count).exp(),
        };
        let mut entry = log_event(
            self.progress.global_step,
            self.epoch(),
            json!({"eval_loss": metrics.loss}),
        );
        match (&self.model, &confusion) {
            (_, Some(c)) => metrics::extend_entry(&mut entry, c),
            (ModelConfig::Mlp(_), None) => entry["eval_accuracy"] = json!(metrics.accuracy),
            (ModelConfig::Gpt(_) | ModelConfig::Hf(_), None) => {
                entry["eval_perplexity"] = json!(metrics.perplexity)
            }
        }
        let best_of_this =
            metrics::best_metric_value(self.args.metric_for_best_model.as_deref(), &entry)
                .unwrap_or(metrics.loss);
        self.record(entry)?;
        for callback in &mut self.callbacks {
            callback.on_evaluate(&self.progress, &metrics, &mut self.control);
        }
        let greater_is_better = self.args.greater_is_better.unwrap_or_else(|| {
            metrics::greater_is_better_by_default(self.args.metric_for_best_model.as_deref())
        });
        let improved = self.progress.best_metric.is_none_or(|best| {
            if greater_is_better {
                best_of_this > best
            } else {
                best_of_this < best
            }
        });
        if improved {
            self.progress.best_metric = Some(best_of_this);
            self.progress.best_global_step = Some(self.progress.global_step);
        }
        Ok(Some(metrics))
    }

    pub(super) fn eval_due(&self, epoch_before: u64) -> bool {
        match self.args.eval_strategy {
            EvalStrategy::No => false,
            EvalStrategy::Steps => self
                .progress
                .global_step
                .is_multiple_of(self.args.eval_interval().max(1)),
            EvalStrategy::Epoch => self.progress.cursor.epoch > epoch_before,
        }
    }
}
