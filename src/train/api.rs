//! The [`Trainer`] as a library, with the calls users of Hugging Face's `Trainer` know:
//! [`Trainer::train`] (a whole run, optionally resumed), [`Trainer::save_model`] (a deploy-ready
//! model directory) and [`Trainer::save_state`] (the full training state as `checkpoint-<step>/`),
//! plus callbacks ([`super::TrainerCallback`]). The CLI's `xlatrain train` is a thin user of
//! these.
//!
//! A trainer is `Trainer::new(model, args)`: a [`super::Model`] (`Model::from_pretrained(dir)`
//! for a local HF directory or GGUF file, `Model::mlp()` / `Model::gpt()` for models.json's
//! reference models) and the [`crate::config::TrainingArgs`], which must name the same model
//! (else [`crate::Error::ModelMismatch`]). `Trainer::new` opens the client `args.device` names;
//! [`Trainer::with_client`] takes one that is already open.
//!
//! ```no_run
//! use xlatrain::config::{TrainingArgs, TrainingArgsPatch};
//! use xlatrain::train::{Model, Trainer};
//!
//! # fn main() -> xlatrain::Result<()> {
//! let args = TrainingArgs::resolve(TrainingArgsPatch::from_overrides(&[
//!     "model=\"mlp\"",
//!     "max_steps=20",
//!     "mesh=\"data=2,fsdp=2\"",
//!     "output_dir=\"runs/mlp\"",
//! ])?)?;
//! let mut trainer = Trainer::new(Model::mlp(), args)?;
//! let outcome = trainer.train(None)?;
//! println!("final loss {:?}", outcome.summary.final_loss);
//! trainer.save_model(Some("runs/mlp/final".as_ref()))?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checkpoint::{write_durable, write_safetensors_file, CONFIG_FILE};
use crate::config::ResumeFrom;
use crate::{Error, Result};

use super::checkpointing::{train_with_checkpoints, Checkpointing, RunIdentity, RunOutcome};
use super::state::StateSource;
use super::Trainer;

impl Trainer {
    /// The whole run: resume (from `resume_from_checkpoint` when given, else as the arguments
    /// say), train with logging, evaluation and saves at their cadences (and before a stop), a
    /// final save, wait until every save is durable, then `load_best_model_at_end`.
    pub fn train(&mut self, resume_from_checkpoint: Option<ResumeFrom>) -> Result<RunOutcome> {
        if let Some(resume) = resume_from_checkpoint {
            self.args.resume_from_checkpoint = Some(resume);
        }
        self.prepare_output_dir()?;
        let mut checkpointing = Checkpointing::new(self, self.stop_flag())?;
        train_with_checkpoints(self, &mut checkpointing)
    }

    /// Writes the current parameters as a deploy-ready model directory: `model.safetensors`
    /// (each tensor whole, whatever the mesh), `config.json` (an HF model's own config, so
    /// `from_pretrained` loads it), the tokenizer files of an HF model, and
    /// `training_args.json`. `dir` defaults to `output_dir`. Returns the directory.
    pub fn save_model(&self, dir: Option<&Path>) -> Result<PathBuf> {
        let dir = dir.unwrap_or(&self.args.output_dir).to_path_buf();
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io("cannot create the model directory", &dir, e))?;
        let n_params = self.model().param_specs()?.len();
        let (params, _) = StateSource::split(self.state()?, n_params);
        let metadata = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        write_safetensors_file(&dir.join("model.safetensors"), &params, &metadata)?;
        let identity = RunIdentity::new(&self.args, self.model(), self.client())?;
        let json = |value: &serde_json::Value| {
            serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec())
        };
        write_durable(&dir.join(CONFIG_FILE), &json(&identity.model_json))?;
        write_durable(
            &dir.join("training_args.json"),
            self.args.to_json().as_bytes(),
        )?;
        if let Some(model) = &self.args.model_name_or_path {
            let documents =
                crate::hf::checkpoint::tokenizer_documents(model, self.args.tokenizer.as_deref())?;
            for (name, bytes) in documents {
                write_durable(&dir.join(name), &bytes)?;
            }
        }
        Ok(dir)
    }

    /// Saves the full training state now, as the loop's checkpoints are
    /// (`output_dir/checkpoint-<step>/`: parameters, optimizer state, `trainer_state.json`),
    /// and waits until it is durable. Returns its path.
    pub fn save_state(&mut self) -> Result<PathBuf> {
        self.initialize_state()?;
        self.prepare_output_dir()?;
        let mut checkpointing = Checkpointing::new(self, self.stop_flag())?;
        checkpointing.save_once(self)
    }
}
