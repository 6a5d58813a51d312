//! Inference with a Hugging Face model on the device: a [`Session`] holds the uploaded
//! parameters and compiles the programs `xlatrain eval` and `xlatrain generate` run.
//!
//! Every program is built from the same model functions the trainer uses: the logits and loss
//! programs call [`crate::models::logits`]; prefill and decode call
//! [`crate::models::hf_forward`] with a KV cache. Parameters are arguments of every program
//! (borrowed, never donated), so one upload serves all of them.

mod classify;
mod eval;
mod generate;
mod sample;

pub use classify::{ClassifyPrograms, Prediction};
pub use eval::{eval_loss, EvalReport};
pub use generate::{GenerateOptions, Generated, Generator};
pub use sample::Sampling;

use std::path::Path;

use crate::graph::{DType, Graph, Tensor};
use crate::hf::{HfConfig, HfModel};
use crate::lower::{to_stablehlo, LowerOptions};
use crate::models::{self, ModelConfig};
use crate::pjrt::{Arg, Buffer, Client, CompileOptions, Executable};
use crate::Result;

/// A model's parameters on one device, ready to run.
pub struct Session<'c> {
    pub client: &'c Client,
    pub hf: HfConfig,
    pub model: ModelConfig,
    pub params: Vec<Buffer>,
    /// The model directory (tokenizer files), when there is one.
    pub dir: Option<std::path::PathBuf>,
    /// Compiled classification programs (encoders), by batch shape.
    pub classify_programs: ClassifyPrograms,
}

impl<'c> Session<'c> {
    /// Opens `--model-name-or-path` and uploads its weights to device 0.
    pub fn open(client: &'c Client, path: &Path) -> Result<Session<'c>> {
        Session::from_model(client, HfModel::open(path)?)
    }

    /// Uploads an opened model's weights to device 0.
    pub fn from_model(client: &'c Client, model: HfModel) -> Result<Session<'c>> {
        let params = model.upload(client, 0)?;
        Ok(Session {
            client,
            model: ModelConfig::Hf(model.config.clone()),
            hf: model.config,
            params,
            dir: model.dir,
            classify_programs: ClassifyPrograms::default(),
        })
    }

    /// The parameters as graph arguments `0..n`, under their HF names.
    fn param_args(&self, g: &mut Graph) -> Result<Vec<Tensor>> {
        self.model
            .param_specs()?
            .iter()
            .map(|s| g.parameter(&s.name, &s.shape, DType::F32))
            .collect()
    }

    fn compile(&self, g: &Graph, outputs: &[Tensor], options: &LowerOptions) -> Result<Executable> {
        let mlir = to_stablehlo(g, outputs, options)?;
        self.client.compile(&mlir, &CompileOptions::default())
    }

    /// Runs `exe` on the parameters followed by `rest`.
    fn run(&self, exe: &Executable, rest: Vec<Arg<'_>>) -> Result<Vec<Buffer>> {
        let mut args: Vec<Arg> = self.params.iter().map(Arg::Borrowed).collect();
        args.extend(rest);
        exe.execute(args)
    }

    /// Logits `[batch, len, vocab]` (row-major) of `tokens` (`batch * len` ids), through the
    /// trainer's [`models::logits`].
    pub fn logits(&self, tokens: &[i32], batch: usize) -> Result<Vec<f32>> {
        let len = tokens.len() / batch.max(1);
        let mut g = Graph::new();
        let params = self.param_args(&mut g)?;
        let x = g.parameter("tokens", &[batch, len], DType::S32)?;
        let logits = models::logits(&self.model, &mut g, &params, x, None)?;
        let options = LowerOptions {
            module_name: format!("logits_{}", self.model.kind_name()),
            ..LowerOptions::default()
        };
        let exe = self.compile(&g, &[logits], &options)?;
        let x = self.client.upload(tokens, &[batch as i64, len as i64], 0)?;
        let out = self.run(&exe, vec![Arg::Borrowed(&x)])?;
        out.first()
            .ok_or_else(|| crate::Error::ExecuteArgs("the logits program returned nothing".into()))?
            .to_vec::<f32>()
    }
}
