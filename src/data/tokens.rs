//! Token corpora from files: any file read as bytes (vocabulary 256) or a pre-tokenized file of
//! little-endian `u16` / `u32` token ids, read through a memory map so that the file's size does
//! not matter.
//!
//! Layout: the last `eval_fraction` of the tokens is held out for evaluation, the rest is the
//! train split. The train split is cut into windows of `seq_len + 1` tokens at stride `seq_len`
//! (input `w[..T]`, target `w[1..]`). An epoch visits the windows in a counter-based random order
//! (a fresh permutation per epoch, derived from the data seed and the epoch), `batch_size` windows
//! per batch; it has `max(1, windows / batch_size)` batches, so when there are at least
//! `batch_size` windows the `windows % batch_size` left over are skipped for that epoch (another
//! epoch's permutation includes them), and when there are fewer the one batch repeats windows.
//! Eval batches are the eval split's windows in file order.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::{Deserialize, Serialize};

use super::order::Permutation;
use crate::{rng, Error, Result};

/// Stream tag of the per-epoch order keys: `derive(derive(seed, ORDER_TAG), epoch)`.
const ORDER_TAG: u64 = 0x6461_7461_5f6f_7264; // "data_ord"

/// How token ids are stored in a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// Every byte is a token (any text file); vocabulary 256.
    #[serde(alias = "text")]
    Bytes,
    /// Little-endian u16 token ids.
    U16,
    /// Little-endian u32 token ids.
    U32,
}

impl TokenFormat {
    pub fn token_size(self) -> usize {
        match self {
            TokenFormat::Bytes => 1,
            TokenFormat::U16 => 2,
            TokenFormat::U32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TokenFormat::Bytes => "bytes",
            TokenFormat::U16 => "u16",
            TokenFormat::U32 => "u32",
        }
    }
}

/// Everything that determines a token dataset's batches.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenFileOptions {
    pub path: PathBuf,
    pub format: TokenFormat,
    /// Every token id must be below this.
    pub vocab_size: usize,
    pub seq_len: usize,
    pub batch_size: usize,
    /// Seeds the per-epoch order.
    pub seed: u64,
    /// Fraction of the tokens (at the end of the file) held out for eval; 0 disables eval.
    pub eval_fraction: f64,
    /// At most this many eval batches.
    pub max_eval_batches: usize,
}

/// A validated, memory-mapped token file.
#[derive(Debug)]
pub struct TokenDataset {
    path: PathBuf,
    map: Mmap,
    format: TokenFormat,
    n_tokens: u64,
    n_train_tokens: u64,
    seq_len: usize,
    batch_size: usize,
    seed: u64,
    train_windows: u64,
    eval_windows: u64,
    eval_batch_count: usize,
    content_hash: u64,
}

impl TokenDataset {
    /// Opens, maps and validates the file; every problem is an error naming the file.
    pub fn open(opts: &TokenFileOptions) -> Result<Self> {
        let path = opts.path.clone();
        let bad = |reason: String| Error::DataFile {
            path: path.clone(),
            reason,
        };
        if opts.seq_len == 0 || opts.batch_size == 0 {
            return Err(bad(format!(
                "seq_len ({}) and batch_size ({}) must be at least 1",
                opts.seq_len, opts.batch_size
            )));
        }
        if !(0.0..1.0).contains(&opts.eval_fraction) {
            return Err(bad(format!(
                "eval_fraction {} must be in [0, 1)",
                opts.eval_fraction
            )));
        }
        // Checked before opening: opening a FIFO for reading blocks until a writer appears.
        if std::fs::metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(bad("is not a regular file".into()));
        }
        let file = File::open(&path).map_err(|source| Error::DataFileIo {
            path: path.clone(),
            context: "cannot open".into(),
            source,
        })?;
        let metadata = file.metadata().map_err(|source| Error::DataFileIo {
            path: path.clone(),
            context: "cannot read metadata".into(),
            source,
        })?;
        if !metadata.is_file() {
            return Err(bad("is not a regular file".into()));
        }
        let len = metadata.len();
        if len == 0 {
            return Err(bad("is empty".into()));
        }
        let size = opts.format.token_size() as u64;
        if len % size != 0 {
            return Err(bad(format!(
                "has {len} bytes, not a multiple of {size} (the size of a {} token)",
                opts.format.name()
            )));
        }
        let map = crate::mmap::map_read(&file, &path).map_err(|e| match e {
            Error::Io {
                context, source, ..
            } => Error::DataFileIo {
                path: path.clone(),
                context,
                source,
            },
            other => other,
        })?;
        let n_tokens = len / size;
        let t = opts.seq_len as u64;

