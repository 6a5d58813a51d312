//! Sequence-classification data: a `.jsonl` file of examples, each a text (and optionally a
//! second text, the pair), and a label, tokenized once, cached, and served as padded batches.
//!
//! - **Rows.** One JSON object per line (blank lines skipped): the text column
//!   (`--text-column`, default `text`), the optional pair column (`--text-pair-column`) and the
//!   label column (`--label-column`, default `label`), an integer id or a string name. Anything
//!   else is an error naming the file, the line and the column.
//! - **Labels.** Names map to ids by the model's `id2label` when its head is kept or its
//!   `id2label` names them all, else by sorted name (as transformers' `run_glue` builds its
//!   label list); integer labels are ids. The map is written into the checkpoints' config.json
//!   (`id2label`/`label2id`), see [`label_names`].
//! - **Tokens.** Each example is encoded as transformers' `tokenizer(text, pair,
//!   truncation=True, max_length=max_seq_length)` (special tokens and token types from the
//!   tokenizer's post-processor), cached as JSON beside the data under a name keyed by the
//!   data's hash, the tokenizer's, the columns and the length, written atomically.
//! - **Batches** are `x: s32 [B, 3, T]` (ids padded with `pad_token_id`, attention mask, token
//!   types; see [`crate::models::bert`]) and `y: s32 [B]`, padded to `T = max_seq_length` so the
//!   train step compiles once. Each epoch visits the train examples in a seeded order; the
//!   examples of an incomplete last batch wait for the next epoch's order.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::order::Permutation;
use crate::models::bert::INPUT_ROWS;
use crate::tokenizer::Tokenizer;
use crate::{rng, Error, Result};

/// The label column when none is given (as in HF `datasets`).
pub const DEFAULT_LABEL_COLUMN: &str = "label";
/// Bumped when the cache layout or the encoding rules change.
const CACHE_VERSION: &str = "xlatrain-classification v1";
/// Seeds the per-epoch order (with the run's data seed).
const ORDER_TAG: u64 = 0x636c_6173_735f_6f72; // "class_or"

/// A label as the file holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawLabel {
    Id(u64),
    Name(String),
}

impl std::fmt::Display for RawLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawLabel::Id(i) => write!(f, "{i}"),
            RawLabel::Name(n) => write!(f, "{n:?}"),
        }
    }
}

/// Which columns hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    pub text: String,
    pub text_pair: Option<String>,
    /// `None` for unlabelled inputs (`xlatrain predict`).
    pub label: Option<String>,
}

/// One tokenized example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Example {
    pub ids: Vec<u32>,
    pub types: Vec<u32>,
    pub label: Option<RawLabel>,
}

/// What to load for training or evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassificationOptions {
    pub path: PathBuf,
    pub tokenizer: PathBuf,
    pub columns: Columns,
    pub max_seq_length: usize,
    /// Label names by id (the model's, see [`label_names`]).
    pub labels: Vec<String>,
    pub pad_token_id: u32,
    /// The model's token and token-type table sizes: ids at or above them are refused.
    pub vocab_size: usize,
    pub type_vocab_size: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Fraction of the examples held out at the end for eval.
    pub eval_fraction: f64,
}

