//! Host-side data: the built-in synthetic datasets, byte and token-file corpora, and the cursor
//! that says where in the data stream a run is.
//!
//! Every batch is a pure function of the dataset and a [`DataCursor`] position, so saving the
//! cursor (three small fields) and restoring it continues the exact same batch sequence, and
//! producing batch `k` never requires producing batches `0..k`.

pub mod order;
pub mod synthetic;
pub mod text;
pub mod tokens;

use serde::{Deserialize, Serialize};

use crate::{DType, Error, Result};
pub use synthetic::{GptSynthetic, MlpSynthetic};
pub use tokens::{TokenDataset, TokenFileOptions, TokenFormat};

/// First step index of the synthetic eval batches (never reached by training).
pub const SYNTHETIC_EVAL_FIRST_STEP: u64 = 1_000_000;
/// Number of synthetic eval batches (the JAX reference evaluates batches 1000000..=1000003).
pub const SYNTHETIC_EVAL_BATCHES: u64 = 4;

/// The model input of a batch.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Features, e.g. the MLP's `[B, 784]`.
    F32(Vec<f32>),
    /// Token ids, e.g. the GPT's `[B, T]`.
    I32(Vec<i32>),
}

/// One batch: inputs `x` and integer targets `y`, both row-major in the shapes of
/// [`BatchLayout`].
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub x: Inputs,
    pub y: Vec<i32>,
}

/// The shapes and element types of every batch of a dataset (targets are always i32).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLayout {
    pub x_type: DType,
    pub x_shape: Vec<usize>,
    pub y_shape: Vec<usize>,
}

/// Where a run is in its data stream. `stream` identifies the batch stream (dataset, seed, batch
/// shape); a cursor restores only into a dataset with the same stream id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCursor {
    pub stream: String,
    pub epoch: u64,
    /// Batches already taken in `epoch`; always below `batches_per_epoch`.
    pub batch_in_epoch: u64,
}

/// What to load: the source and the batch geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum DataSpec {
    MlpSynthetic {
        seed: u64,
        batch_size: usize,
        input_dim: usize,
        num_classes: usize,
    },
    GptSynthetic {
        seed: u64,
        batch_size: usize,
        seq_len: usize,
        vocab_size: usize,
        n_words: usize,
    },
    TokenFile(TokenFileOptions),
    /// A `.txt`/`.jsonl` file (`options.path`) tokenized with a tokenizer.json into a cached
    /// u32 token file (see [`text`]); `options.format` is ignored.
    Text {
        options: TokenFileOptions,
        tokenizer: std::path::PathBuf,
        text_column: String,
    },
}

/// A ready dataset.
#[derive(Debug)]
pub enum Dataset {
    MlpSynthetic(MlpSynthetic),
    GptSynthetic(GptSynthetic),
    Tokens(TokenDataset),
}

impl Dataset {
    /// Builds (or maps and validates) the data; bad settings and bad files are usage errors.
    pub fn open(spec: &DataSpec) -> Result<Dataset> {
        match spec {
            DataSpec::MlpSynthetic {
                seed,
                batch_size,
                input_dim,
                num_classes,
            } => {
                positive("batch_size", *batch_size)?;
                positive("input_dim", *input_dim)?;
                positive("num_classes", *num_classes)?;
                if i32::try_from(*num_classes).is_err() {
                    return Err(invalid("num_classes", num_classes, "must fit in i32"));
                }
                Ok(Dataset::MlpSynthetic(MlpSynthetic::new(
                    *seed,
                    *batch_size,
                    *input_dim,
                    *num_classes,
                )))
            }
            DataSpec::GptSynthetic {
                seed,
                batch_size,
                seq_len,
                vocab_size,
                n_words,
            } => {
                positive("batch_size", *batch_size)?;
                positive("seq_len", *seq_len)?;
                let data = GptSynthetic::new(*seed, *batch_size, *seq_len, *n_words);
                if data.offset_range() == 0 {
                    return Err(invalid(
                        "seq_len",
                        seq_len,
                        &format!(
                            "the synthetic corpus has {} bytes, too few for windows of seq_len + 1",
                            data.corpus().len()
                        ),
                    ));
                }
                let max_byte = data.corpus().iter().copied().max().unwrap_or(0);
                if usize::from(max_byte) >= *vocab_size {
                    return Err(invalid(
                        "vocab_size",
                        vocab_size,
                        &format!("the byte corpus has byte value {max_byte}"),
                    ));
                }
                Ok(Dataset::GptSynthetic(data))
            }
            DataSpec::TokenFile(opts) => Ok(Dataset::Tokens(TokenDataset::open(opts)?)),
            DataSpec::Text {
                options,
                tokenizer,
                text_column,
            } => {
                let tokenizer = crate::tokenizer::Tokenizer::from_file(tokenizer)?;
                let tokenized = text::tokenize_cached(&options.path, text_column, &tokenizer)?;
                Ok(Dataset::Tokens(TokenDataset::open(&TokenFileOptions {
                    path: tokenized.path,
                    format: TokenFormat::U32,
                    ..options.clone()
                })?))
            }
        }
    }