        let eval_tokens = if opts.eval_fraction > 0.0 {
            ((n_tokens as f64 * opts.eval_fraction).ceil() as u64).min(n_tokens)
        } else {
            0
        };
        let n_train_tokens = n_tokens - eval_tokens;
        if n_train_tokens < t + 1 {
            return Err(bad(format!(
                "too short: {n_train_tokens} training tokens ({n_tokens} in the file, \
                 {eval_tokens} held out for eval), need at least seq_len + 1 = {}",
                t + 1
            )));
        }
        if eval_tokens > 0 && eval_tokens < t + 1 {
            return Err(bad(format!(
                "eval split too short: {eval_tokens} tokens (eval_fraction {}), need at least \
                 seq_len + 1 = {}; raise eval_fraction, set it to 0, or use a longer file",
                opts.eval_fraction,
                t + 1
            )));
        }
        let mut dataset = TokenDataset {
            path: path.clone(),
            map,
            format: opts.format,
            n_tokens,
            n_train_tokens,
            seq_len: opts.seq_len,
            batch_size: opts.batch_size,
            seed: opts.seed,
            train_windows: (n_train_tokens - 1) / t,
            eval_windows: if eval_tokens > 0 {
                (eval_tokens - 1) / t
            } else {
                0
            },
            eval_batch_count: 0,
            content_hash: 0,
        };
        dataset.eval_batch_count = if dataset.eval_windows == 0 {
            0
        } else {
            let covering = dataset.eval_windows.div_ceil(opts.batch_size as u64);
            (covering.min(opts.max_eval_batches as u64)) as usize
        };
        dataset.check_vocab(opts.vocab_size)?;
        dataset.content_hash = xxhash_rust::xxh3::xxh3_64(&dataset.map);
        Ok(dataset)
    }

    fn check_vocab(&self, vocab_size: usize) -> Result<()> {
        if vocab_size > i32::MAX as usize {
            return Err(Error::DataFile {
                path: self.path.clone(),
                reason: format!("vocab_size {vocab_size} does not fit the i32 token ids"),
            });
        }
        if self.format == TokenFormat::Bytes && vocab_size >= 256 {
            return Ok(());
        }
        let vocab = vocab_size as u64;
        let size = self.format.token_size();
        let first_bad = self
            .map
            .chunks_exact(size)
            .position(|bytes| u64::from(decode_token(bytes)) >= vocab);
        if let Some(i) = first_bad {
            return Err(Error::DataFile {
                path: self.path.clone(),
                reason: format!(
                    "token {i} (byte offset {}) is {}, not below vocab_size {vocab_size}",
                    i * size,
                    self.token(i as u64)
                ),
            });
        }
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn n_tokens(&self) -> u64 {
        self.n_tokens
    }

    pub fn n_train_tokens(&self) -> u64 {
        self.n_train_tokens
    }

    pub fn train_windows(&self) -> u64 {
        self.train_windows
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    pub fn batches_per_epoch(&self) -> u64 {
        (self.train_windows / self.batch_size as u64).max(1)
    }

    /// Identifies the batch stream: same id, same batches for the same cursor.
    pub fn stream_id(&self) -> String {
        format!(
            "tokens v1 format={} tokens={} xxh3={:016x} train_tokens={} seq_len={} batch={} seed={}",
            self.format.name(),
            self.n_tokens,
            self.content_hash,
            self.n_train_tokens,
            self.seq_len,
            self.batch_size,
            self.seed
        )
    }

    /// Tokens `start..start + len` in file order (ids were checked against the vocab on open);
    /// positions past the end read as 0, so callers stay within [`Self::n_tokens`].
    pub fn token_ids(&self, start: u64, len: usize) -> Vec<i32> {
        (start..start + len as u64)
            .map(|i| self.token(i) as i32)
            .collect()
    }

    /// The eval contract's windows over the whole file (see [`crate::infer::eval`]): how many
    /// complete, non-overlapping windows of `seq_len + 1` tokens it holds, in file order.
    pub fn contract_windows(&self) -> u64 {
        self.n_tokens / (self.seq_len as u64 + 1)
    }

    /// Appends contract window `w`: its first `seq_len` tokens to `x`, its last `seq_len` to `y`.
    pub fn push_contract_window(&self, w: u64, x: &mut Vec<i32>, y: &mut Vec<i32>) {
        self.push_window(w * (self.seq_len as u64 + 1), x, y);
    }

    fn token(&self, i: u64) -> u32 {
        let size = self.format.token_size();
        let at = i as usize * size;
        self.map.get(at..at + size).map_or(0, decode_token)
    }

    fn push_window(&self, start: u64, x: &mut Vec<i32>, y: &mut Vec<i32>) {
        let t = self.seq_len as u64;
        // tokens are < vocab_size <= i32::MAX (checked when opening)
        x.extend((start..start + t).map(|i| self.token(i) as i32));
        y.extend((start + 1..start + t + 1).map(|i| self.token(i) as i32));
    }

    /// Batch `index` of `epoch` (index taken modulo `batches_per_epoch`): `(x, y)`, each
    /// `[batch_size, seq_len]` row-major.
    pub fn batch(&self, epoch: u64, index: u64) -> (Vec<i32>, Vec<i32>) {
        let index = index % self.batches_per_epoch();
        let key = rng::derive(rng::derive(self.seed, ORDER_TAG), epoch);
        let order = Permutation::new(key, self.train_windows);
        let n = self.batch_size * self.seq_len;
        let (mut x, mut y) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let first = index * self.batch_size as u64;
        for b in 0..self.batch_size as u64 {
            let window = order.apply((first + b) % self.train_windows);
            self.push_window(window * self.seq_len as u64, &mut x, &mut y);
        }
        (x, y)
    }

    /// The eval batches (the eval split's windows in order, wrapping to fill the last batch).
    pub fn eval_batches(&self) -> Vec<(Vec<i32>, Vec<i32>)> {
        let t = self.seq_len as u64;
        (0..self.eval_batch_count as u64)
            .map(|j| {
                let n = self.batch_size * self.seq_len;
                let (mut x, mut y) = (Vec::with_capacity(n), Vec::with_capacity(n));
                for b in 0..self.batch_size as u64 {
                    let window = (j * self.batch_size as u64 + b) % self.eval_windows;
                    self.push_window(self.n_train_tokens + window * t, &mut x, &mut y);
                }
                (x, y)
            })
            .collect()
    }
}

/// One little-endian token id from its 1, 2 or 4 bytes.
fn decode_token(bytes: &[u8]) -> u32 {
    match *bytes {
        [b] => u32::from(b),
        [a, b] => u32::from(u16::from_le_bytes([a, b])),
        [a, b, c, d] => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}
