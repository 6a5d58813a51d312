//! Sequence classification with an encoder ([`crate::models::bert`]): logits of a padded batch
//! `[B, 3, T]` (ids, attention mask, token types) through the trainer's [`models::logits`], one
//! compiled program per batch shape.

use std::collections::HashMap;
use std::sync::Mutex;

use super::Session;
use crate::graph::{DType, Graph};
use crate::lower::LowerOptions;
use crate::models::{self, bert::INPUT_ROWS};
use crate::pjrt::{Arg, Executable};
use crate::{Error, Result};

/// Compiled classification programs by `(batch, len)`.
#[derive(Default)]
pub struct ClassifyPrograms {
    by_shape: Mutex<HashMap<(usize, usize), std::sync::Arc<Executable>>>,
}

impl Session<'_> {
    /// Logits `[batch, num_labels]` (row-major) of `inputs`, `batch * 3 * len` ids laid out as
    /// [`crate::models::bert`] reads them.
    pub fn classify(&self, inputs: &[i32], batch: usize, len: usize) -> Result<Vec<f32>> {
        if inputs.len() != batch * INPUT_ROWS * len {
            return Err(Error::ExecuteArgs(format!(
                "classify: {} ids for a batch of {batch} x {INPUT_ROWS} x {len}",
                inputs.len()
            )));
        }
        let exe = self.classify_program(batch, len)?;
        let dims = [batch as i64, INPUT_ROWS as i64, len as i64];
        let x = self.client.upload(inputs, &dims, 0)?;
        let out = self.run(&exe, vec![Arg::Borrowed(&x)])?;
        out.first()
            .ok_or_else(|| Error::ExecuteArgs("the classify program returned nothing".into()))?
            .to_vec::<f32>()
    }

    fn classify_program(&self, batch: usize, len: usize) -> Result<std::sync::Arc<Executable>> {
        let mut cache = self
            .classify_programs
            .by_shape
            .lock()
            .map_err(|_| Error::ExecuteArgs("classify program cache poisoned".into()))?;
        if let Some(exe) = cache.get(&(batch, len)) {
            return Ok(exe.clone());
        }
        let mut g = Graph::new();
        let params = self.param_args(&mut g)?;
        let x = g.parameter("inputs", &[batch, INPUT_ROWS, len], DType::S32)?;
        let logits = models::logits(&self.model, &mut g, &params, x, None)?;
        let options = LowerOptions {
            module_name: format!("classify_{}", self.model.kind_name()),
            ..LowerOptions::default()
        };
        let exe = std::sync::Arc::new(self.compile(&g, &[logits], &options)?);
        cache.insert((batch, len), exe.clone());
        Ok(exe)
    }
}

/// The prediction for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub label_id: usize,
    /// The label's name (`id2label`).
    pub label: String,
    /// Its softmax probability.
    pub probability: f64,
    pub logits: Vec<f32>,
}

/// Sequence lengths of the compiled programs: a batch is padded to the first bucket that holds
/// its longest input, so a file of varied lengths compiles a handful of programs.
fn bucket(len: usize, limit: usize) -> usize {
    let mut b = 16;
    while b < len {
        b *= 2;
    }
    b.min(limit).max(len)
}

impl Session<'_> {
    /// Predictions for `examples` (tokenized, see [`crate::data::classification`]), in order,
    /// `batch_size` at a time; every batch has `batch_size` rows (the last is filled with
    /// copies of its first input, whose results are dropped) so the shapes stay few.
    pub fn predict(
        &self,
        examples: &[crate::data::classification::Example],
        batch_size: usize,
    ) -> Result<Vec<Prediction>> {
        let encoder = self.hf.encoder()?;
        let labels = encoder.num_labels;
        let limit = self
            .hf
            .max_position_embeddings
            .saturating_sub(encoder.position_offset);
        let mut out = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(batch_size.max(1)) {
            let longest = chunk.iter().map(|e| e.ids.len()).max().unwrap_or(1);
            let len = bucket(longest.max(1), limit);
            let mut rows: Vec<&crate::data::classification::Example> = chunk.iter().collect();
            rows.resize(batch_size.max(1), &chunk[0]);
            let (x, _) = crate::data::classification::pack(&rows, len, encoder.pad_token_id, &[]);
            let logits = self.classify(&x, rows.len(), len)?;
            for row in logits.chunks(labels).take(chunk.len()) {
                out.push(prediction(row, &encoder.id2label));
            }
        }
        Ok(out)
    }
}

fn prediction(logits: &[f32], names: &[String]) -> Prediction {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    let exp: Vec<f64> = logits.iter().map(|&v| (f64::from(v) - max).exp()).collect();
    let total: f64 = exp.iter().sum();
    let label_id = crate::train::metrics::argmax(logits);
    Prediction {
        label_id,
        label: names.get(label_id).cloned().unwrap_or_default(),
        probability: exp[label_id] / total,
        logits: logits.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_grow_by_doubling_up_to_the_model_limit() {
        assert_eq!(bucket(3, 512), 16);
        assert_eq!(bucket(17, 512), 32);
        assert_eq!(bucket(200, 128), 200);
        assert_eq!(bucket(100, 64), 100);
        assert_eq!(bucket(60, 64), 64);
    }

    #[test]
    fn a_prediction_is_the_argmax_with_its_softmax_probability() {
        let names = vec!["neg".to_string(), "pos".to_string()];
        let p = prediction(&[0.0, 2f32.ln()], &names);
        assert_eq!((p.label_id, p.label.as_str()), (1, "pos"));
        assert!((p.probability - 2.0 / 3.0).abs() < 1e-6);
    }
}
