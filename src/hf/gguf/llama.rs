//! A llama GGUF file in Hugging Face terms: tensor names, the q/k row order, and the
//! `LlamaConfig` (`config.json`) from the `llama.*` metadata.
//!
//! llama.cpp's converter renames HF tensors (`model.layers.N.self_attn.q_proj.weight` →
//! `blk.N.attn_q.weight`, ...), stores dimensions fastest-varying first (so a PyTorch `[out, in]`
//! weight has GGUF dims `[in, out]` and the same bytes), and permutes the rows of `q_proj` and
//! `k_proj` within each head from HF's rotate-half RoPE layout to ggml's interleaved one: HF row
//! `h·d + i·d/2 + j` (`i` ∈ {0, 1}, `j` < d/2) is stored as row `h·d + 2j + i`. [`unpermute_rows`]
//! undoes it (q with `num_attention_heads`, k with `num_key_value_heads`), as transformers' GGUF
//! loader does.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use super::file::Value;

/// The HF name of a llama GGUF tensor name, and how many heads its rows are permuted over
/// (`Some` for q and k).
pub fn hf_name(gguf: &str, heads: usize, kv_heads: usize) -> Option<(String, Option<usize>)> {
    let fixed = match gguf {
        "token_embd.weight" => Some("model.embed_tokens.weight"),
        "output_norm.weight" => Some("model.norm.weight"),
        "output.weight" => Some("lm_head.weight"),
        _ => None,
    };
    if let Some(name) = fixed {
        return Some((name.to_string(), None));
    }
    let rest = gguf.strip_prefix("blk.")?;
    let (layer, leaf) = rest.split_once('.')?;
    if layer.is_empty() || !layer.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hf_leaf, permuted) = match leaf {
        "attn_norm.weight" => ("input_layernorm.weight", None),
        "ffn_norm.weight" => ("post_attention_layernorm.weight", None),
        "attn_q.weight" => ("self_attn.q_proj.weight", Some(heads)),
        "attn_k.weight" => ("self_attn.k_proj.weight", Some(kv_heads)),
        "attn_v.weight" => ("self_attn.v_proj.weight", None),
        "attn_output.weight" => ("self_attn.o_proj.weight", None),
        "ffn_gate.weight" => ("mlp.gate_proj.weight", None),
        "ffn_up.weight" => ("mlp.up_proj.weight", None),
        "ffn_down.weight" => ("mlp.down_proj.weight", None),
        _ => return None,
    };
    Some((format!("model.layers.{layer}.{hf_leaf}"), permuted))
}

/// Undoes llama.cpp's interleaved-RoPE row permutation of a `[rows, cols]` weight over `heads`
/// heads (see the module docs); `None` when the rows do not split into heads of even size.
pub fn unpermute_rows(data: &[f32], rows: usize, cols: usize, heads: usize) -> Option<Vec<f32>> {
    if heads == 0
        || !rows.is_multiple_of(heads)
        || !(rows / heads).is_multiple_of(2)
        || data.len() != rows * cols
    {
        return None;
    }
    let head_dim = rows / heads;
    let half = head_dim / 2;
    let mut out = vec![0f32; data.len()];
    for h in 0..heads {
        for i in 0..2 {
            for j in 0..half {
                let hf_row = h * head_dim + i * half + j;
                let gguf_row = h * head_dim + 2 * j + i;
                out[hf_row * cols..(hf_row + 1) * cols]
                    .copy_from_slice(&data[gguf_row * cols..(gguf_row + 1) * cols]);
            }
        }
    }
    Some(out)
}

/// Metadata keys of the `llama.` namespace that map to `config.json` keys.
const CONFIG_KEYS: [(&str, &str); 9] = [
    ("context_length", "max_position_embeddings"),
    ("block_count", "num_hidden_layers"),
    ("feed_forward_length", "intermediate_size"),
    ("embedding_length", "hidden_size"),
    ("attention.head_count", "num_attention_heads"),
    ("attention.head_count_kv", "num_key_value_heads"),
    ("attention.layer_norm_rms_epsilon", "rms_norm_eps"),
    ("rope.freq_base", "rope_theta"),
    ("vocab_size", "vocab_size"),
];

