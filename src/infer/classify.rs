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
