//! The models `xlatrain bench --models` trains, each with the spec, init, data and optimizer of
//! its JAX peer (`../shared/bench/peers/train_jax.py`), so step time, compile time and losses
//! compare side by side:
//!
//! - `mlp`, `gpt`: models.json's `mlp_784_512_512_10` and `tiny_gpt_bytes`.
//! - `gpt2`: GPT-2 124M's shape (vocab 50257, d_model 768, 12 layers of 12 heads, d_ff 3072)
//!   on the `gpt` spec's init, byte data and AdamW, at seq_len 128 and batch 4 (so `wpe` has 128
//!   rows and the model 123.75M parameters). The JAX side is `train_jax.py --model gpt` on a
//!   models.json whose `gpt` entry has these sizes (`scripts/bench_models.sh` writes it).
//! - `llama`: models.json's `llama_smollm2_135m_width_16L`, SmolLM2-135M's shapes with 16 of its
//!   30 layers, HF tensor names and the llama spec's uniform init, token corpus and AdamW.

use crate::config::{ModelKind, TrainingArgs};
use crate::data::{BatchLayout, DataCursor, Dataset, Inputs};
use crate::hf::HfConfig;
use crate::models::ModelConfig;
use crate::optim::OptimizerSpec;
use crate::pjrt::Client;
use crate::rng;
use std::sync::Arc;

use crate::train::{train_step_program, InitialParams, Mesh, Program, StateLayout, TrainState};
use crate::{Error, Result};

/// One model of `xlatrain bench --models`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BenchModel {
    Mlp,
    Gpt,
    Gpt2,
    Llama,
}

impl BenchModel {
    pub const ALL: [BenchModel; 4] = [
        BenchModel::Mlp,
        BenchModel::Gpt,
        BenchModel::Gpt2,
        BenchModel::Llama,
    ];

    /// The `--models` name.
    pub fn name(self) -> &'static str {
        match self {
            BenchModel::Mlp => "mlp",
            BenchModel::Gpt => "gpt",
            BenchModel::Gpt2 => "gpt2",
            BenchModel::Llama => "llama",
        }
    }

    pub fn parse(name: &str) -> Option<BenchModel> {
        BenchModel::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The name the peers' results use.
    pub fn reference_name(self) -> &'static str {
        match self {
            BenchModel::Mlp => "mlp_784_512_512_10",
            BenchModel::Gpt => "tiny_gpt_bytes",
            BenchModel::Gpt2 => "gpt2_124m_bytes",
            BenchModel::Llama => "llama_smollm2_135m_width_16L",
        }
    }

    /// The built-in reference model kind behind it (what the async-save probe trains).
    pub fn kind(self) -> Option<ModelKind> {
        match self {
            BenchModel::Mlp => Some(ModelKind::Mlp),
            BenchModel::Gpt => Some(ModelKind::Gpt),
            BenchModel::Gpt2 | BenchModel::Llama => None,
        }
    }

    /// Steps run before timing starts (the JAX peer's `timing_warmup_steps_excluded`; the two
    /// real-size models use 2, as `scripts/bench_models.sh` sets on the JAX side).
    pub fn warmup_steps(self) -> usize {
        match self {
            BenchModel::Mlp => 10,
            BenchModel::Gpt => 5,
            BenchModel::Gpt2 | BenchModel::Llama => 2,
        }
    }

    /// Timed steps when `--steps` is not given.
    pub fn default_steps(self, quick: bool) -> usize {
        match (self, quick) {
            (BenchModel::Mlp, false) => 100,
            (BenchModel::Mlp, true) => 30,
            (BenchModel::Gpt, false) => 30,
            (BenchModel::Gpt, true) => 8,
            (BenchModel::Gpt2 | BenchModel::Llama, false) => 6,
            (BenchModel::Gpt2 | BenchModel::Llama, true) => 3,
        }
    }

    /// `samples/s` (the MLP) or `tokens/s`.
    pub fn throughput_unit(self) -> &'static str {
        match self {
            BenchModel::Mlp => "samples/s",
            _ => "tokens/s",
        }
    }

    /// The model, optimizer, initial parameters and batches of its reference run.
    pub fn run(self) -> Result<BenchRun> {
        match self {
            BenchModel::Mlp | BenchModel::Gpt => {
                let kind = self.kind().unwrap_or(ModelKind::Gpt);
                dataset_run(TrainingArgs::defaults(kind))
            }
            BenchModel::Gpt2 => {
                let mut args = TrainingArgs::defaults(ModelKind::Gpt);
                args.vocab_size = Some(50257);
                args.d_model = Some(768);
                args.n_layers = Some(12);
                args.n_heads = Some(12);
                args.d_ff = Some(3072);
                args.per_device_train_batch_size = GPT2_BATCH;
                dataset_run(args)
            }
            BenchModel::Llama => llama_run(),
        }
    }
}

