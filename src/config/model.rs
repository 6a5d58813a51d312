//! The model a run's arguments name: [`TrainingArgs::model_config`] (models.json's reference
//! sizes with the size keys given, or a Hugging Face model's own config), the size keys filled in
//! from a given model, and the PJRT client the arguments' `device` names. Kept apart from the
//! settings in `mod.rs` because it is the one place where arguments meet model files.

use std::path::{Path, PathBuf};

use super::{bad, ModelKind, TrainingArgs};
use crate::models::{GptConfig, MlpConfig, ModelConfig};
use crate::Result;

impl TrainingArgs {
    /// The model's configuration: models.json's for the model, with the size keys given here.
    pub fn model_config(&self) -> Result<ModelConfig> {
        if let Some(path) = &self.model_name_or_path {
            return self.hf_model_config(path);
        }
        let config = match self.model {
            ModelKind::Mlp => {
                let mut gpt_only = self.gpt_shape_keys();
                gpt_only.push(("seq_len", self.seq_len.map(|v| v.to_string())));
                if let Some((key, Some(value))) = gpt_only.iter().find(|(_, v)| v.is_some()) {
                    return Err(bad(key, value, "applies to model \"gpt\", not \"mlp\""));
                }
                let mut c = MlpConfig::default();
                if let Some(layers) = &self.layers {
                    c.layers = layers.clone();
                }
                c.init_seed = self.init_seed.unwrap_or(c.init_seed);
                ModelConfig::Mlp(c)
            }
            ModelKind::Gpt => {
                if let Some(layers) = &self.layers {
                    return Err(bad(
                        "layers",
                        &format!("{layers:?}"),
                        "applies to model \"mlp\", not \"gpt\"",
                    ));
                }
                let d = GptConfig::default();
                ModelConfig::Gpt(GptConfig {
                    vocab_size: self.vocab_size.unwrap_or(d.vocab_size),
                    d_model: self.d_model.unwrap_or(d.d_model),
                    n_layers: self.n_layers.unwrap_or(d.n_layers),
                    n_heads: self.n_heads.unwrap_or(d.n_heads),
                    d_ff: self.d_ff.unwrap_or(d.d_ff),
                    seq_len: self.seq_len.unwrap_or(d.seq_len),
                    dropout: self.dropout.unwrap_or(d.dropout),
                    init_std: self.init_std.unwrap_or(d.init_std),
                    layer_norm_eps: d.layer_norm_eps,
                    init_seed: self.init_seed.unwrap_or(d.init_seed),
                })
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// Sets the size and init keys left unset to `config`'s values where they differ from
    /// models.json's (a model given to the trainer wins over the defaults; keys set here stay,
    /// to be checked against it).
    pub fn fill_model_sizes(&mut self, config: &ModelConfig) {
        fn fill<T: PartialEq + Clone>(key: &mut Option<T>, model: &T, default: &T) {
            if key.is_none() && model != default {
                *key = Some(model.clone());
            }
        }
        match config {
            ModelConfig::Mlp(c) => {
                let d = MlpConfig::default();
                fill(&mut self.layers, &c.layers, &d.layers);
                fill(&mut self.init_seed, &c.init_seed, &d.init_seed);
            }
            ModelConfig::Gpt(c) => {
                let d = GptConfig::default();
                fill(&mut self.vocab_size, &c.vocab_size, &d.vocab_size);
                fill(&mut self.d_model, &c.d_model, &d.d_model);
                fill(&mut self.n_layers, &c.n_layers, &d.n_layers);
                fill(&mut self.n_heads, &c.n_heads, &d.n_heads);
                fill(&mut self.d_ff, &c.d_ff, &d.d_ff);
                fill(&mut self.seq_len, &c.seq_len, &d.seq_len);
                fill(&mut self.dropout, &c.dropout, &d.dropout);
                fill(&mut self.init_std, &c.init_std, &d.init_std);
                fill(&mut self.init_seed, &c.init_seed, &d.init_seed);
            }
            ModelConfig::Hf(_) => {}
        }
    }

    /// The GPT's shape and init keys with their values where set (`seq_len` aside: it also
    /// applies to HF models).
    pub(super) fn gpt_shape_keys(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("vocab_size", self.vocab_size.map(|v| v.to_string())),
            ("d_model", self.d_model.map(|v| v.to_string())),
            ("n_layers", self.n_layers.map(|v| v.to_string())),
            ("n_heads", self.n_heads.map(|v| v.to_string())),
            ("d_ff", self.d_ff.map(|v| v.to_string())),
            ("dropout", self.dropout.map(|v| v.to_string())),
            ("init_std", self.init_std.map(|v| v.to_string())),
        ]
    }

    /// The config of `model_name_or_path`; the size keys of our own models are refused by name.
    pub(super) fn hf_model_config(&self, path: &Path) -> Result<ModelConfig> {
        let mut ours = self.gpt_shape_keys();
        ours.push(("layers", self.layers.as_ref().map(|v| format!("{v:?}"))));
        ours.push(("init_seed", self.init_seed.map(|v| v.to_string())));
        if let Some((key, Some(value))) = ours.iter().find(|(_, v)| v.is_some()) {
            return Err(bad(
                key,
                value,
                "does not apply with model_name_or_path: the model's config.json decides its \
                 shape and its weights the initial parameters",
            ));
        }
        self.pretrained_model_config(&crate::hf::HfModel::open(path)?)
    }

    /// The config to train the opened `model` with: its own, or a classifier's with the head
    /// these arguments ask for.
    pub fn pretrained_model_config(&self, model: &crate::hf::HfModel) -> Result<ModelConfig> {
        if model.config.family.is_encoder() {
            return self.classifier_config(model).map(ModelConfig::Hf);
        }
        Ok(ModelConfig::Hf(model.config.clone()))
    }

    /// How to open the client of `device`: `cpu`, `cuda`, `tpu` or the path of a plugin.
    pub fn client_options(&self) -> crate::pjrt::ClientOptions {
        use crate::pjrt::DeviceKind;
        let (device, plugin) = match self.device.as_str() {
            "cpu" => (DeviceKind::Cpu, None),
            "cuda" => (DeviceKind::Cuda, None),
            "tpu" => (DeviceKind::Tpu, None),
            path => (DeviceKind::default(), Some(PathBuf::from(path))),
        };
        crate::pjrt::ClientOptions {
            device,
            plugin,
            ..Default::default()
        }
    }

    /// Tokens per training sequence of an HF model: `seq_len`, else the model's positions up
    /// to 1024 (as HF's `run_clm` picks its block size).
    pub(super) fn hf_seq_len(&self, c: &crate::hf::HfConfig) -> Result<usize> {
        let seq_len = self.seq_len.unwrap_or(c.max_position_embeddings.min(1024));
        c.check_sequence(seq_len)?;
        Ok(seq_len)
    }
}