fn data_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::DataFile {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// The rows of a JSONL file: `(line, text, pair, label)`.
type Row = (usize, String, Option<String>, Option<RawLabel>);

fn read_rows(path: &Path, columns: &Columns) -> Result<Vec<Row>> {
    let is_jsonl = super::text::TextFormat::of(path) == Some(super::text::TextFormat::Jsonl);
    if !is_jsonl {
        return Err(data_error(
            path,
            "classification data must be a .jsonl file (one JSON object per example)",
        ));
    }
    let file = File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut rows = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| Error::io("cannot read", path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| data_error(path, format!("line {line_no}: {reason}"));
        let value: Value =
            serde_json::from_str(&line).map_err(|e| at(format!("not valid JSON: {e}")))?;
        let text = |column: &str| -> Result<String> {
            match value.get(column) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Err(at(format!("column {column:?} is {other}, not a string"))),
                None => Err(at(format!("has no column {column:?}"))),
            }
        };
        let first = text(&columns.text)?;
        let pair = columns.text_pair.as_deref().map(text).transpose()?;
        let label = match columns.label.as_deref() {
            None => None,
            Some(column) => Some(match value.get(column) {
                Some(Value::String(s)) => RawLabel::Name(s.clone()),
                Some(Value::Number(n)) if n.as_u64().is_some() => {
                    RawLabel::Id(n.as_u64().unwrap_or(0))
                }
                Some(other) => {
                    return Err(at(format!(
                        "label column {column:?} is {other}: labels are ids (0, 1, ...) or names"
                    )))
                }
                None => return Err(at(format!("has no label column {column:?}"))),
            }),
        };
        rows.push((line_no, first, pair, label));
    }
    if rows.is_empty() {
        return Err(data_error(path, "holds no examples"));
    }
    Ok(rows)
}

/// The distinct labels of a file's label column, sorted (ids before names).
pub fn scan_labels(path: &Path, label_column: &str, text: &Columns) -> Result<Vec<RawLabel>> {
    let columns = Columns {
        label: Some(label_column.to_string()),
        ..text.clone()
    };
    let mut labels: Vec<RawLabel> = read_rows(path, &columns)?
        .into_iter()
        .filter_map(|(_, _, _, l)| l)
        .collect();
    labels.sort();
    labels.dedup();
    Ok(labels)
}

/// The label names by id of a classifier trained on data with `found` labels (distinct,
/// sorted): `model` is the config's `id2label`, `head_kept` whether the weights hold a head (its
/// label set is then fixed), `num_labels` the `--num-labels` asked for.
pub fn label_names(
    found: &[RawLabel],
    model: &[String],
    head_kept: bool,
    num_labels: Option<usize>,
    origin: &Path,
) -> Result<Vec<String>> {
    let bad = |reason: String| data_error(origin, reason);
    if found.iter().any(|l| matches!(l, RawLabel::Id(_)))
        && found.iter().any(|l| matches!(l, RawLabel::Name(_)))
    {
        return Err(bad(
            "mixes integer and string labels; use one kind throughout".into(),
        ));
    }
    let outside = |l: &RawLabel, names: &[String]| match l {
        RawLabel::Name(n) => !names.contains(n),
        RawLabel::Id(i) => *i as usize >= names.len(),
    };
    let unknown = found.iter().find(|l| outside(l, model));
    let is_default = model == crate::hf::encoder::default_labels(model.len());
    let names: Vec<String> = if head_kept || (!is_default && unknown.is_none()) {
        if let Some(label) = unknown {
            return Err(bad(format!(
                "label {label} is not one of the model head's {} labels {model:?} (a model \
                 without a classification head starts a fresh one for the data's labels)",
                model.len()
            )));
        }
        model.to_vec()
    } else if found.iter().all(|l| matches!(l, RawLabel::Name(_))) && !found.is_empty() {
        found
            .iter()
            .filter_map(|l| match l {
                RawLabel::Name(n) => Some(n.clone()),
                RawLabel::Id(_) => None,
            })
            .collect()
    } else {
        let n = found
            .iter()
            .filter_map(|l| match l {
                RawLabel::Id(i) => Some(*i as usize + 1),
                RawLabel::Name(_) => None,
            })
            .max()
            .unwrap_or(0)
            .max(num_labels.unwrap_or(0))
            .max(2);
        if model.len() == n {
            model.to_vec()
        } else {
            crate::hf::encoder::default_labels(n)
        }
    };
    if let Some(n) = num_labels.filter(|&n| n != names.len()) {
        return Err(Error::InvalidArgument {
            key: "num_labels".into(),
            value: n.to_string(),
            reason: format!(
                "the data and the model give {} labels ({names:?})",
                names.len()
            ),
        });
    }
    Ok(names)
}