/// Batch of the `gpt2` bench model.
const GPT2_BATCH: usize = 4;

/// A bench model ready to train: what [`super::measure_training`] times.
pub struct BenchRun {
    pub model: ModelConfig,
    pub optimizer: OptimizerSpec,
    /// Seeds the device PRNG key of the state.
    pub seed: u64,
    pub batch_size: usize,
    pub layout: BatchLayout,
    init: Option<Vec<Vec<f32>>>,
    batches: Batches,
}

enum Batches {
    Dataset(Box<Dataset>, DataCursor),
    Llama(LlamaCorpus),
}

impl BenchRun {
    /// The trainer's step program for this run (one micro-batch per step).
    pub fn step_program(&self) -> Result<Program> {
        train_step_program(&self.model, &self.optimizer, &self.layout, 1)
    }

    /// The initial state on device 0: the spec init, zero moments, step 0, the seed's key.
    pub fn initial_state(&self, client: &Client) -> Result<TrainState> {
        match &self.init {
            None => TrainState::initial(client, &self.model, &self.optimizer, self.seed),
            Some(values) => {
                let layout =
                    StateLayout::new(&self.model, &self.optimizer, Mesh::single(), vec![0])?;
                let params = InitialParams::Values(values);
                TrainState::fresh(client, Arc::new(layout), &self.model, params, self.seed)
            }
        }
    }

    /// The next batch `(x, y)` of the run's stream (batch 0 first).
    pub fn next_batch(&mut self) -> (Inputs, Vec<i32>) {
        match &mut self.batches {
            Batches::Dataset(dataset, cursor) => {
                let batch = dataset.next_batch(cursor);
                (batch.x, batch.y)
            }
            Batches::Llama(corpus) => {
                let (x, y) = corpus.batch(corpus.next_step, self.batch_size);
                corpus.next_step += 1;
                (Inputs::I32(x), y)
            }
        }
    }
}

fn dataset_run(args: TrainingArgs) -> Result<BenchRun> {
    let model = args.model_config()?;
    let dataset = Dataset::open(&args.data_spec()?)?;
    let optimizer = OptimizerSpec::from_args(&args, args.max_steps.unwrap_or(500));
    let cursor = dataset.start_cursor();
    Ok(BenchRun {
        model,
        optimizer,
        seed: args.seed,
        batch_size: args.per_device_train_batch_size,
        layout: dataset.batch_layout(),
        init: None,
        batches: Batches::Dataset(Box::new(dataset), cursor),
    })
}

/// models.json `llama`: the HF config, batch and sequence, init and data seeds.
const LLAMA_BATCH: usize = 4;
const LLAMA_SEQ: usize = 128;
const LLAMA_INIT_SEED: u64 = 1234;
const LLAMA_INIT_STD: f64 = 0.02;
const LLAMA_DATA_SEED: u64 = 11;
const LLAMA_LEXICON: usize = 1024;
const LLAMA_MAX_WORD_LEN: usize = 4;
const LLAMA_WORDS: usize = 100_000;

fn llama_config() -> Result<HfConfig> {
    let json = serde_json::json!({
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 16,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
        "hidden_act": "silu", "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
        "attention_bias": false, "mlp_bias": false, "tie_word_embeddings": true,
        "max_position_embeddings": 8192, "torch_dtype": "float32"
    });
    HfConfig::from_json(std::path::Path::new("models.json llama.config"), &json)
}

fn llama_run() -> Result<BenchRun> {
    let model = ModelConfig::Hf(llama_config()?);
    // the llama spec's optimizer is the gpt spec's: AdamW (0.9, 0.95), wd 0.1 on matrices,
    // clip 1.0, constant lr 1e-3
    let args = TrainingArgs::defaults(ModelKind::Gpt);
    let optimizer = OptimizerSpec::from_args(&args, 60);
    let bound = LLAMA_INIT_STD * 3f64.sqrt();
    let init = model
        .param_specs()?
        .iter()
        .enumerate()
        .map(|(k, spec)| {
            let n = spec.shape.iter().product();
            if spec.shape.len() >= 2 {
                rng::uniform_init(rng::derive(LLAMA_INIT_SEED, k as u64), n, bound)
            } else {
                vec![1.0; n]
            }
        })
        .collect();
    let vocab = match &model {
        ModelConfig::Hf(c) => c.vocab_size,
        _ => 0,
    };
    Ok(BenchRun {
        model,
        optimizer,
        seed: args.seed,
        batch_size: LLAMA_BATCH,
        layout: BatchLayout {
            x_type: crate::DType::S32,
            x_shape: vec![LLAMA_BATCH, LLAMA_SEQ],
            y_shape: vec![LLAMA_BATCH, LLAMA_SEQ],
        },
        init: Some(init),
        batches: Batches::Llama(LlamaCorpus::new(vocab)?),
    })
}

