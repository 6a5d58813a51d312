//! The one table of each family's tensors: Hugging Face names, shapes and layouts, in the order
//! transformers declares them, with tying and the weight-decay mask. Import reads it to find
//! each parameter in the model files; export and checkpoints read it to name what they write,
//! so the two directions cannot disagree.
//!
//! Parameters keep HF's names and layouts on the device: a `Linear` weight is `[out, in]` and
//! contracted on its dim 1, a GPT-2 `Conv1D` weight is `[in, out]`. A checkpoint is therefore HF
//! layout with no conversion, and optimizer slots follow the parameter names.

use std::borrow::Cow;

use super::config::{Family, HfConfig};

/// A tensor that is not a parameter of its own but the same values as another (a tied head).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    /// The name transformers would also accept in a file (e.g. `lm_head.weight`).
    pub name: String,
    /// The parameter it shares (e.g. `model.embed_tokens.weight`).
    pub target: String,
}

/// One parameter in HF naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfTensor {
    pub name: String,
    pub shape: Vec<usize>,
    /// AdamW decays it (HF Trainer's rule: not biases, not norm weights).
    pub decay: bool,
}

/// A family's parameters for one config, in declaration order, and its tied aliases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorTable {
    pub params: Vec<HfTensor>,
    pub aliases: Vec<Alias>,
    /// Prefix transformers strips or adds when a file holds the base model's names (GPT-2 files
    /// often name `h.0.attn.c_attn.weight` without `transformer.`).
    pub base_prefix: &'static str,
    /// The trailing parameters that make up a task head (an encoder's pooler and classifier):
    /// a file of the base model lacks them and they start fresh, as in transformers.
    pub head_len: usize,
    /// Prefixes of tensors that a file may hold and this model does not use (pre-training
    /// heads, a pooler the head does not read), ignored on import as transformers does.
    pub unused_prefixes: Vec<&'static str>,
}

impl TensorTable {
    /// The names a parameter may have in a file, most specific first.
    pub fn file_names<'a>(&self, name: &'a str) -> Vec<Cow<'a, str>> {
        let mut names = vec![Cow::Borrowed(name)];
        if let Some(short) = name.strip_prefix(self.base_prefix) {
            if !self.base_prefix.is_empty() {
                names.push(Cow::Borrowed(short));
            }
        }
        // TF-era BERT files (bert-base-uncased) name LayerNorm parameters gamma and beta
        let legacy: Vec<Cow<'a, str>> = names
            .iter()
            .filter_map(|n| {
                let stem = n
                    .strip_suffix("LayerNorm.weight")
                    .map(|s| (s, "LayerNorm.gamma"));
                let stem = stem.or_else(|| {
                    n.strip_suffix("LayerNorm.bias")
                        .map(|s| (s, "LayerNorm.beta"))
                });
                stem.map(|(s, suffix)| Cow::Owned(format!("{s}{suffix}")))
            })
            .collect();
        names.extend(legacy);
        names
    }

    /// The first index of the task head's parameters (see [`Self::head_len`]).
    pub fn head_start(&self) -> usize {
        self.params.len() - self.head_len
    }

    /// Tensors a file may hold that are not parameters and are ignored on import: tied aliases
    /// and the non-persistent buffers older transformers saved (GPT-2's causal-mask `attn.bias`).
    pub fn is_ignored_file_tensor(&self, name: &str) -> bool {
        self.aliases.iter().any(|a| a.name == name)
            || name.ends_with(".attn.bias")
            || name.ends_with(".attn.masked_bias")
            || name.ends_with("rotary_emb.inv_freq")
            || name.ends_with("embeddings.position_ids")
            || name.ends_with("embeddings.token_type_ids")
            || self.unused_prefixes.iter().any(|p| name.starts_with(p))
    }
}

fn param(name: String, shape: Vec<usize>) -> HfTensor {
    let decay = shape.len() >= 2;
    HfTensor { name, shape, decay }
}

