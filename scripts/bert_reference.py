#!/usr/bin/env python3
"""Reference logits for xlatrain's sequence-classification encoders (tests/hf_bert.rs).

    python3 scripts/bert_reference.py make CASES_JSON OUT_DIR
    python3 scripts/bert_reference.py logits MODEL_DIR INPUTS_JSON

`make`: CASES_JSON maps case names to {"family": "bert"|"roberta", "config": {...config.json
keys...}, "seed": N, "inputs": [{"ids": [...], "types": [...]?}, ...], "pad_to": T}. For each case
NAME it writes OUT_DIR/NAME/model/ (config.json + model.safetensors in PyTorch layout, random
weights) and prints one JSON object mapping each name to:

- logits_padded: transformers' FlaxBertForSequenceClassification /
  FlaxRobertaForSequenceClassification logits of the inputs as one batch right-padded with the
  config's pad_token_id to `pad_to`, with the attention mask (row-major [batch, num_labels]);
- logits_single: the logits of each input alone, unpadded (one row per input).

`logits`: loads MODEL_DIR with the Flax class its config names (from_pretrained, from_pt=True),
runs INPUTS_JSON ({"ids": [[...]], "mask": [[...]], "types": [[...]]}) and prints the logits as a
JSON list of rows: the check that a checkpoint xlatrain wrote loads in transformers.
"""

import json
import os
import sys

import numpy as np


def tensor_shapes(cfg):
    """PyTorch names and shapes of *ForSequenceClassification (transformers' order)."""
    fam = cfg["model_type"]
    d, f = cfg["hidden_size"], cfg["intermediate_size"]
    labels = len(cfg.get("id2label", {})) or cfg.get("num_labels", 2)
    p = fam + "."
    out = [(p + "embeddings.word_embeddings.weight", (cfg["vocab_size"], d)),
           (p + "embeddings.position_embeddings.weight", (cfg["max_position_embeddings"], d)),
           (p + "embeddings.token_type_embeddings.weight", (cfg.get("type_vocab_size", 2), d)),
           (p + "embeddings.LayerNorm.weight", (d,)), (p + "embeddings.LayerNorm.bias", (d,))]
    for i in range(cfg["num_hidden_layers"]):
        l = f"{p}encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            out += [(l + name + ".weight", (d, d)), (l + name + ".bias", (d,))]
        out += [(l + "attention.output.LayerNorm.weight", (d,)),
                (l + "attention.output.LayerNorm.bias", (d,)),
                (l + "intermediate.dense.weight", (f, d)), (l + "intermediate.dense.bias", (f,)),
                (l + "output.dense.weight", (d, f)), (l + "output.dense.bias", (d,)),
                (l + "output.LayerNorm.weight", (d,)), (l + "output.LayerNorm.bias", (d,))]
    if fam == "bert":
        out += [(p + "pooler.dense.weight", (d, d)), (p + "pooler.dense.bias", (d,)),
                ("classifier.weight", (labels, d)), ("classifier.bias", (labels,))]
    else:
        out += [("classifier.dense.weight", (d, d)), ("classifier.dense.bias", (d,)),
                ("classifier.out_proj.weight", (labels, d)), ("classifier.out_proj.bias", (labels,))]
    return out


def random_weights(cfg, seed):
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in tensor_shapes(cfg):
        if len(shape) == 1 and "LayerNorm.weight" in name:
            value = 1.0 + 0.2 * rng.standard_normal(shape)
        elif len(shape) == 1:
            value = 0.1 * rng.standard_normal(shape)
        elif "embeddings" in name:
            value = 0.5 * rng.standard_normal(shape)
        else:
            value = rng.standard_normal(shape) / np.sqrt(shape[1])
        weights[name] = value.astype(np.float32)
    return weights


def flax_class(cfg):
    import transformers

    return {"bert": transformers.FlaxBertForSequenceClassification,
            "roberta": transformers.FlaxRobertaForSequenceClassification}[cfg["model_type"]]


def load(model_dir):
    import jax.numpy as jnp

    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    return cfg, flax_class(cfg).from_pretrained(model_dir, from_pt=True, dtype=jnp.float32)


def run(model, ids, mask, types):
    out = model(np.asarray(ids, dtype=np.int32), attention_mask=np.asarray(mask, dtype=np.int32),
                token_type_ids=np.asarray(types, dtype=np.int32), train=False)
    return np.asarray(out.logits, dtype=np.float64)


def make(cases, out_dir):
    from safetensors.numpy import save_file

    results = {}
    for name, case in cases.items():
        cfg = dict(case["config"], model_type=case["family"])
        model_dir = os.path.join(out_dir, name, "model")
        os.makedirs(model_dir, exist_ok=True)
        with open(os.path.join(model_dir, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        save_file(random_weights(cfg, case.get("seed", 0)),
                  os.path.join(model_dir, "model.safetensors"), metadata={"format": "pt"})
        _, model = load(model_dir)
        pad = cfg.get("pad_token_id", 0 if case["family"] == "bert" else 1)
        t = case["pad_to"]
        ids, mask, types, single = [], [], [], []
        for item in case["inputs"]:
            n = len(item["ids"])
            ty = item.get("types", [0] * n)
            ids.append(item["ids"] + [pad] * (t - n))
            mask.append([1] * n + [0] * (t - n))
            types.append(ty + [0] * (t - n))
            single.append(run(model, [item["ids"]], [[1] * n], [ty])[0].tolist())
        results[name] = {"logits_padded": run(model, ids, mask, types).reshape(-1).tolist(),
                         "logits_single": single}
    print(json.dumps(results))


def main():
    if sys.argv[1] == "make":
        make(json.loads(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == "logits":
        _, model = load(sys.argv[2])
        inputs = json.loads(open(sys.argv[3]).read())
        print(json.dumps(run(model, inputs["ids"], inputs["mask"], inputs["types"]).tolist()))
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}")


if __name__ == "__main__":
    main()