/// models.json `llama.data`: pseudo-words of 1-4 tokens over the vocabulary, concatenated.
struct LlamaCorpus {
    tokens: Vec<i32>,
    next_step: u64,
}

impl LlamaCorpus {
    fn new(vocab: usize) -> Result<LlamaCorpus> {
        let m = LLAMA_MAX_WORD_LEN;
        let lexicon = rng::stream(rng::derive(LLAMA_DATA_SEED, 0), LLAMA_LEXICON * (1 + m));
        let words: Vec<&[u64]> = lexicon
            .chunks(1 + m)
            .map(|row| &row[1..1 + 1 + (row[0] % m as u64) as usize])
            .collect();
        let mut tokens = Vec::new();
        for w in rng::stream_from(rng::derive(LLAMA_DATA_SEED, 1), 0).take(LLAMA_WORDS) {
            let word = words[(w % LLAMA_LEXICON as u64) as usize];
            tokens.extend(word.iter().map(|&z| (z % vocab as u64) as i32));
        }
        if tokens.len() <= LLAMA_SEQ + 1 {
            return Err(Error::BenchCheck {
                check: "llama corpus".into(),
                reason: format!("{} tokens", tokens.len()),
            });
        }
        Ok(LlamaCorpus {
            tokens,
            next_step: 0,
        })
    }

    /// Batch `step`: windows of `T + 1` tokens at `o = stream(derive(seed, 2 + step), B) % n`,
    /// `n = len - T - 1`.
    fn batch(&self, step: u64, batch_size: usize) -> (Vec<i32>, Vec<i32>) {
        let t = LLAMA_SEQ;
        let range = (self.tokens.len() - t - 1) as u64;
        let (mut x, mut y) = (Vec::new(), Vec::new());
        let offsets = rng::stream_from(rng::derive(LLAMA_DATA_SEED, 2 + step), 0);
        for o in offsets.take(batch_size) {
            let start = (o % range) as usize;
            let window = &self.tokens[start..start + t + 1];
            x.extend_from_slice(&window[..t]);
            y.extend_from_slice(&window[1..]);
        }
        (x, y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_size_models_have_their_reference_parameter_counts() {
        let count = |m: BenchModel| m.run().unwrap().model.param_count().unwrap();
        // models.json: 28312128 + 3540096 * 16
        assert_eq!(count(BenchModel::Llama), 84_953_664);
        // GPT-2 124M with 128 positions: 50257*768 + 128*768 + 12*7087872 + 2*768
        assert_eq!(count(BenchModel::Gpt2), 123_751_680);
    }

    /// The JAX peer's fingerprints of the llama run (peers/results/train.json): corpus, batch 0
    /// and two init tensors.
    #[test]
    fn the_llama_run_has_the_jax_peers_corpus_batches_and_init() {
        let mut run = BenchModel::Llama.run().unwrap();
        let Batches::Llama(corpus) = &run.batches else {
            panic!("llama batches")
        };
        assert_eq!(corpus.tokens.len(), 254_500);
        assert_eq!(
            corpus.tokens[..8],
            [168, 3864, 1315, 18186, 4965, 23848, 5548, 2517]
        );
        let sum: i64 = corpus.tokens.iter().map(|&t| i64::from(t)).sum();
        assert_eq!(sum, 6_323_411_613);
        let (x, y) = run.next_batch();
        let Inputs::I32(x) = x else {
            panic!("token ids")
        };
        assert_eq!(x[..4], [25007, 16318, 41658, 35632]);
        assert_eq!(x.iter().map(|&t| i64::from(t)).sum::<i64>(), 12_630_424);
        assert_eq!(y.iter().map(|&t| i64::from(t)).sum::<i64>(), 12_639_157);
        let init = run.init.as_ref().unwrap();
        let sum = |v: &[f32]| v.iter().map(|&x| f64::from(x)).sum::<f64>();
        assert!((sum(&init[0]) - 68.176_705_598_334_58).abs() < 1e-9);
        assert_eq!(f64::from(init[0][0]), f64::from_bits(0x3F80_ADED_6000_0000));
        // the last layer's down_proj: index 1 + 15 * 9 + 6
        assert!((sum(&init[1 + 15 * 9 + 6]) - -0.618_028_848_948_508_6).abs() < 1e-9);
    }

    #[test]
    fn names_round_trip() {
        for m in BenchModel::ALL {
            assert_eq!(BenchModel::parse(m.name()), Some(m));
        }
        assert_eq!(BenchModel::parse("resnet"), None);
    }
}
