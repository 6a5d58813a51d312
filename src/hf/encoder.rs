//! `config.json` of the encoder families (`bert`, `roberta`) for sequence classification: the
//! encoder's shape, its label map (`id2label`/`label2id`, `num_labels`) and where its positions
//! start. Keys that change what the encoder computes are honoured or refused by name, as for the
//! causal LMs ([`super::config`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::config::{config_error, Family, HfConfig, Keys};
use crate::{Error, Result};

/// What an encoder classifier computes beyond the shared [`HfConfig`] fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncoderConfig {
    /// Outputs of the classification head (`len(id2label)`, HF's `num_labels`).
    pub num_labels: usize,
    /// Label names by id (HF's default `LABEL_0`, `LABEL_1`, ...).
    pub id2label: Vec<String>,
    /// Rows of the token-type (segment) table.
    pub type_vocab_size: usize,
    pub pad_token_id: u32,
    /// The position of the first token: 0 for BERT, `pad_token_id + 1` for RoBERTa (whose
    /// positions count non-padding tokens from after the padding id).
    pub position_offset: usize,
    /// Standard deviation of HF's normal init, used for a fresh classification head.
    pub initializer_range: f64,
    /// Training dropout of the embeddings and each residual branch (`hidden_dropout_prob`).
    #[serde(default)]
    pub hidden_dropout: f64,
    /// Training dropout of the attention probabilities (`attention_probs_dropout_prob`).
    #[serde(default)]
    pub attention_dropout: f64,
    /// Training dropout before the head's layers (`classifier_dropout`, else the hidden one).
    #[serde(default)]
    pub classifier_dropout: f64,
}

/// HF's default label names.
pub fn default_labels(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("LABEL_{i}")).collect()
}

/// Reads a `bert` or `roberta` config.
pub(super) fn parse(keys: &Keys, family: Family, json: &Value) -> Result<HfConfig> {
    let path = keys.path;
    keys.str_one_of(
        "hidden_act",
        "gelu",
        &["gelu"],
        "only the exact (erf) gelu of BERT and RoBERTa is implemented",
    )?;
    keys.refuse_unless(
        "position_embedding_type",
        &[Value::from("absolute")],
        "only absolute position embeddings are implemented",
    )?;
    keys.refuse_unless(
        "is_decoder",
        &[Value::Bool(false)],
        "a causal (decoder) encoder is not implemented; xlatrain runs encoders for \
         sequence classification",
    )?;
    keys.refuse_unless(
        "problem_type",
        &[Value::from("single_label_classification")],
        "only single-label classification (cross-entropy over num_labels) is implemented",
    )?;
    let id2label = labels(keys)?;
    if id2label.len() < 2 {
        return Err(config_error(
            path,
            "num_labels",
            &Value::from(id2label.len()),
            "one label means regression in transformers, which xlatrain does not implement; \
             classification needs at least 2",
        ));
    }
    let hidden = keys.usize("hidden_size")?;
    let heads = keys.usize("num_attention_heads")?;
    let default_pad = if family == Family::Roberta { 1 } else { 0 };
    let pad_token_id = match keys.get("pad_token_id") {
        None => default_pad,
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| config_error(path, "pad_token_id", v, "must be a token id"))?,
    };
    let vocab_size = keys.usize("vocab_size")?;
    if pad_token_id as usize >= vocab_size {
        return Err(config_error(
            path,
            "pad_token_id",
            &Value::from(pad_token_id),
            format!("is not below vocab_size ({vocab_size})"),
        ));
    }
    let position_offset = match family {
        Family::Roberta => pad_token_id as usize + 1,
        _ => 0,
    };
    let encoder = EncoderConfig {
        num_labels: id2label.len(),
        id2label,
        type_vocab_size: keys.usize_opt("type_vocab_size")?.unwrap_or(2),
        pad_token_id,
        position_offset,
        initializer_range: keys.f64_or("initializer_range", 0.02)?,
        hidden_dropout: dropout_rate(keys, "hidden_dropout_prob", 0.1)?,
        attention_dropout: dropout_rate(keys, "attention_probs_dropout_prob", 0.1)?,
        classifier_dropout: 0.0,
    };
    let encoder = EncoderConfig {
        classifier_dropout: match keys.get("classifier_dropout") {
            None => encoder.hidden_dropout,
            Some(_) => dropout_rate(keys, "classifier_dropout", 0.0)?,
        },
        ..encoder
    };
    Ok(HfConfig {
        family,
        vocab_size,
        hidden_size: hidden,
        num_hidden_layers: keys.usize("num_hidden_layers")?,
        num_attention_heads: heads,
        num_key_value_heads: heads,
        head_dim: hidden / heads,
        intermediate_size: keys.usize("intermediate_size")?,
        max_position_embeddings: keys.usize_opt("max_position_embeddings")?.unwrap_or(512),
        norm_eps: keys.f64_or("layer_norm_eps", 1e-12)?,
        rope_theta: 10000.0,
        tie_word_embeddings: false,
        qkv_bias: true,
        sliding_window: None,
        eos_token_ids: Vec::new(),
        bos_token_id: None,
        encoder: Some(encoder),
        source: json.clone(),
    })
}

/// A dropout probability in `[0, 1)` (0 allowed, unlike [`Keys::f64_or`]'s positive numbers).
fn dropout_rate(keys: &Keys, key: &str, default: f64) -> Result<f64> {
    match keys.get(key) {
        None => Ok(default),
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..1.0).contains(&p) => Ok(p),
            _ => Err(config_error(
                keys.path,
                key,
                v,
                "must be a probability in [0, 1)",
            )),
        },
    }
}

