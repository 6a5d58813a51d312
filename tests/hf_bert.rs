//! BERT and RoBERTa sequence classification on the real CPU plugin against transformers' own
//! `FlaxBertForSequenceClassification` / `FlaxRobertaForSequenceClassification` (random-init
//! models of several shapes, written in PyTorch layout by scripts/bert_reference.py): logits of a
//! right-padded batch with its attention mask within 1e-4 relative, and padding invariance (each
//! input alone, unpadded, gives its row of the padded batch).

mod common;
mod hf_support;

use std::sync::OnceLock;

use hf_support::{floats, relative_error};
use serde_json::{json, Value};
use xlatrain::infer::Session;
use xlatrain::models::bert::INPUT_ROWS;

const TOLERANCE: f64 = 1e-4;
/// Padded and unpadded runs differ only in reduction lengths over exact zeros.
const PADDING_TOLERANCE: f64 = 1e-5;

fn cases() -> Value {
    let bert = json!({"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 40,
        "type_vocab_size": 2});
    let inputs = json!([
        {"ids": [2, 17, 42, 8, 61, 25, 9, 3]},
        {"ids": [2, 33, 5, 3], "types": [0, 0, 1, 1]},
        {"ids": [2, 11, 3]},
    ]);
    json!({
        "bert_2_labels": {"family": "bert", "config": bert, "inputs": inputs, "pad_to": 12},
        "bert_3_labels_wide": {"family": "bert", "seed": 1, "inputs": inputs, "pad_to": 10,
            "config": {"vocab_size": 80, "hidden_size": 48, "num_hidden_layers": 3,
                "num_attention_heads": 2, "intermediate_size": 64, "max_position_embeddings": 16,
                "type_vocab_size": 3, "layer_norm_eps": 1e-5, "pad_token_id": 4,
                "id2label": {"0": "neg", "1": "neutral", "2": "pos"},
                "label2id": {"neg": 0, "neutral": 1, "pos": 2}}},
        "roberta_2_labels": {"family": "roberta", "seed": 2, "pad_to": 12,
            "config": {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
                "num_attention_heads": 4, "intermediate_size": 48, "max_position_embeddings": 20,
                "type_vocab_size": 1, "pad_token_id": 1, "layer_norm_eps": 1e-5},
            "inputs": [{"ids": [0, 17, 42, 8, 61, 25, 9, 2]}, {"ids": [0, 33, 5, 2]},
                       {"ids": [0, 11, 2]}]},
        "roberta_4_labels_pad_3": {"family": "roberta", "seed": 3, "pad_to": 9,
            "config": {"vocab_size": 50, "hidden_size": 24, "num_hidden_layers": 1,
                "num_attention_heads": 3, "intermediate_size": 40, "max_position_embeddings": 16,
                "type_vocab_size": 1, "pad_token_id": 3, "bos_token_id": 0, "eos_token_id": 2,
                "id2label": {"0": "a", "1": "b", "2": "c", "3": "d"}},
            "inputs": [{"ids": [0, 17, 42, 8, 9, 2]}, {"ids": [0, 33, 2]}]},
    })
}

fn reference() -> &'static (std::path::PathBuf, Value) {
    static REFERENCE: OnceLock<(std::path::PathBuf, Value)> = OnceLock::new();
    REFERENCE.get_or_init(|| hf_support::generate("bert_reference.py", &["make"], &cases()))
}

/// `[B, 3, T]` of `inputs` right-padded to `len` with `pad`.
fn batch(inputs: &[Value], len: usize, pad: i32) -> Vec<i32> {
    let mut x = Vec::new();
    for item in inputs {
        let ids: Vec<i32> = floats(&item["ids"]).iter().map(|&v| v as i32).collect();
        let n = ids.len();
        let types: Vec<i32> = item.get("types").map_or(vec![0; n], |t| {
            floats(t).iter().map(|&v| v as i32).collect()
        });
        let row = |values: Vec<i32>, fill: i32| {
            let mut r = values;
            r.resize(len, fill);
            r
        };
        x.extend(row(ids, pad));
        x.extend(row(vec![1; n], 0));
        x.extend(row(types, 0));
    }
    x
}