/// The table of `config`'s family.
pub fn tensor_table(c: &HfConfig) -> TensorTable {
    match c.family {
        Family::Gpt2 => gpt2(c),
        Family::Llama | Family::Mistral | Family::Qwen2 => llama(c),
        Family::Bert | Family::Roberta => encoder(c),
    }
}

/// Tensors per encoder layer, in [`encoder`]'s order: q, k, v and the attention output (weight
/// and bias each), its LayerNorm, the intermediate and output dense layers, the output LayerNorm.
pub const ENCODER_LAYER_LEN: usize = 16;
/// Embedding tensors before the first layer: word, position, token type, LayerNorm (2).
pub const ENCODER_EMBEDDINGS_LEN: usize = 5;
/// Head tensors after the last layer: BERT's pooler + classifier, RoBERTa's dense + out_proj.
pub const ENCODER_HEAD_LEN: usize = 4;

fn encoder(c: &HfConfig) -> TensorTable {
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let (labels, types) = c
        .encoder
        .as_ref()
        .map_or((2, 2), |e| (e.num_labels, e.type_vocab_size));
    let (base, head, unused): (&str, [&str; 2], Vec<&'static str>) = match c.family {
        Family::Roberta => (
            "roberta.",
            ["classifier.dense", "classifier.out_proj"],
            vec!["lm_head.", "roberta.pooler.", "pooler."],
        ),
        _ => ("bert.", ["bert.pooler.dense", "classifier"], vec!["cls."]),
    };
    let e = |s: &str| format!("{base}embeddings.{s}");
    let mut params = vec![
        param(e("word_embeddings.weight"), vec![c.vocab_size, d]),
        param(
            e("position_embeddings.weight"),
            vec![c.max_position_embeddings, d],
        ),
        param(e("token_type_embeddings.weight"), vec![types, d]),
        param(e("LayerNorm.weight"), vec![d]),
        param(e("LayerNorm.bias"), vec![d]),
    ];
    for i in 0..c.num_hidden_layers {
        let p = |s: &str| format!("{base}encoder.layer.{i}.{s}");
        for linear in [
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ] {
            params.push(param(p(&format!("{linear}.weight")), vec![d, d]));
            params.push(param(p(&format!("{linear}.bias")), vec![d]));
        }
        params.extend([
            param(p("attention.output.LayerNorm.weight"), vec![d]),
            param(p("attention.output.LayerNorm.bias"), vec![d]),
            param(p("intermediate.dense.weight"), vec![f, d]),
            param(p("intermediate.dense.bias"), vec![f]),
            param(p("output.dense.weight"), vec![d, f]),
            param(p("output.dense.bias"), vec![d]),
            param(p("output.LayerNorm.weight"), vec![d]),
            param(p("output.LayerNorm.bias"), vec![d]),
        ]);
    }
    params.extend([
        param(format!("{}.weight", head[0]), vec![d, d]),
        param(format!("{}.bias", head[0]), vec![d]),
        param(format!("{}.weight", head[1]), vec![labels, d]),
        param(format!("{}.bias", head[1]), vec![labels]),
    ]);
    TensorTable {
        params,
        aliases: Vec::new(),
        base_prefix: if c.family == Family::Roberta {
            "roberta."
        } else {
            "bert."
        },
        head_len: ENCODER_HEAD_LEN,
        unused_prefixes: unused,
    }
}

