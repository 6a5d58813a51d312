//! The settings of a sequence-classification run (an encoder model): the label set the model
//! is trained for (from its config, the training data and `num_labels`) and the data spec of
//! labelled `.jsonl` files.

use super::*;
use crate::data::classification::{label_names, scan_labels, ClassificationOptions, Columns};
use crate::hf::{HfConfig, HfModel};

/// `max_seq_length` when none is given (transformers' `run_glue` default).
pub const DEFAULT_MAX_SEQ_LENGTH: usize = 128;

impl TrainingArgs {
    /// `model`'s config with the labels of this run: those of its head when the weights hold
    /// one, else those of the training data (or `num_labels` of them).
    pub(super) fn classifier_config(&self, model: &HfModel) -> Result<HfConfig> {
        let config = model.config.clone();
        let table = crate::hf::tensor_table(&config);
        let head_kept = table.params[table.head_start()..]
            .iter()
            .rev()
            .take(2)
            .all(|p| model.weights.has(&table, &p.name));
        let current = config.encoder()?.id2label.clone();
        let Some(data) = &self.data else {
            return Ok(config);
        };
        let found = scan_labels(data, &self.label_column, &self.columns())?;
        let names = label_names(&found, &current, head_kept, self.num_labels, data)?;
        if names == current {
            return Ok(config);
        }
        config.with_labels(names)
    }

    fn columns(&self) -> Columns {
        Columns {
            text: self.text_column.clone(),
            text_pair: self.text_pair_column.clone(),
            label: Some(self.label_column.clone()),
        }
    }

    /// The classification keys apply to a model directory's data (the model decides whether it
    /// is a classifier; [`Self::classifier_config`] reads them).
    pub(super) fn validate_classification_keys(&self) -> Result<()> {
        let set = [
            ("text_pair_column", self.text_pair_column.clone()),
            ("max_seq_length", self.max_seq_length.map(|v| v.to_string())),
            ("num_labels", self.num_labels.map(|v| v.to_string())),
        ];
        if self.model_name_or_path.is_none() {
            if let Some((key, Some(value))) = set.iter().find(|(_, v)| v.is_some()) {
                return Err(bad(
                    key,
                    value,
                    "applies to sequence classification with an encoder model: set \
                     model_name_or_path to a bert or roberta directory",
                ));
            }
        }
        if let Some(n) = self.num_labels.filter(|&n| n < 2) {
            return Err(bad(
                "num_labels",
                &n,
                "classification needs at least 2 labels",
            ));
        }
        Ok(())
    }

    /// Tokens per example: `max_seq_length`, else 128 or the model's positions when fewer.
    pub fn classification_seq_len(&self, c: &HfConfig) -> Result<usize> {
        let offset = c.encoder()?.position_offset;
        let fits = c.max_position_embeddings.saturating_sub(offset);
        let len = self
            .max_seq_length
            .unwrap_or(DEFAULT_MAX_SEQ_LENGTH.min(fits));
        if len == 0 {
            return Err(bad("max_seq_length", &len, "must be at least 1"));
        }
        c.check_sequence(len)?;
        Ok(len)
    }

    /// The labelled `.jsonl` file `path` for classifier `c`, tokenized with the model's
    /// tokenizer (or `tokenizer`).
    pub(super) fn classification_spec(
        &self,
        c: &HfConfig,
        path: &Path,
        batch_size: usize,
        eval_fraction: f64,
    ) -> Result<DataSpec> {
        let encoder = c.encoder()?;
        let tokenizer = self
            .tokenizer
            .clone()
            .or_else(|| self.model_name_or_path.clone())
            .ok_or_else(|| {
                bad(
                    "tokenizer",
                    "(unset)",
                    "a classifier's text data needs a tokenizer",
                )
            })?;
        non_empty("text_column", &self.text_column)?;
        non_empty("label_column", &self.label_column)?;
        Ok(DataSpec::Classification(ClassificationOptions {
            path: path.to_path_buf(),
            tokenizer,
            columns: self.columns(),
            max_seq_length: self.classification_seq_len(c)?,
            labels: encoder.id2label.clone(),
            pad_token_id: encoder.pad_token_id,
            vocab_size: c.vocab_size,
            type_vocab_size: encoder.type_vocab_size,
            batch_size,
            seed: self.data_seed.unwrap_or(self.seed),
            // with held-out data of its own, all of `data` trains
            eval_fraction: if self.eval_data.is_some() {
                0.0
            } else {
                eval_fraction
            },
        }))
    }
}