    /// Identifies the batch stream (kind, seed, geometry, and for files their content hash).
    pub fn stream_id(&self) -> String {
        match self {
            Dataset::MlpSynthetic(d) => format!(
                "mlp-synthetic v1 seed={} batch={} input_dim={} classes={}",
                d.seed(),
                d.batch_size(),
                d.input_dim(),
                d.num_classes()
            ),
            Dataset::GptSynthetic(d) => format!(
                "gpt-synthetic v1 seed={} batch={} seq_len={} corpus_bytes={}",
                d.seed(),
                d.batch_size(),
                d.seq_len(),
                d.corpus().len()
            ),
            Dataset::Tokens(d) => d.stream_id(),
        }
    }

    pub fn batch_layout(&self) -> BatchLayout {
        let tokens = |b: usize, t: usize| BatchLayout {
            x_type: DType::S32,
            x_shape: vec![b, t],
            y_shape: vec![b, t],
        };
        match self {
            Dataset::MlpSynthetic(d) => BatchLayout {
                x_type: DType::F32,
                x_shape: vec![d.batch_size(), d.input_dim()],
                y_shape: vec![d.batch_size()],
            },
            Dataset::GptSynthetic(d) => tokens(d.batch_size(), d.seq_len()),
            Dataset::Tokens(d) => tokens(d.batch_size(), d.seq_len()),
        }
    }

    /// Batches per epoch, or `None` for the endless synthetic streams (their cursor stays in
    /// epoch 0 and `batch_in_epoch` is the step).
    pub fn batches_per_epoch(&self) -> Option<u64> {
        match self {
            Dataset::MlpSynthetic(_) | Dataset::GptSynthetic(_) => None,
            Dataset::Tokens(d) => Some(d.batches_per_epoch()),
        }
    }

    /// The cursor of a fresh run: epoch 0, batch 0.
    pub fn start_cursor(&self) -> DataCursor {
        DataCursor {
            stream: self.stream_id(),
            epoch: 0,
            batch_in_epoch: 0,
        }
    }

    /// Checks that a restored cursor belongs to this dataset's stream and is in range.
    pub fn check_cursor(&self, cursor: &DataCursor) -> Result<()> {
        let here = self.stream_id();
        if cursor.stream != here {
            return Err(Error::DataCursor {
                reason: format!(
                    "it was saved for data stream `{}`, but this run's data is `{here}`",
                    cursor.stream
                ),
            });
        }
        if let Some(per_epoch) = self.batches_per_epoch() {
            if cursor.batch_in_epoch >= per_epoch {
                return Err(Error::DataCursor {
                    reason: format!(
                        "batch_in_epoch {} is not below the {per_epoch} batches per epoch",
                        cursor.batch_in_epoch
                    ),
                });
            }
        }
        Ok(())
    }

    /// The batch at `cursor`, without moving it.
    pub fn batch_at(&self, cursor: &DataCursor) -> Batch {
        match self {
            Dataset::MlpSynthetic(d) => {
                let (x, y) = d.batch(cursor.batch_in_epoch);
                Batch {
                    x: Inputs::F32(x),
                    y,
                }
            }
            Dataset::GptSynthetic(d) => {
                let (x, y) = d.batch(cursor.batch_in_epoch);
                Batch {
                    x: Inputs::I32(x),
                    y,
                }
            }
            Dataset::Tokens(d) => {
                let (x, y) = d.batch(cursor.epoch, cursor.batch_in_epoch);
                Batch {
                    x: Inputs::I32(x),
                    y,
                }
            }
        }
    }

