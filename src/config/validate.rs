//! [`TrainingArgs::validate`]: every setting and how settings combine, checked once after the
//! layers are applied; the first problem is a usage error naming the key.

use super::*;

impl TrainingArgs {
    /// Checks every setting and how they combine; the first problem is returned.
    pub fn validate(&self) -> Result<()> {
        non_empty("output_dir", &self.output_dir.display().to_string())?;
        non_empty("device", &self.device)?;
        if self.gradient_checkpointing
            && self.model_name_or_path.is_none()
            && self.model == ModelKind::Mlp
        {
            return Err(bad(
                "gradient_checkpointing",
                "true",
                "applies to the transformer models (gpt, HF models); the mlp has no blocks to \
                 recompute",
            ));
        }
        if let Some(peak) = self.peak_tflops {
            if !(peak.is_finite() && peak > 0.0) {
                return Err(bad("peak_tflops", &peak, "must be a positive number"));
            }
        }
        match (self.max_steps, self.num_train_epochs) {
            (Some(0), _) => return Err(bad("max_steps", "0", "must be at least 1")),
            (None, None) => {
                return Err(bad(
                    "max_steps",
                    "(unset)",
                    "set max_steps, or num_train_epochs with a data file",
                ))
            }
            _ => {}
        }
        if let Some(epochs) = self.num_train_epochs {
            if !(epochs.is_finite() && epochs > 0.0) {
                return Err(bad("num_train_epochs", &epochs, "must be a number > 0"));
            }
            if self.max_steps.is_none() && self.data.is_none() {
                return Err(bad(
                    "num_train_epochs",
                    &epochs,
                    "the built-in synthetic data is an endless stream without epochs; set \
                     max_steps instead (or give a data file)",
                ));
            }
        }
        at_least_one(
            "per_device_train_batch_size",
            self.per_device_train_batch_size as u64,
        )?;
        at_least_one(
            "gradient_accumulation_steps",
            self.gradient_accumulation_steps,
        )?;
        if self.gradient_accumulation_steps > MAX_MICRO_BATCHES {
            return Err(bad(
                "gradient_accumulation_steps",
                &self.gradient_accumulation_steps,
                &format!(
                    "at most {MAX_MICRO_BATCHES}: the micro-batches are unrolled in the \
                     train-step program"
                ),
            ));
        }
        let samples_per_step = (self.per_device_train_batch_size as u64)
            .saturating_mul(self.gradient_accumulation_steps);
        if samples_per_step > MAX_SAMPLES_PER_STEP {
            return Err(bad(
                "per_device_train_batch_size",
                &self.per_device_train_batch_size,
                &format!(
                    "times gradient_accumulation_steps ({}) is {samples_per_step} samples per \
                     step; at most {MAX_SAMPLES_PER_STEP} (a step's batch is built in host memory)",
                    self.gradient_accumulation_steps
                ),
            ));
        }
        at_least_one("logging_steps", self.logging_steps)?;
        if let Some(NumDevices::Count(n)) = self.num_devices {
            at_least_one("num_devices", n as u64)?;
        }
        at_least_one("max_eval_batches", self.max_eval_batches as u64)?;
        non_negative("learning_rate", self.learning_rate)?;
        non_negative("weight_decay", self.weight_decay)?;
        non_negative("adam_epsilon", self.adam_epsilon)?;
        non_negative("max_grad_norm", self.max_grad_norm)?;
        unit_interval("adam_beta1", self.adam_beta1)?;
        unit_interval("adam_beta2", self.adam_beta2)?;
        unit_interval("momentum", self.momentum)?;
        unit_interval("eval_fraction", self.eval_fraction)?;
        if self.optimizer == OptimizerKind::AdamW && self.momentum != 0.0 {
            return Err(bad(
                "momentum",
                &self.momentum,
                "applies to optimizer \"sgd\" only (adamw uses adam_beta1)",
            ));
        }
        if self.warmup_steps > 0 && self.lr_scheduler_type == LrSchedulerType::Constant {
            return Err(bad(
                "warmup_steps",
                &self.warmup_steps,
                "lr_scheduler_type \"constant\" has no warm-up; use \"constant_with_warmup\", \
                 \"linear\" or \"cosine\"",
            ));
        }
        if let Some(max_steps) = self.max_steps {
            if self.warmup_steps > max_steps {
                return Err(bad(
                    "warmup_steps",
                    &self.warmup_steps,
                    &format!("is more than max_steps ({max_steps})"),
                ));
            }
        }
        if self.eval_steps == Some(0) {
            return Err(bad("eval_steps", "0", "must be at least 1"));
        }
        if self.save_strategy == SaveStrategy::Steps {
            at_least_one("save_steps", self.save_steps)?;
        }
        if self.save_total_limit == Some(0) {
            return Err(bad(
                "save_total_limit",
                "0",
                "must be at least 1 (leave it out to keep every checkpoint)",
            ));
        }
        self.validate_epoch_strategies()?;
        self.validate_best_model()?;
        self.max_shard_size_bytes()?;
        if let Some(minutes) = self.save_interval_minutes {
            if !(minutes.is_finite() && minutes > 0.0) {
                return Err(bad(
                    "save_interval_minutes",
                    &minutes,
                    "must be a number > 0",
                ));
            }
        }
        if let Some(command) = &self.on_save {
            non_empty("on_save", command)?;
        }
        self.validate_classification_keys()?;
        let has_tokenizer = self.tokenizer.is_some() || self.model_name_or_path.is_some();
        if !has_tokenizer && self.text_column != crate::data::text::DEFAULT_TEXT_COLUMN {
            return Err(bad(
                "text_column",
                &self.text_column,
                "applies to JSONL data tokenized with a tokenizer; set `tokenizer` too",
            ));
        }
        if let Some(path) = &self.eval_data {
            let path = path.display().to_string();
            if self.data.is_none() {
                return Err(bad(
                    "eval_data",
                    &path,
                    "is held-out data for a run on `data`; set `data` too",
                ));
            }
            if self.eval_strategy == EvalStrategy::No {
                return Err(bad(
                    "eval_data",
                    &path,
                    "is evaluated at each evaluation: set eval_strategy to \"steps\" or \"epoch\"",
                ));
            }
        }
        if self.data.is_none() && self.tokenizer.is_some() {
            return Err(bad(
                "tokenizer",
                &self
                    .tokenizer
                    .as_deref()
                    .unwrap_or(Path::new(""))
                    .display()
                    .to_string(),
                "tokenizes a .txt/.jsonl data file; set `data` too",
            ));
        }
        if self.data.is_none() && self.data_format != TokenFormat::Bytes {
            return Err(bad(
                "data_format",
                self.data_format.name(),
                "applies to a data file; set `data` too",
            ));
        }
        if let Some(dir) = &self.logging_dir {
            non_empty("logging_dir", &dir.display().to_string())?;
        }
        if let Some(ResumeFrom::Path(path)) = &self.resume_from_checkpoint {
            non_empty("resume_from_checkpoint", &path.display().to_string())?;
        }
        self.data_spec()?;
        Ok(())
    }

