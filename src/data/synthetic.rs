//! The two built-in synthetic datasets of models.json, bit-identical to the JAX reference:
//! MNIST-shaped classification for the MLP and a pseudo-word byte corpus for the GPT. Both are
//! endless streams indexed by the training step `s`: batch `s` depends only on `(seed, s)`.

use crate::rng;

/// Stream tag of the MLP class prototypes: `derive(seed, 2^32 - 1)`.
const PROTOTYPE_TAG: u64 = 4_294_967_295;

/// models.json `mlp.data.seed`.
pub const MLP_DATA_SEED: u64 = 42;

/// models.json `gpt.data.seed`.
pub const GPT_DATA_SEED: u64 = 7;

/// models.json `gpt.data.words`.
pub const WORDS: [&str; 54] = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "at",
    "this",
    "from",
    "model",
    "tensor",
    "graph",
    "compile",
    "shard",
    "checkpoint",
    "gradient",
    "layer",
    "kernel",
    "device",
    "buffer",
    "step",
    "train",
    "loss",
    "weight",
    "batch",
    "token",
    "vector",
    "matrix",
    "memory",
    "cache",
    "stream",
    "random",
    "key",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "lazy",
    "dog",
    "rust",
    "xla",
    "pjrt",
    "stablehlo",
    "safetensors",
];

/// models.json `gpt.data.n_words`.
pub const GPT_CORPUS_WORDS: usize = 200_000;

/// Synthetic classification: `num_classes` prototype images, each sample a faint copy of its
/// class's prototype over uniform noise: `x = f32(0.0625 * proto[y] + 0.9375 * u)`.
#[derive(Debug, Clone)]
pub struct MlpSynthetic {
    seed: u64,
    batch_size: usize,
    input_dim: usize,
    num_classes: usize,
    prototypes: Vec<f64>,
}

impl MlpSynthetic {
    /// Callers ensure `batch_size, input_dim, num_classes >= 1`.
    pub fn new(seed: u64, batch_size: usize, input_dim: usize, num_classes: usize) -> Self {
        let prototypes = rng::stream_from(rng::derive(seed, PROTOTYPE_TAG), 0)
            .take(num_classes * input_dim)
            .map(rng::u01)
            .collect();
        MlpSynthetic {
            seed,
            batch_size,
            input_dim,
            num_classes,
            prototypes,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn input_dim(&self) -> usize {
        self.input_dim
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// Batch `step`: `x` is `[batch_size, input_dim]` row-major, `y` is `[batch_size]`.
    pub fn batch(&self, step: u64) -> (Vec<f32>, Vec<i32>) {
        let (b, d) = (self.batch_size, self.input_dim);
        let mut z = rng::stream_from(rng::derive(self.seed, step), 0);
        let classes = self.num_classes as u64;
        let labels: Vec<usize> = z.by_ref().take(b).map(|v| (v % classes) as usize).collect();
        let mut x = Vec::with_capacity(b * d);
        for &label in &labels {
            let proto = &self.prototypes[label * d..(label + 1) * d];
            for &p in proto {
                let u = rng::u01(z.next().unwrap_or_default());
                x.push((0.0625 * p + 0.9375 * u) as f32);
            }
        }
        // labels are < num_classes, which `Dataset::open` keeps within i32
        let y = labels
            .into_iter()
            .map(|l| i32::try_from(l).unwrap_or(i32::MAX))
            .collect();
        (x, y)
    }
}

/// The pseudo-word byte corpus and its batches of `seq_len + 1` byte windows at random offsets.
#[derive(Debug, Clone)]
pub struct GptSynthetic {
    seed: u64,
    batch_size: usize,
    seq_len: usize,
    corpus: Vec<u8>,
}

impl GptSynthetic {
    /// Builds the corpus of `n_words` words (models.json: 200000, about 1.1 MB).
    pub fn new(seed: u64, batch_size: usize, seq_len: usize, n_words: usize) -> Self {
        let mut corpus = Vec::with_capacity(n_words * 7);
        for z in rng::stream_from(rng::derive(seed, 0), 0).take(n_words) {
            let word = WORDS[(z % WORDS.len() as u64) as usize];
            corpus.extend_from_slice(word.as_bytes());
            if (z >> 32) % 10 == 0 {
                corpus.extend_from_slice(b". ");
            } else {
                corpus.push(b' ');
            }
        }
        GptSynthetic {
            seed,
            batch_size,
            seq_len,
            corpus,
        }
    }

    pub fn corpus(&self) -> &[u8] {
        &self.corpus
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Number of valid window offsets, `len(corpus) - seq_len - 1`; 0 when the corpus is too short
    /// for one window (callers check this before asking for batches).
    pub fn offset_range(&self) -> usize {
        self.corpus.len().saturating_sub(self.seq_len + 1)
    }

    /// Batch `step`: `x[b] = corpus[o_b .. o_b + T]`, `y[b] = corpus[o_b + 1 .. o_b + T + 1]`,
    /// both `[batch_size, seq_len]` row-major, with `o = stream(derive(seed, 1 + step), B) % range`.
    pub fn batch(&self, step: u64) -> (Vec<i32>, Vec<i32>) {
        let t = self.seq_len;
        let range = self.offset_range().max(1) as u64;
        let mut x = Vec::with_capacity(self.batch_size * t);
        let mut y = Vec::with_capacity(self.batch_size * t);
        let offsets = rng::stream_from(rng::derive(self.seed, step.wrapping_add(1)), 0);
        for o in offsets.take(self.batch_size) {
            let start = (o % range) as usize;
            let window = self.corpus.get(start..start + t + 1).unwrap_or_default();
            x.extend(window.iter().take(t).map(|&c| i32::from(c)));
            y.extend(window.iter().skip(1).map(|&c| i32::from(c)));
        }
        (x, y)
    }
}