/// The id of `label` among `names`.
pub fn label_id(label: &RawLabel, names: &[String]) -> Option<i32> {
    let id = match label {
        RawLabel::Id(i) => usize::try_from(*i).ok().filter(|&i| i < names.len())?,
        RawLabel::Name(n) => names.iter().position(|m| m == n)?,
    };
    i32::try_from(id).ok()
}

/// The tokenized examples of `path`, from the cache when it exists.
pub fn tokenize_cached(
    path: &Path,
    columns: &Columns,
    tokenizer: &Tokenizer,
    max_seq_length: usize,
) -> Result<Vec<Example>> {
    let mut key = Sha256::new();
    let pair = columns.text_pair.clone().unwrap_or_default();
    let label = columns.label.clone().unwrap_or_default();
    for part in [
        CACHE_VERSION,
        tokenizer.sha256(),
        &columns.text,
        &pair,
        &label,
        &max_seq_length.to_string(),
    ] {
        key.update((part.len() as u64).to_le_bytes());
        key.update(part.as_bytes());
    }
    let key = crate::pjrt::cache::hex(&key.finalize()[..8]);
    let data_hash = super::text::hash_file(path)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let cache = path.with_file_name(format!("{name}.{data_hash}-{key}.classification.json"));
    if let Ok(bytes) = std::fs::read(&cache) {
        if let Ok(examples) = serde_json::from_slice::<Vec<Example>>(&bytes) {
            return Ok(examples);
        }
    }
    let truncating = tokenizer.truncating(max_seq_length)?;
    let examples = read_rows(path, columns)?
        .into_iter()
        .map(|(line, text, pair, label)| {
            let (ids, types) = truncating
                .encode_with_types(&text, pair.as_deref())
                .map_err(|e| data_error(path, format!("line {line}: {e}")))?;
            Ok(Example { ids, types, label })
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = serde_json::to_vec(&examples).map_err(|e| data_error(path, e.to_string()))?;
    super::text::write_atomically(&cache, &bytes)?;
    Ok(examples)
}

/// Refuses token ids or token types the model has no embedding rows for (a tokenizer of
/// another model, or pair segments for a model with one token type), which a gather would
/// otherwise clamp silently.
pub fn check_ids(
    path: &Path,
    examples: &[Example],
    vocab_size: usize,
    type_vocab_size: usize,
) -> Result<()> {
    for (i, e) in examples.iter().enumerate() {
        if let Some(id) = e.ids.iter().find(|&&id| id as usize >= vocab_size) {
            return Err(data_error(
                path,
                format!(
                    "example {}: token id {id} is outside the model's vocab_size ({vocab_size}); \
                     is the tokenizer the model's?",
                    i + 1
                ),
            ));
        }
        if let Some(t) = e.types.iter().find(|&&t| t as usize >= type_vocab_size) {
            return Err(data_error(
                path,
                format!(
                    "example {}: token type {t} is outside the model's type_vocab_size \
                     ({type_vocab_size})",
                    i + 1
                ),
            ));
        }
    }
    Ok(())
}

/// `examples` as one batch `[B, 3, len]` (padded with `pad`) and their label ids.
pub fn pack(examples: &[&Example], len: usize, pad: u32, labels: &[i32]) -> (Vec<i32>, Vec<i32>) {
    let mut x = Vec::with_capacity(examples.len() * INPUT_ROWS * len);
    for e in examples {
        let n = e.ids.len().min(len);
        let row = |values: &mut dyn Iterator<Item = i32>, fill: i32, x: &mut Vec<i32>| {
            x.extend(values.take(n));
            x.extend(std::iter::repeat_n(fill, len - n));
        };
        row(&mut e.ids.iter().map(|&i| i as i32), pad as i32, &mut x);
        row(&mut std::iter::repeat_n(1, n), 0, &mut x);
        row(&mut e.types.iter().map(|&t| t as i32), 0, &mut x);
    }
    (x, labels.to_vec())
}

/// A classification data set, ready to batch.
#[derive(Debug)]
pub struct ClassificationDataset {
    examples: Vec<Example>,
    label_ids: Vec<i32>,
    train: usize,
    batch_size: usize,
    seq_len: usize,
    pad: u32,
    seed: u64,
    stream: String,
}

impl ClassificationDataset {
    /// Tokenizes (or reads the cache of) `options.path` and maps its labels.
    pub fn open(options: &ClassificationOptions) -> Result<ClassificationDataset> {
        let path = &options.path;
        let tokenizer = Tokenizer::from_file(&options.tokenizer)?;
        let examples = tokenize_cached(path, &options.columns, &tokenizer, options.max_seq_length)?;
        let label_ids = examples
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let label = e
                    .label
                    .as_ref()
                    .ok_or_else(|| data_error(path, "has no labels"))?;
                label_id(label, &options.labels).ok_or_else(|| {
                    data_error(
                        path,
                        format!(
                            "example {}: label {label} is not one of {:?}",
                            i + 1,
                            options.labels
                        ),
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        check_ids(path, &examples, options.vocab_size, options.type_vocab_size)?;
        let n = examples.len();
        let held_out = ((n as f64) * options.eval_fraction).floor() as usize;
        let train = n - held_out;
        if train < options.batch_size {
            return Err(data_error(
                path,
                format!(
                    "{train} training examples are fewer than one batch of {}",
                    options.batch_size
                ),
            ));
        }
        let stream = format!(
            "classification v1 data={} examples={n} batch={} seq_len={} seed={} held_out={held_out} labels={}",
            super::text::hash_file(path)?,
            options.batch_size,
            options.max_seq_length,
            options.seed,
            options.labels.len()
        );
        Ok(ClassificationDataset {
            examples,
            label_ids,
            train,
            batch_size: options.batch_size,
            seq_len: options.max_seq_length,
            pad: options.pad_token_id,
            seed: options.seed,
            stream,
        })
    }

    pub fn stream_id(&self) -> String {
        self.stream.clone()
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    pub fn batches_per_epoch(&self) -> u64 {
        (self.train / self.batch_size.max(1)) as u64
    }

    fn batch_of(&self, indices: &[usize]) -> (Vec<i32>, Vec<i32>) {
        let examples: Vec<&Example> = indices.iter().map(|&i| &self.examples[i]).collect();
        let labels: Vec<i32> = indices.iter().map(|&i| self.label_ids[i]).collect();
        pack(&examples, self.seq_len, self.pad, &labels)
    }

    /// Batch `index` of `epoch` (taken modulo the batches per epoch).
    pub fn batch(&self, epoch: u64, index: u64) -> (Vec<i32>, Vec<i32>) {
        let index = index % self.batches_per_epoch().max(1);
        let key = rng::derive(rng::derive(self.seed, ORDER_TAG), epoch);
        let order = Permutation::new(key, self.train as u64);
        let first = index * self.batch_size as u64;
        let indices: Vec<usize> = (first..first + self.batch_size as u64)
            .map(|k| order.apply(k) as usize)
            .collect();
        self.batch_of(&indices)
    }

    /// Every example of `range` in order, in batches of the largest size up to `max_batch`
    /// that divides their count (so every example counts once in the metrics).
    fn batches_over(
        &self,
        range: std::ops::Range<usize>,
        max_batch: usize,
    ) -> Vec<(Vec<i32>, Vec<i32>)> {
        let n = range.len();
        let batch = (1..=max_batch.max(1))
            .rev()
            .find(|b| n.is_multiple_of(*b))
            .unwrap_or(1);
        let indices: Vec<usize> = range.collect();
        indices.chunks(batch).map(|c| self.batch_of(c)).collect()
    }

    /// The held-out split's batches (empty without one).
    pub fn eval_batches(&self) -> Vec<(Vec<i32>, Vec<i32>)> {
        self.batches_over(self.train..self.examples.len(), self.batch_size)
    }

    /// Every example, as the held-out set of `--eval-data`.
    pub fn all_batches(&self, max_batch: usize) -> Vec<(Vec<i32>, Vec<i32>)> {
        self.batches_over(0..self.examples.len(), max_batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn string_labels_map_by_sorted_name_for_a_fresh_head() {
        let found = vec![RawLabel::Name("pos".into()), RawLabel::Name("neg".into())];
        let mut sorted = found.clone();
        sorted.sort();
        let model = names(&["LABEL_0", "LABEL_1"]);
        let got = label_names(&sorted, &model, false, None, Path::new("d")).unwrap();
        assert_eq!(got, names(&["neg", "pos"]));
        assert_eq!(label_id(&RawLabel::Name("pos".into()), &got), Some(1));
    }

    #[test]
    fn a_kept_head_fixes_the_labels_and_refuses_unknown_ones() {
        let model = names(&["neg", "pos"]);
        let found = vec![RawLabel::Name("pos".into())];
        assert_eq!(
            label_names(&found, &model, true, None, Path::new("d")).unwrap(),
            model
        );
        let found = vec![RawLabel::Name("meh".into())];
        let e = label_names(&found, &model, true, None, Path::new("d")).unwrap_err();
        assert!(e.to_string().contains("meh"), "{e}");
        let e = label_names(&[RawLabel::Id(2)], &model, true, None, Path::new("d")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn integer_labels_are_ids_and_num_labels_must_agree() {
        let model = names(&["LABEL_0", "LABEL_1"]);
        let found = vec![RawLabel::Id(0), RawLabel::Id(2)];
        let got = label_names(&found, &model, false, None, Path::new("d")).unwrap();
        assert_eq!(got, names(&["LABEL_0", "LABEL_1", "LABEL_2"]));
        let got = label_names(&found, &model, false, Some(5), Path::new("d")).unwrap();
        assert_eq!(got.len(), 5);
        let mixed = vec![RawLabel::Id(0), RawLabel::Name("x".into())];
        assert!(label_names(&mixed, &model, false, None, Path::new("d")).is_err());
        let strings = vec![RawLabel::Name("a".into()), RawLabel::Name("b".into())];
        assert!(label_names(&strings, &model, false, Some(3), Path::new("d")).is_err());
    }

    #[test]
    fn packing_pads_ids_masks_and_types() {
        let e = Example {
            ids: vec![5, 6, 7],
            types: vec![0, 1, 1],
            label: None,
        };
        let (x, y) = pack(&[&e], 5, 9, &[1]);
        assert_eq!(x, [5, 6, 7, 9, 9, 1, 1, 1, 0, 0, 0, 1, 1, 0, 0]);
        assert_eq!(y, [1]);
    }

    #[test]
    fn ids_without_embedding_rows_are_refused_naming_the_example() {
        let e = |ids: Vec<u32>, types: Vec<u32>| Example {
            ids,
            types,
            label: None,
        };
        let ok = [e(vec![1, 2], vec![0, 0])];
        assert!(check_ids(Path::new("d"), &ok, 3, 1).is_ok());
        let bad_id = [e(vec![1, 2], vec![0, 0]), e(vec![3], vec![0])];
        let err = check_ids(Path::new("d"), &bad_id, 3, 1).unwrap_err();
        assert!(err.to_string().contains("example 2"), "{err}");
        let pair = [e(vec![1, 2], vec![0, 1])];
        let err = check_ids(Path::new("d"), &pair, 3, 1).unwrap_err();
        assert!(err.to_string().contains("type_vocab_size"), "{err}");
    }
}