fn gpt2(c: &HfConfig) -> TensorTable {
    let (d, f) = (c.hidden_size, c.intermediate_size);
    let mut params = vec![
        param("transformer.wte.weight".into(), vec![c.vocab_size, d]),
        param(
            "transformer.wpe.weight".into(),
            vec![c.max_position_embeddings, d],
        ),
    ];
    for i in 0..c.num_hidden_layers {
        let p = |s: &str| format!("transformer.h.{i}.{s}");
        params.extend([
            param(p("ln_1.weight"), vec![d]),
            param(p("ln_1.bias"), vec![d]),
            param(p("attn.c_attn.weight"), vec![d, 3 * d]),
            param(p("attn.c_attn.bias"), vec![3 * d]),
            param(p("attn.c_proj.weight"), vec![d, d]),
            param(p("attn.c_proj.bias"), vec![d]),
            param(p("ln_2.weight"), vec![d]),
            param(p("ln_2.bias"), vec![d]),
            param(p("mlp.c_fc.weight"), vec![d, f]),
            param(p("mlp.c_fc.bias"), vec![f]),
            param(p("mlp.c_proj.weight"), vec![f, d]),
            param(p("mlp.c_proj.bias"), vec![d]),
        ]);
    }
    params.push(param("transformer.ln_f.weight".into(), vec![d]));
    params.push(param("transformer.ln_f.bias".into(), vec![d]));
    TensorTable {
        params,
        aliases: vec![Alias {
            name: "lm_head.weight".into(),
            target: "transformer.wte.weight".into(),
        }],
        base_prefix: "transformer.",
        head_len: 0,
        unused_prefixes: Vec::new(),
    }
}

/// Per layer, in this order: q, (q bias), k, (k bias), v, (v bias), o, gate, up, down, the two
/// norms. [`crate::models::llama`] indexes a layer's slice by [`LlamaLayer`].
fn llama(c: &HfConfig) -> TensorTable {
    let (d, f, dh) = (c.hidden_size, c.intermediate_size, c.head_dim);
    let (q, kv) = (c.num_attention_heads * dh, c.num_key_value_heads * dh);
    let embed = "model.embed_tokens.weight".to_string();
    let mut params = vec![param(embed.clone(), vec![c.vocab_size, d])];
    for i in 0..c.num_hidden_layers {
        let p = |s: &str| format!("model.layers.{i}.{s}");
        for (proj, out) in [("q_proj", q), ("k_proj", kv), ("v_proj", kv)] {
            params.push(param(p(&format!("self_attn.{proj}.weight")), vec![out, d]));
            if c.qkv_bias {
                params.push(param(p(&format!("self_attn.{proj}.bias")), vec![out]));
            }
        }
        params.extend([
            param(p("self_attn.o_proj.weight"), vec![d, q]),
            param(p("mlp.gate_proj.weight"), vec![f, d]),
            param(p("mlp.up_proj.weight"), vec![f, d]),
            param(p("mlp.down_proj.weight"), vec![d, f]),
            param(p("input_layernorm.weight"), vec![d]),
            param(p("post_attention_layernorm.weight"), vec![d]),
        ]);
    }
    params.push(param("model.norm.weight".into(), vec![d]));
    let mut aliases = Vec::new();
    if c.tie_word_embeddings {
        aliases.push(Alias {
            name: "lm_head.weight".into(),
            target: embed,
        });
    } else {
        params.push(param("lm_head.weight".into(), vec![c.vocab_size, d]));
    }
    TensorTable {
        params,
        aliases,
        base_prefix: "",
        head_len: 0,
        unused_prefixes: Vec::new(),
    }
}

/// Positions of one llama layer's tensors within its slice of the parameter list.
#[derive(Debug, Clone, Copy)]
pub struct LlamaLayer {
    pub q: usize,
    pub q_bias: Option<usize>,
    pub k: usize,
    pub k_bias: Option<usize>,
    pub v: usize,
    pub v_bias: Option<usize>,
    pub o: usize,
    pub gate: usize,
    pub up: usize,
    pub down: usize,
    pub input_norm: usize,
    pub post_attention_norm: usize,
    /// Tensors per layer.
    pub len: usize,
}

