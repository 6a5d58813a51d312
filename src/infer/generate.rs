//! Token generation with a KV cache: a prefill program runs the prompt and fills the cache, a
//! one-token decode program extends it; each is compiled once per (prompt length, cache
//! length) and both are the same forward function ([`crate::models::hf_forward`]) with the
//! cache's offset as a run-time argument. The caches are donated from one call into the next,
//! so they never leave the device; only the last position's logits come back to sample from.

use super::sample::Sampling;
use super::Session;
use crate::graph::{DType, Graph, Tensor};
use crate::hf::Family;
use crate::lower::LowerOptions;
use crate::models::{hf_forward, KvCache};
use crate::pjrt::{Arg, Buffer, Executable};
use crate::{Error, Result};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_new_tokens: usize,
    pub sampling: Sampling,
}

/// The prompt and the new tokens (EOS included when generation stopped there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub prompt_ids: Vec<u32>,
    pub ids: Vec<u32>,
    /// Whether an EOS token ended generation.
    pub stopped_at_eos: bool,
}

/// The compiled prefill and decode programs of one prompt length and cache length.
pub struct Generator<'s, 'c> {
    session: &'s Session<'c>,
    prefill: Executable,
    decode: Executable,
    prompt_len: usize,
    cache_len: usize,
}

impl<'s, 'c> Generator<'s, 'c> {
    /// Compiles prefill (`prompt_len` tokens at offset 0) and decode (1 token) over a cache of
    /// `cache_len` positions.
    pub fn new(session: &'s Session<'c>, prompt_len: usize, cache_len: usize) -> Result<Self> {
        if prompt_len == 0 {
            return Err(Error::Usage(
                "the prompt is empty: give at least one token".into(),
            ));
        }
        session.hf.check_sequence(cache_len)?;
        let prefill = step_program(session, prompt_len, cache_len)?;
        let decode = step_program(session, 1, cache_len)?;
        Ok(Generator {
            session,
            prefill,
            decode,
            prompt_len,
            cache_len,
        })
    }

    /// Zero caches: per layer K then V, `[1, kv_heads, cache_len, head_dim]`.
    fn empty_cache(&self) -> Result<Vec<Buffer>> {
        let shape = cache_shape(self.session, self.cache_len);
        let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
        let zeros = vec![0f32; shape.iter().product()];
        (0..2 * self.session.hf.num_hidden_layers)
            .map(|_| self.session.client.upload(&zeros, &dims, 0))
            .collect()
    }

    /// Runs one program: `tokens` at `offset`, consuming and returning the caches.
    fn step(
        &self,
        exe: &Executable,
        tokens: &[i32],
        offset: usize,
        caches: Vec<Buffer>,
    ) -> Result<(Vec<f32>, Vec<Buffer>)> {
        let client = self.session.client;
        let x = client.upload(tokens, &[1, tokens.len() as i64], 0)?;
        let offset = client.upload(&[offset as i32], &[], 0)?;
        let mut rest = vec![Arg::Borrowed(&x), Arg::Borrowed(&offset)];
        rest.extend(caches.into_iter().map(Arg::Donated));
        let mut out = self.session.run(exe, rest)?.into_iter();
        let logits = out
            .next()
            .ok_or_else(|| Error::ExecuteArgs("the generation step returned nothing".into()))?
            .to_vec::<f32>()?;
        Ok((logits, out.collect()))
    }

    /// Generates after `prompt` until `max_new_tokens`, the end of the cache, or an EOS token.
    pub fn generate(&self, prompt: &[u32], options: &GenerateOptions) -> Result<Generated> {
        if prompt.len() != self.prompt_len {
            return Err(Error::Usage(format!(
                "this generator was compiled for prompts of {} tokens, got {}",
                self.prompt_len,
                prompt.len()
            )));
        }
        let vocab = self.session.hf.vocab_size;
        if let Some(bad) = prompt.iter().find(|&&t| t as usize >= vocab) {
            return Err(Error::Usage(format!(
                "prompt token {bad} is not below the model's vocab_size {vocab}"
            )));
        }
        let eos = &self.session.hf.eos_token_ids;
        let budget = options
            .max_new_tokens
            .min(self.cache_len + 1 - self.prompt_len);
        let mut ids = Vec::with_capacity(budget);
        let mut stopped_at_eos = false;
        if budget > 0 {
            let tokens: Vec<i32> = prompt.iter().map(|&t| t as i32).collect();
            let (mut logits, mut caches) =
                self.step(&self.prefill, &tokens, 0, self.empty_cache()?)?;
            let mut sampler = options.sampling.sampler();
            loop {
                let next = sampler.pick(&logits)?;
                ids.push(next);
                if eos.contains(&next) {
                    stopped_at_eos = true;
                    break;
                }
                let position = self.prompt_len + ids.len() - 1;
                if ids.len() == budget || position >= self.cache_len {
                    break;
                }
                (logits, caches) = self.step(&self.decode, &[next as i32], position, caches)?;
            }
        }
        Ok(Generated {
            prompt_ids: prompt.to_vec(),
            ids,
            stopped_at_eos,
        })
    }
}

fn cache_shape(session: &Session, cache_len: usize) -> [usize; 4] {
    let c = &session.hf;
    [1, c.num_key_value_heads, cache_len, c.head_dim]
}

/// Arguments `params..., tokens [1, len], offset, caches...`; results `logits [1, vocab]` of
/// the last position, then the updated caches (each cache argument donated into its result).
fn step_program(session: &Session, len: usize, cache_len: usize) -> Result<Executable> {
    let mut g = Graph::new();
    let params = session.param_args(&mut g)?;
    let tokens = g.parameter("tokens", &[1, len], DType::S32)?;
    let offset = g.parameter("offset", &[], DType::S32)?;
    let shape = cache_shape(session, cache_len);
    let mut layers = Vec::with_capacity(session.hf.num_hidden_layers);
    for i in 0..session.hf.num_hidden_layers {
        let k = g.parameter(&format!("past_key.{i}"), &shape, DType::F32)?;
        let v = g.parameter(&format!("past_value.{i}"), &shape, DType::F32)?;
        layers.push((k, v));
    }
    let mut cache = KvCache { layers, offset };
    let logits = hf_forward(&session.hf, &mut g, &params, tokens, None, Some(&mut cache))?;
    let vocab = session.hf.vocab_size;
    let last = g.slice_axis(logits, 1, len - 1, 1)?;
    let last = g.reshape(last, &[1, vocab])?;
    let mut outputs: Vec<Tensor> = vec![last];
    for (k, v) in &cache.layers {
        outputs.push(*k);
        outputs.push(*v);
    }
    let first_cache = params.len() + 2;
    let kind = match session.hf.family {
        Family::Gpt2 => "gpt2",
        _ => "llama",
    };
    let mut options = LowerOptions {
        module_name: format!("{}_{kind}", if len == 1 { "decode" } else { "prefill" }),
        ..LowerOptions::default()
    };
    for j in 0..2 * session.hf.num_hidden_layers {
        options = options.donate(first_cache + j, 1 + j);
    }
    session.compile(&g, &outputs, &options)
}
