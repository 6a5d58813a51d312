//! `xlatrain eval`'s contract: the token file is cut into non-overlapping windows of
//! `seq_len + 1` tokens, in file order, and every complete window counts (a shorter tail is
//! left out); a window's inputs are its first `seq_len` tokens and its targets its last
//! `seq_len`. The result is the mean next-token cross-entropy over all targets, its
//! perplexity `exp(loss)`, and the number of targets.
//!
//! Windows run `batch` at a time through one compiled loss program (the trainer's
//! [`crate::models::logits`] plus cross-entropy); a last, smaller group gets its own program.

use std::path::Path;

use super::Session;
use crate::data::{TokenDataset, TokenFileOptions, TokenFormat};
use crate::graph::{DType, Graph};
use crate::lower::LowerOptions;
use crate::models;
use crate::pjrt::{Arg, Executable};
use crate::{Error, Result};

/// Windows per loss program execution.
const WINDOWS_PER_CALL: usize = 8;

/// The result of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    pub eval_loss: f64,
    pub eval_perplexity: f64,
    pub eval_tokens: u64,
}

/// The loss program for `batch` windows: arguments `params..., x, y` (`[batch, seq_len]`),
/// result the summed cross-entropy of all targets.
fn loss_program(session: &Session, batch: usize, seq_len: usize) -> Result<Executable> {
    let mut g = Graph::new();
    let params = session.param_args(&mut g)?;
    let x = g.parameter("x", &[batch, seq_len], DType::S32)?;
    let y = g.parameter("y", &[batch, seq_len], DType::S32)?;
    let logits = models::logits(&session.model, &mut g, &params, x, None)?;
    let mean = g.cross_entropy(logits, y)?;
    let total = g.scale(mean, (batch * seq_len) as f64)?;
    let options = LowerOptions {
        module_name: format!("eval_loss_{}", session.model.kind_name()),
        ..LowerOptions::default()
    };
    session.compile(&g, &[total], &options)
}

/// Evaluates `session`'s model on the token file `data` (see the module docs).
pub fn eval_loss(
    session: &Session,
    data: &Path,
    format: TokenFormat,
    seq_len: usize,
) -> Result<EvalReport> {
    session.hf.check_sequence(seq_len)?;
    let dataset = TokenDataset::open(&TokenFileOptions {
        path: data.to_path_buf(),
        format,
        vocab_size: session.hf.vocab_size,
        seq_len,
        batch_size: 1,
        seed: 0,
        eval_fraction: 0.0,
        max_eval_batches: 0,
    })?;
    let span = seq_len as u64 + 1;
    let windows = dataset.contract_windows();
    if windows == 0 {
        return Err(Error::DataFile {
            path: data.to_path_buf(),
            reason: format!(
                "{} tokens hold no complete window of seq_len + 1 = {span} tokens",
                dataset.n_tokens()
            ),
        });
    }
    let mut programs: Vec<(usize, Executable)> = Vec::new();
    let mut total = 0f64;
    let mut first = 0u64;
    while first < windows {
        let batch = (windows - first).min(WINDOWS_PER_CALL as u64) as usize;
        let exe = match programs.iter().position(|(b, _)| *b == batch) {
            Some(i) => &programs[i].1,
            None => {
                programs.push((batch, loss_program(session, batch, seq_len)?));
                &programs[programs.len() - 1].1
            }
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for w in first..first + batch as u64 {
            dataset.push_contract_window(w, &mut x, &mut y);
        }
        let dims = [batch as i64, seq_len as i64];
        let xb = session.client.upload(&x, &dims, 0)?;
        let yb = session.client.upload(&y, &dims, 0)?;
        let out = session.run(exe, vec![Arg::Borrowed(&xb), Arg::Borrowed(&yb)])?;
        let sum = out
            .first()
            .ok_or_else(|| Error::ExecuteArgs("the loss program returned nothing".into()))?
            .to_vec::<f32>()?;
        total += f64::from(sum.first().copied().unwrap_or(f32::NAN));
        first += batch as u64;
    }
    let eval_tokens = windows * seq_len as u64;
    let eval_loss = total / eval_tokens as f64;
    Ok(EvalReport {
        eval_loss,
        eval_perplexity: eval_loss.exp(),
        eval_tokens,
    })
}