/// `llama.*` keys that change the numerics and are not implemented: refused by name.
const REFUSED_PREFIXES: [&str; 3] = ["rope.scaling.", "expert_", "attention.sliding_window"];

/// Keys of the `llama.` namespace that are understood and need no config entry.
const IGNORED_KEYS: [&str; 2] = ["rope.dimension_count", "attention.key_length"];

/// The HF `LlamaConfig` from the metadata; `Err` names a missing or unsupported key.
pub fn config(
    metadata: &BTreeMap<String, Value>,
    vocab_from_tokens: Option<usize>,
    tied: bool,
) -> Result<Json, String> {
    let mut config = Map::new();
    config.insert("model_type".into(), json!("llama"));
    config.insert("architectures".into(), json!(["LlamaForCausalLM"]));
    config.insert("hidden_act".into(), json!("silu"));
    config.insert("attention_bias".into(), json!(false));
    config.insert("mlp_bias".into(), json!(false));
    config.insert("torch_dtype".into(), json!("float32"));
    config.insert("tie_word_embeddings".into(), json!(tied));
    for (key, value) in metadata {
        let Some(leaf) = key.strip_prefix("llama.") else {
            continue;
        };
        if let Some((_, hf)) = CONFIG_KEYS.iter().find(|(gguf, _)| *gguf == leaf) {
            let json_value = match value {
                Value::F32(_) | Value::F64(_) => value.as_f64().map(|f| json!(f)),
                _ => value
                    .as_int()
                    .and_then(|i| u64::try_from(i).ok())
                    .map(|i| json!(i)),
            };
            let json_value = json_value
                .ok_or_else(|| format!("`{key}` has an unusable {} value", value.type_name()))?;
            config.insert((*hf).into(), json_value);
        } else if REFUSED_PREFIXES.iter().any(|p| leaf.starts_with(p)) {
            let is_none_scaling = leaf == "rope.scaling.type" && value.as_str() == Some("none");
            if !is_none_scaling {
                return Err(format!(
                    "`{key}` = {value:?} is not supported (xlatrain implements plain llama RoPE \
                     and full attention)"
                ));
            }
        } else if !IGNORED_KEYS.contains(&leaf) {
            return Err(format!("`{key}` is not a llama key xlatrain understands"));
        }
    }
    if !config.contains_key("vocab_size") {
        let vocab =
            vocab_from_tokens.ok_or("neither llama.vocab_size nor tokenizer.ggml.tokens")?;
        config.insert("vocab_size".into(), json!(vocab));
    }
    if !config.contains_key("num_key_value_heads") {
        if let Some(heads) = config.get("num_attention_heads").cloned() {
            config.insert("num_key_value_heads".into(), heads);
        }
    }
    for (_, hf) in CONFIG_KEYS {
        if !config.contains_key(hf) && hf != "rope_theta" && hf != "max_position_embeddings" {
            return Err(format!("the metadata has no value for `{hf}`"));
        }
    }
    config.entry("rope_theta").or_insert(json!(10000.0));
    config
        .entry("max_position_embeddings")
        .or_insert(json!(2048));
    if let (Some(hidden), Some(heads), Some(dim)) = (
        config.get("hidden_size").and_then(Json::as_u64),
        config.get("num_attention_heads").and_then(Json::as_u64),
        metadata
            .get("llama.rope.dimension_count")
            .and_then(Value::as_int),
    ) {
        if heads == 0 || i128::from(hidden / heads) != dim {
            return Err(format!(
                "llama.rope.dimension_count {dim} is not hidden_size / num_attention_heads \
                 ({hidden} / {heads}); partial rotary embeddings are not supported"
            ));
        }
        config.insert("head_dim".into(), json!(hidden / heads));
    }
    for (gguf, hf) in [
        ("tokenizer.ggml.bos_token_id", "bos_token_id"),
        ("tokenizer.ggml.eos_token_id", "eos_token_id"),
        ("tokenizer.ggml.padding_token_id", "pad_token_id"),
    ] {
        if let Some(id) = metadata.get(gguf).and_then(Value::as_int) {
            config.insert(hf.into(), json!(id));
        }
    }
    Ok(Json::Object(config))
}