fn check(case: &str) {
    let client = common::cpu();
    let (root, results) = reference();
    let session = Session::open(&client, &root.join(case).join("model")).unwrap();
    let spec = &cases()[case];
    let inputs = spec["inputs"].as_array().unwrap();
    let len = spec["pad_to"].as_u64().unwrap() as usize;
    let pad = session.hf.encoder().unwrap().pad_token_id as i32;
    let labels = session.hf.encoder().unwrap().num_labels;
    let padded: Vec<f64> = session
        .classify(&batch(inputs, len, pad), inputs.len(), len)
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect();
    assert_eq!(padded.len(), inputs.len() * labels);
    let want = floats(&results[case]["logits_padded"]);
    let err = relative_error(&padded, &want);
    eprintln!("{case}: padded batch vs Flax {err:.2e}");
    assert!(
        err <= TOLERANCE,
        "{case}: logits differ from Flax by {err:e}"
    );
    for (i, item) in inputs.iter().enumerate() {
        let n = item["ids"].as_array().unwrap().len();
        assert!(
            n < len,
            "{case}: input {i} must be padded for the test to mean anything"
        );
        let alone: Vec<f64> = session
            .classify(&batch(std::slice::from_ref(item), n, pad), 1, n)
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        let row = &padded[i * labels..(i + 1) * labels];
        let err = relative_error(&alone, row);
        eprintln!("{case}: input {i} alone vs padded {err:.2e}");
        assert!(
            err <= PADDING_TOLERANCE,
            "{case}: padding changed input {i}'s logits by {err:e}"
        );
        let flax_alone = floats(&results[case]["logits_single"][i]);
        assert!(relative_error(&alone, &flax_alone) <= TOLERANCE);
    }
}

#[test]
fn bert_logits_match_flax_with_padding() {
    check("bert_2_labels");
}

#[test]
fn bert_three_labels_other_shape_pad_id_and_token_types_match_flax() {
    check("bert_3_labels_wide");
}

#[test]
fn roberta_padding_offset_positions_match_flax() {
    check("roberta_2_labels");
}

#[test]
fn roberta_four_labels_with_another_pad_id_match_flax() {
    check("roberta_4_labels_pad_3");
}

#[test]
fn a_wrongly_shaped_input_is_an_error_not_a_panic() {
    let client = common::cpu();
    let (root, _) = reference();
    let session = Session::open(&client, &root.join("bert_2_labels").join("model")).unwrap();
    assert!(session.classify(&[1, 2, 3], 1, 1 + INPUT_ROWS).is_err());
    // longer than the position table
    let long = vec![0; INPUT_ROWS * 41];
    assert!(session.classify(&long, 1, 41).is_err());
}

#[test]
fn training_drops_out_where_transformers_does_and_eval_never() {
    use xlatrain::config::{ModelKind, TrainingArgs};
    use xlatrain::data::BatchLayout;
    use xlatrain::graph::Precision;
    use xlatrain::models::ModelConfig;
    use xlatrain::optim::OptimizerSpec;
    use xlatrain::train::{eval_program, train_step_program};
    use xlatrain::DType;

    let layout = BatchLayout {
        x_type: DType::S32,
        x_shape: vec![2, INPUT_ROWS, 8],
        y_shape: vec![2],
    };
    let optimizer = OptimizerSpec::from_args(&TrainingArgs::defaults(ModelKind::Mlp), 10);
    let draws = |family: &str, rate: f64| {
        let mut config = cases()["bert_2_labels"]["config"].clone();
        config["model_type"] = json!(family);
        config["hidden_dropout_prob"] = json!(rate);
        config["attention_probs_dropout_prob"] = json!(rate);
        let hf = xlatrain::hf::HfConfig::from_json(std::path::Path::new("c"), &config).unwrap();
        let model = ModelConfig::Hf(hf);
        let train = train_step_program(&model, &optimizer, &layout, 1).unwrap();
        let eval = eval_program(&model, &layout, Precision::F32).unwrap();
        let count = |mlir: &str| mlir.matches("stablehlo.rng_bit_generator").count();
        (count(&train.mlir), count(&eval.mlir))
    };
    // the step always advances its key once; 2 layers x (probabilities, attention output, MLP
    // output) + embeddings + the classifier input (BERT) or both head layers' inputs (RoBERTa)
    assert_eq!(draws("bert", 0.0), (1, 0));
    assert_eq!(draws("bert", 0.1), (1 + 1 + 2 * 3 + 1, 0));
    assert_eq!(draws("roberta", 0.1), (1 + 1 + 2 * 3 + 2, 0));
}