    fn validate_epoch_strategies(&self) -> Result<()> {
        if self.data.is_some() {
            return Ok(());
        }
        let endless = "the built-in synthetic data has no epochs; use \"steps\"";
        if self.eval_strategy == EvalStrategy::Epoch {
            return Err(bad("eval_strategy", "epoch", endless));
        }
        if self.save_strategy == SaveStrategy::Epoch {
            return Err(bad("save_strategy", "epoch", endless));
        }
        Ok(())
    }

    fn validate_best_model(&self) -> Result<()> {
        if let Some(metric) = &self.metric_for_best_model {
            crate::train::metrics::check_metric_name(metric)?;
            if self.model_name_or_path.is_none() && !metric.ends_with("loss") {
                return Err(bad(
                    "metric_for_best_model",
                    metric,
                    "the mlp and gpt pick their best checkpoint by the eval loss: \"eval_loss\" \
                     (or \"loss\"); classification metrics need a bert or roberta model",
                ));
            }
        }
        let needs_eval = if self.save_strategy == SaveStrategy::Best {
            Some("save_strategy")
        } else if self.load_best_model_at_end {
            Some("load_best_model_at_end")
        } else {
            None
        };
        if let Some(key) = needs_eval {
            if self.eval_strategy == EvalStrategy::No {
                return Err(bad(
                    key,
                    if key == "save_strategy" {
                        "best"
                    } else {
                        "true"
                    },
                    "needs evaluation: set eval_strategy to \"steps\" or \"epoch\"",
                ));
            }
        }
        if self.load_best_model_at_end {
            let matching = matches!(
                (self.save_strategy, self.eval_strategy),
                (SaveStrategy::Best, _)
                    | (SaveStrategy::Steps, EvalStrategy::Steps)
                    | (SaveStrategy::Epoch, EvalStrategy::Epoch)
            );
            if !matching {
                return Err(bad(
                    "load_best_model_at_end",
                    "true",
                    "needs save_strategy to match eval_strategy (or be \"best\") so that every \
                     evaluated step has a checkpoint",
                ));
            }
            if self.save_strategy == SaveStrategy::Steps
                && !self.save_steps.is_multiple_of(self.eval_interval())
            {
                return Err(bad(
                    "save_steps",
                    &self.save_steps,
                    &format!(
                        "with load_best_model_at_end, must be a multiple of eval_steps ({})",
                        self.eval_interval()
                    ),
                ));
            }
        }
        Ok(())
    }
}