/// `id2label` by id (keys `"0"..`), else `num_labels` default names, else transformers' two.
fn labels(keys: &Keys) -> Result<Vec<String>> {
    let path = keys.path;
    let Some(map) = keys.get("id2label") else {
        let n = keys.usize_opt("num_labels")?.unwrap_or(2);
        return Ok(default_labels(n));
    };
    let bad = |reason: &str| config_error(path, "id2label", map, reason);
    let map = map
        .as_object()
        .ok_or_else(|| bad("must map ids to label names"))?;
    let mut labels = vec![None; map.len()];
    for (id, name) in map {
        let slot = id
            .parse::<usize>()
            .ok()
            .and_then(|i| labels.get_mut(i))
            .ok_or_else(|| bad("ids must be 0, 1, ... len - 1"))?;
        *slot = Some(
            name.as_str()
                .ok_or_else(|| bad("label names must be strings"))?
                .to_string(),
        );
    }
    let labels: Vec<String> = labels.into_iter().flatten().collect();
    if labels.len() != map.len() {
        return Err(bad("ids must be 0, 1, ... len - 1"));
    }
    if let Some(n) = keys.usize_opt("num_labels")? {
        if n != labels.len() {
            return Err(config_error(
                path,
                "num_labels",
                &Value::from(n),
                format!("disagrees with id2label ({} labels)", labels.len()),
            ));
        }
    }
    Ok(labels)
}

impl HfConfig {
    /// The encoder settings, or an error naming what needs an encoder model.
    pub fn encoder(&self) -> Result<&EncoderConfig> {
        self.encoder.as_ref().ok_or_else(|| Error::HfConfig {
            path: "config.json".into(),
            key: "model_type".into(),
            value: self.family.model_type().into(),
            reason: "sequence classification needs an encoder model (bert, roberta)".into(),
        })
    }

    /// The same model classifying into `labels` (names by id): `num_labels`, `id2label` and
    /// `label2id` are set here and in the config written with checkpoints.
    pub fn with_labels(mut self, labels: Vec<String>) -> Result<HfConfig> {
        let Some(encoder) = self.encoder.as_mut() else {
            return Err(self.encoder().unwrap_err());
        };
        if labels.len() < 2 {
            return Err(Error::InvalidArgument {
                key: "num_labels".into(),
                value: labels.len().to_string(),
                reason: "classification needs at least 2 labels".into(),
            });
        }
        encoder.num_labels = labels.len();
        let id2label: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), Value::from(l.as_str())))
            .collect();
        let label2id: Map<String, Value> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), Value::from(i)))
            .collect();
        encoder.id2label = labels;
        if let Value::Object(map) = &mut self.source {
            map.remove("num_labels");
            map.insert("id2label".into(), Value::Object(id2label));
            map.insert("label2id".into(), Value::Object(label2id));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::Path;

    fn bert() -> Value {
        json!({"model_type": "bert", "vocab_size": 40, "hidden_size": 16,
               "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32,
               "max_position_embeddings": 24})
    }

    fn read(json: &Value) -> Result<HfConfig> {
        HfConfig::from_json(Path::new("config.json"), json)
    }

    #[test]
    fn bert_reads_hf_defaults_and_two_labels() {
        let c = read(&bert()).unwrap();
        let e = c.encoder().unwrap();
        assert_eq!((e.num_labels, e.type_vocab_size, e.pad_token_id), (2, 2, 0));
        assert_eq!(e.id2label, ["LABEL_0", "LABEL_1"]);
        assert_eq!((c.norm_eps, c.head_dim, e.position_offset), (1e-12, 4, 0));
    }

    #[test]
    fn roberta_positions_start_after_the_padding_id() {
        let mut j = bert();
        j["model_type"] = json!("roberta");
        j["max_position_embeddings"] = json!(10);
        let c = read(&j).unwrap();
        assert_eq!(c.encoder().unwrap().position_offset, 2);
        assert!(c.check_sequence(8).is_ok());
        assert!(c.check_sequence(9).is_err());
    }

    #[test]
    fn id2label_is_read_in_id_order_and_labels_are_written_back() {
        let mut j = bert();
        j["id2label"] = json!({"1": "pos", "0": "neg", "2": "mixed"});
        let c = read(&j).unwrap();
        assert_eq!(c.encoder().unwrap().id2label, ["neg", "pos", "mixed"]);
        let c = c.with_labels(vec!["a".into(), "b".into()]).unwrap();
        assert_eq!(c.source["label2id"], json!({"a": 0, "b": 1}));
        assert_eq!(read(&c.source).unwrap().encoder, c.encoder);
    }

    #[test]
    fn numerics_changing_encoder_keys_are_refused_by_name() {
        let cases = [
            ("hidden_act", json!("gelu_new")),
            ("position_embedding_type", json!("relative_key")),
            ("is_decoder", json!(true)),
            ("add_cross_attention", json!(true)),
            ("problem_type", json!("regression")),
            ("num_labels", json!(1)),
            ("id2label", json!({"0": "a", "5": "b"})),
            ("pad_token_id", json!(40)),
        ];
        for (key, value) in cases {
            let mut j = bert();
            j[key] = value;
            let e = read(&j).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{e}");
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
    }
}
