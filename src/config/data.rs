//! What data a run reads: the training stream of `data` (or the built-in synthetic streams),
//! the held-out `eval_data`, and text tokenized with a tokenizer, as [`DataSpec`]s.

use super::*;

impl TrainingArgs {
    /// What data to load for this run on one device.
    pub fn data_spec(&self) -> Result<DataSpec> {
        self.data_spec_for_devices(1)
    }

    /// What data to load for a data-parallel run over `devices` devices: batches of the global
    /// batch size `per_device_train_batch_size * devices`, split along the batch axis later.
    pub fn data_spec_for_devices(&self, devices: usize) -> Result<DataSpec> {
        self.data_spec_of(&self.model_config()?, devices)
    }

    /// [`Self::data_spec_for_devices`] for `model`, already resolved from these arguments.
    pub fn data_spec_of(&self, model: &ModelConfig, devices: usize) -> Result<DataSpec> {
        let batch_size = self
            .per_device_train_batch_size
            .checked_mul(devices.max(1))
            .ok_or_else(|| {
                bad(
                    "num_devices",
                    &devices,
                    "per_device_train_batch_size * num_devices overflows",
                )
            })?;
        Ok(match (model, &self.data) {
            (ModelConfig::Mlp(c), None) => DataSpec::MlpSynthetic {
                seed: self.data_seed.unwrap_or(MLP_DATA_SEED),
                batch_size,
                input_dim: c.input_dim(),
                num_classes: c.num_classes(),
            },
            (ModelConfig::Gpt(c), None) => DataSpec::GptSynthetic {
                seed: self.data_seed.unwrap_or(GPT_DATA_SEED),
                batch_size,
                seq_len: c.seq_len,
                vocab_size: c.vocab_size,
                n_words: GPT_CORPUS_WORDS,
            },
            (ModelConfig::Hf(c), None) => {
                return Err(bad(
                    "data",
                    "(unset)",
                    &format!(
                        "fine-tuning a {} model needs a data file: set data",
                        c.family.model_type()
                    ),
                ))
            }
            (model, Some(path)) => {
                self.file_data_spec(model, path, batch_size, self.eval_fraction)?
            }
        })
    }

    /// The held-out `eval_data` file, read like `data` (format, tokenizer, text column) but with
    /// no split of its own; `None` when it is not set.
    pub fn eval_data_spec(&self) -> Result<Option<DataSpec>> {
        if self.eval_data.is_none() {
            return Ok(None);
        }
        self.eval_data_spec_of(&self.model_config()?)
    }

    /// [`Self::eval_data_spec`] for `model`, already resolved from these arguments.
    pub fn eval_data_spec_of(&self, model: &ModelConfig) -> Result<Option<DataSpec>> {
        let Some(path) = &self.eval_data else {
            return Ok(None);
        };
        if matches!(model, ModelConfig::Mlp(_)) {
            return Err(bad(
                "eval_data",
                &path.display().to_string(),
                "is a token corpus for a language model; the mlp evaluates on built-in data",
            ));
        }
        self.file_data_spec(model, path, 1, 0.0).map(Some)
    }

    /// A data file at `path` for `model` (GPT or HF; batches of `batch_size`, `eval_fraction`
    /// held out at its end).
    fn file_data_spec(
        &self,
        model: &ModelConfig,
        path: &Path,
        batch_size: usize,
        eval_fraction: f64,
    ) -> Result<DataSpec> {
        if let ModelConfig::Hf(c) = model {
            if c.family.is_encoder() {
                return self.classification_spec(c, path, batch_size, eval_fraction);
            }
        }
        let (vocab_size, seq_len) = match model {
            ModelConfig::Hf(c) => (c.vocab_size, self.hf_seq_len(c)?),
            ModelConfig::Gpt(c) => (c.vocab_size, c.seq_len),
            ModelConfig::Mlp(_) => {
                return Err(bad(
                    "data",
                    &path.display().to_string(),
                    "data files are token corpora for model \"gpt\"; the mlp trains on \
                     built-in synthetic data",
                ))
            }
        };
        let options = TokenFileOptions {
            path: path.to_path_buf(),
            format: self.data_format,
            vocab_size,
            seq_len,
            batch_size,
            seed: self.data_seed.unwrap_or(self.seed),
            eval_fraction,
            max_eval_batches: self.max_eval_batches,
        };
        if !matches!(model, ModelConfig::Hf(_)) {
            return self.text_data_spec(options);
        }
        let is_text = crate::data::text::TextFormat::of(path).is_some();
        if self.data_format == TokenFormat::Bytes && !is_text {
            return Err(bad(
                "data_format",
                "bytes",
                "a Hugging Face model trains on token ids of its tokenizer: give .txt or \
                 .jsonl text, or a token file with data_format \"u16\" or \"u32\"",
            ));
        }
        // text is tokenized with the model's own tokenizer unless one is given
        // (a token file needs none; --tokenizer then only names the checkpoints' one)
        let model_path = self.model_name_or_path.as_deref();
        let tokenizer = is_text
            .then(|| self.tokenizer.as_deref().or(model_path))
            .flatten();
        self.text_data_spec_with(options, tokenizer)
    }

    /// `options` as text tokenized with `tokenizer` when one is set, else as a token file.
    pub fn text_data_spec(&self, options: TokenFileOptions) -> Result<DataSpec> {
        self.text_data_spec_with(options, self.tokenizer.as_deref())
    }

    /// [`Self::text_data_spec`] with `tokenizer` (a tokenizer.json, a directory holding one, or
    /// a GGUF file).
    fn text_data_spec_with(
        &self,
        options: TokenFileOptions,
        tokenizer: Option<&Path>,
    ) -> Result<DataSpec> {
        let Some(tokenizer) = tokenizer else {
            return Ok(DataSpec::TokenFile(options));
        };
        let path = options.path.display().to_string();
        if crate::data::text::TextFormat::of(&options.path).is_none() {
            return Err(bad(
                "data",
                &path,
                "a tokenizer applies to .txt or .jsonl text; pre-tokenized files need no tokenizer",
            ));
        }
        if self.data_format != TokenFormat::Bytes {
            return Err(bad(
                "data_format",
                self.data_format.name(),
                "text data with a tokenizer is tokenized into u32 ids; leave data_format unset",
            ));
        }
        non_empty("text_column", &self.text_column)?;
        Ok(DataSpec::Text {
            options,
            tokenizer: tokenizer.to_path_buf(),
            text_column: self.text_column.clone(),
        })
    }
}
