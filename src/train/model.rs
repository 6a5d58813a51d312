//! [`Model`]: what a [`super::Trainer`] trains, given the way users of Hugging Face's `Trainer`
//! write it: `Trainer::new(Model::from_pretrained(path)?, args)` for a local HF directory or
//! GGUF file, or a reference model of models.json (`Model::mlp()`, `Model::gpt()`,
//! [`Model::from_config`]). A pretrained model is opened here once; its config and mapped
//! weights go to the trainer, which never opens it again.
//!
//! The training arguments still name the model (`model` or `model_name_or_path`): it decides
//! their defaults (models.json's reference run, or HF's fine-tuning ones), the data and the
//! tokenizer. The trainer refuses a model of another kind or path, or sizes that disagree with
//! the size keys the arguments set ([`crate::Error::ModelMismatch`]), rather than pick one
//! silently; size keys the arguments leave unset take the model's values.

use std::path::{Path, PathBuf};

use crate::config::{ModelKind, TrainingArgs};
use crate::hf::HfModel;
use crate::models::{GptConfig, MlpConfig, ModelConfig};
use crate::{Error, Result};

/// A model to train: a reference model's configuration, or a pretrained model with its weights.
#[derive(Debug)]
pub struct Model {
    source: Source,
}

#[derive(Debug)]
enum Source {
    Config(ModelConfig),
    Pretrained { path: PathBuf, model: HfModel },
}

impl Model {
    /// A local Hugging Face model directory (`config.json` and safetensors weights) or a
    /// `.gguf` file, opened now (nothing is downloaded). Its weights are the initial parameters.
    pub fn from_pretrained(path: impl AsRef<Path>) -> Result<Model> {
        let path = path.as_ref();
        Ok(Model {
            source: Source::Pretrained {
                path: path.to_path_buf(),
                model: HfModel::open(path)?,
            },
        })
    }

    /// A reference model of this configuration, initialized as models.json says.
    pub fn from_config(config: ModelConfig) -> Model {
        Model {
            source: Source::Config(config),
        }
    }

    /// The reference model `kind` with models.json's sizes.
    pub fn reference(kind: ModelKind) -> Model {
        Model::from_config(match kind {
            ModelKind::Mlp => ModelConfig::Mlp(MlpConfig::default()),
            ModelKind::Gpt => ModelConfig::Gpt(GptConfig::default()),
        })
    }

    /// models.json's reference MLP.
    pub fn mlp() -> Model {
        Model::reference(ModelKind::Mlp)
    }

    /// models.json's reference GPT.
    pub fn gpt() -> Model {
        Model::reference(ModelKind::Gpt)
    }

    /// The model `args` name: `model_name_or_path` opened, else `model` with the size keys
    /// (what `xlatrain train` trains).
    pub fn from_args(args: &TrainingArgs) -> Result<Model> {
        match &args.model_name_or_path {
            Some(path) => Model::from_pretrained(path),
            None => Ok(Model::from_config(args.model_config()?)),
        }
    }

    /// The directory or GGUF file of a pretrained model.
    pub fn pretrained_path(&self) -> Option<&Path> {
        match &self.source {
            Source::Pretrained { path, .. } => Some(path),
            Source::Config(_) => None,
        }
    }

    /// The configuration to train with under `args` (a classifier's head as `args` ask for
    /// it) and, for a pretrained model, its opened weights. A reference model's sizes win over
    /// models.json's: the size keys `args` leave unset take the model's values (so
    /// `training_args.json` describes it). Refuses a model of another kind or path than `args`
    /// name, or sizes that disagree with the keys `args` set.
    pub(crate) fn resolve(self, args: &mut TrainingArgs) -> Result<(ModelConfig, Option<HfModel>)> {
        let kind = format!("{:?}", args.model).to_lowercase();
        let named = match &args.model_name_or_path {
            Some(path) => format!("model_name_or_path = {}", path.display()),
            None => format!("model = {kind}"),
        };
        match self.source {
            Source::Pretrained { path, model } => {
                let agrees = args
                    .model_name_or_path
                    .as_deref()
                    .is_some_and(|given| same_path(given, &path));
                if !agrees {
                    return Err(Error::ModelMismatch {
                        model: format!("Model::from_pretrained({})", path.display()),
                        args: named,
                        hint: "set model_name_or_path to the same path (the data, the tokenizer \
                               and the fine-tuning defaults follow it)"
                            .into(),
                    });
                }
                Ok((args.pretrained_model_config(&model)?, Some(model)))
            }
            Source::Config(ModelConfig::Hf(c)) => Err(Error::ModelMismatch {
                model: format!("a {} config without weights", c.family.model_type()),
                args: named,
                hint: "a Hugging Face model trains from its weights: use Model::from_pretrained"
                    .into(),
            }),
            Source::Config(config) => {
                let kind_agrees = args.model_name_or_path.is_none() && config.kind_name() == kind;
                let mismatch = |args: String| Error::ModelMismatch {
                    model: describe(&config),
                    args,
                    hint: "give the arguments the same model, and size keys that agree with it \
                           (or none), or build the model with Model::from_args"
                        .into(),
                };
                if !kind_agrees {
                    return Err(mismatch(named));
                }
                if args.model_config()? != config {
                    args.fill_model_sizes(&config);
                    let expected = args.model_config()?;
                    if expected != config {
                        return Err(mismatch(describe(&expected)));
                    }
                }
                Ok((config, None))
            }
        }
    }
}

/// Whether two spellings name the same file or directory.
fn same_path(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (a.canonicalize(), b.canonicalize()),
            (Ok(a), Ok(b)) if a == b
        )
}

/// A configuration in one line, e.g. `mlp MlpConfig { layers: [784, 256, 10], .. }`.
fn describe(config: &ModelConfig) -> String {
    match config {
        ModelConfig::Mlp(c) => format!("mlp {c:?}"),
        ModelConfig::Gpt(c) => format!("gpt {c:?}"),
        ModelConfig::Hf(c) => c.family.model_type().to_string(),
    }
}