    /// The batch at `cursor`, then moves the cursor to the next batch (the next epoch after the
    /// last batch of one).
    pub fn next_batch(&self, cursor: &mut DataCursor) -> Batch {
        let batch = self.batch_at(cursor);
        self.advance(cursor, 1);
        batch
    }

    /// Moves `cursor` forward by `batches` in O(1).
    pub fn advance(&self, cursor: &mut DataCursor, batches: u64) {
        match self.batches_per_epoch() {
            None => cursor.batch_in_epoch = cursor.batch_in_epoch.wrapping_add(batches),
            Some(per_epoch) => {
                let total = u128::from(cursor.batch_in_epoch) + u128::from(batches);
                let per_epoch = u128::from(per_epoch);
                cursor.epoch = cursor
                    .epoch
                    .saturating_add(u64::try_from(total / per_epoch).unwrap_or(u64::MAX));
                cursor.batch_in_epoch = (total % per_epoch) as u64;
            }
        }
    }

    /// The cursor `batches` batches after the start (batch `k` of the whole run).
    pub fn cursor_at(&self, batches: u64) -> DataCursor {
        let mut cursor = self.start_cursor();
        self.advance(&mut cursor, batches);
        cursor
    }

    /// The fixed eval batches (synthetic: steps 1000000..=1000003; files: the held-out split).
    pub fn eval_batches(&self) -> Vec<Batch> {
        let synthetic_steps =
            SYNTHETIC_EVAL_FIRST_STEP..SYNTHETIC_EVAL_FIRST_STEP + SYNTHETIC_EVAL_BATCHES;
        match self {
            Dataset::MlpSynthetic(d) => synthetic_steps
                .map(|s| {
                    let (x, y) = d.batch(s);
                    Batch {
                        x: Inputs::F32(x),
                        y,
                    }
                })
                .collect(),
            Dataset::GptSynthetic(d) => synthetic_steps
                .map(|s| {
                    let (x, y) = d.batch(s);
                    Batch {
                        x: Inputs::I32(x),
                        y,
                    }
                })
                .collect(),
            Dataset::Tokens(d) => d
                .eval_batches()
                .into_iter()
                .map(|(x, y)| Batch {
                    x: Inputs::I32(x),
                    y,
                })
                .collect(),
        }
    }
}

impl Dataset {
    /// The eval contract's batches of a held-out file (`--eval-data`): every complete window of
    /// `seq_len + 1` tokens, in file order, grouped into batches of the largest size up to
    /// `max_batch` that divides the window count, so that the mean of the batch losses is the
    /// mean over all windows.
    pub fn contract_eval_batches(&self, max_batch: usize) -> Result<Vec<Batch>> {
        let Dataset::Tokens(d) = self else {
            return Err(invalid(
                "eval_data",
                &self.stream_id(),
                "only a data file can be held-out data",
            ));
        };
        let windows = d.contract_windows();
        if windows == 0 {
            return Err(Error::DataFile {
                path: d.path().to_path_buf(),
                reason: format!(
                    "{} tokens hold no complete window of seq_len + 1 = {} tokens",
                    d.n_tokens(),
                    d.seq_len() + 1
                ),
            });
        }
        let batch = (1..=max_batch.max(1) as u64)
            .rev()
            .find(|b| windows % b == 0)
            .unwrap_or(1);
        Ok((0..windows / batch)
            .map(|j| {
                let (mut x, mut y) = (Vec::new(), Vec::new());
                for w in j * batch..(j + 1) * batch {
                    d.push_contract_window(w, &mut x, &mut y);
                }
                Batch {
                    x: Inputs::I32(x),
                    y,
                }
            })
            .collect())
    }
}

fn positive(field: &str, value: usize) -> Result<()> {
    if value == 0 {
        return Err(invalid(field, &value, "must be at least 1"));
    }
    Ok(())
}

fn invalid(field: &str, value: &dyn std::fmt::Display, reason: &str) -> Error {
    Error::InvalidArgument {
        key: field.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}