impl LlamaLayer {
    /// The layout [`tensor_table`] produces for `qkv_bias`.
    pub fn new(qkv_bias: bool) -> LlamaLayer {
        let b = usize::from(qkv_bias);
        let (q, k, v) = (0, 1 + b, 2 + 2 * b);
        let o = 3 + 3 * b;
        let bias = |i: usize| qkv_bias.then_some(i + 1);
        LlamaLayer {
            q,
            q_bias: bias(q),
            k,
            k_bias: bias(k),
            v,
            v_bias: bias(v),
            o,
            gate: o + 1,
            up: o + 2,
            down: o + 3,
            input_norm: o + 4,
            post_attention_norm: o + 5,
            len: o + 6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::HfConfig;
    use serde_json::json;

    #[test]
    fn llama_layer_positions_match_the_table_with_and_without_biases() {
        for model_type in ["llama", "qwen2"] {
            let j = json!({"model_type": model_type, "vocab_size": 10, "hidden_size": 8,
                "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 12});
            let c = HfConfig::from_json(std::path::Path::new("c"), &j).unwrap();
            let t = tensor_table(&c);
            let l = LlamaLayer::new(c.qkv_bias);
            let layer1 = &t.params[1 + l.len..1 + 2 * l.len];
            assert!(layer1[l.q]
                .name
                .ends_with("layers.1.self_attn.q_proj.weight"));
            assert!(layer1[l.v].name.ends_with("v_proj.weight"));
            assert!(layer1[l.o].name.ends_with("o_proj.weight"));
            assert!(layer1[l.down].name.ends_with("mlp.down_proj.weight"));
            assert!(layer1[l.post_attention_norm]
                .name
                .ends_with("post_attention_layernorm.weight"));
            if let Some(kb) = l.k_bias {
                assert!(layer1[kb].name.ends_with("k_proj.bias"));
            }
            assert_eq!(t.params.last().unwrap().name, "lm_head.weight");
            assert!(
                !t.params
                    .iter()
                    .find(|p| p.name.ends_with("norm.weight"))
                    .unwrap()
                    .decay
            );
        }
    }

    #[test]
    fn encoder_tables_accept_base_model_and_tf_era_names_and_ignore_pretraining_heads() {
        let bert = json!({"model_type": "bert", "vocab_size": 30, "hidden_size": 8,
            "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 16});
        let c = HfConfig::from_json(std::path::Path::new("c"), &bert).unwrap();
        let t = tensor_table(&c);
        assert_eq!(
            t.params.len(),
            ENCODER_EMBEDDINGS_LEN + 2 * ENCODER_LAYER_LEN + ENCODER_HEAD_LEN
        );
        assert_eq!(t.params[t.head_start()].name, "bert.pooler.dense.weight");
        assert_eq!(t.params.last().unwrap().shape, vec![2]);
        let names = t.file_names("bert.embeddings.LayerNorm.weight");
        let names: Vec<&str> = names.iter().map(|n| n.as_ref()).collect();
        assert_eq!(
            names,
            [
                "bert.embeddings.LayerNorm.weight",
                "embeddings.LayerNorm.weight",
                "bert.embeddings.LayerNorm.gamma",
                "embeddings.LayerNorm.gamma"
            ]
        );
        assert!(t.is_ignored_file_tensor("cls.predictions.transform.dense.weight"));
        assert!(t.is_ignored_file_tensor("bert.embeddings.position_ids"));
        assert!(!t.is_ignored_file_tensor("classifier.weight"));
        let mut roberta = bert.clone();
        roberta["model_type"] = json!("roberta");
        let c = HfConfig::from_json(std::path::Path::new("c"), &roberta).unwrap();
        let t = tensor_table(&c);
        assert_eq!(t.params[t.head_start()].name, "classifier.dense.weight");
        assert!(t.is_ignored_file_tensor("roberta.pooler.dense.weight"));
        assert!(t.is_ignored_file_tensor("lm_head.dense.weight"));
        // weight decay follows HF Trainer: not biases, not LayerNorm scales
        let decayed: Vec<bool> = t.params[..5].iter().map(|p| p.decay).collect();
        assert_eq!(decayed, [true, true, true, false, false]);
    }
}
