#!/usr/bin/env python3
"""Checks an `xlatrain export` of a GPT against Hugging Face GPT-2 semantics, without torch.

Usage: check_gpt2_export.py EXPORT_DIR BATCH_JSON

EXPORT_DIR holds model.safetensors and config.json as `xlatrain export` writes them. BATCH_JSON is
{"tokens": [[int]*T]*B, "targets": [[int]*T]*B, "loss": float, "tolerance": float (optional)}:
a batch and the loss xlatrain computed for it with the same parameters.

The script loads the weights with the reference `safetensors` package, checks config.json is a
GPT-2 config whose sizes match the tensors, then runs the GPT2LMHeadModel forward pass in numpy
(float64) exactly as transformers defines it: token + position embeddings; per block
x += c_proj(attn(ln_1(x))) with the fused c_attn split into q, k, v and heads as column blocks,
scaled dot products, causal mask; x += mlp.c_proj(gelu_new(mlp.c_fc(ln_2(x)))); ln_f; logits
through the tied wte. Conv1D weights are [in, out]: y = x @ W + b. The mean next-token cross
entropy must equal BATCH_JSON's loss within the tolerance (default 1e-4).
Exit 0 on agreement, 1 on a mismatch, 2 on bad usage. Needs: pip install safetensors numpy
"""

import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file


class Mismatch(Exception):
    pass


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x, axis):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def gpt2_logits(w, config, tokens):
    n_layer, n_head = config["n_layer"], config["n_head"]
    eps = config["layer_norm_epsilon"]
    batch, t = tokens.shape
    wte = w["transformer.wte.weight"]
    d = wte.shape[1]
    dh = d // n_head
    h = wte[tokens] + w["transformer.wpe.weight"][:t][None, :, :]
    causal = np.tril(np.ones((t, t), dtype=bool))
    for i in range(n_layer):
        p = lambda name: w[f"transformer.h.{i}.{name}"]
        a = layer_norm(h, p("ln_1.weight"), p("ln_1.bias"), eps)
        qkv = a @ p("attn.c_attn.weight") + p("attn.c_attn.bias")
        q, k, v = np.split(qkv, 3, axis=2)
        heads = lambda x: x.reshape(batch, t, n_head, dh).transpose(0, 2, 1, 3)
        q, k, v = heads(q), heads(k), heads(v)
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)
        scores = np.where(causal, scores, np.finfo(scores.dtype).min)
        att = softmax(scores, axis=-1) @ v
        att = att.transpose(0, 2, 1, 3).reshape(batch, t, d)
        h = h + att @ p("attn.c_proj.weight") + p("attn.c_proj.bias")
        m = layer_norm(h, p("ln_2.weight"), p("ln_2.bias"), eps)
        m = gelu_new(m @ p("mlp.c_fc.weight") + p("mlp.c_fc.bias"))
        h = h + m @ p("mlp.c_proj.weight") + p("mlp.c_proj.bias")
    h = layer_norm(h, w["transformer.ln_f.weight"], w["transformer.ln_f.bias"], eps)
    head = w.get("lm_head.weight", wte)
    return h @ head.T


def cross_entropy(logits, targets):
    m = logits.max(axis=-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(axis=-1, keepdims=True)))[..., 0]
    picked = np.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
    return float((lse - picked).mean())


def check_config(config, w):
    if config.get("model_type") != "gpt2":
        raise Mismatch(f"config.json model_type is {config.get('model_type')!r}, expected 'gpt2'")
    if config.get("activation_function") != "gelu_new":
        raise Mismatch(f"activation_function is {config.get('activation_function')!r}")
    if "GPT2LMHeadModel" not in config.get("architectures", []):
        raise Mismatch("architectures does not name GPT2LMHeadModel")
    vocab, d = w["transformer.wte.weight"].shape
    expected = {
        "vocab_size": vocab,
        "n_embd": d,
        "n_positions": w["transformer.wpe.weight"].shape[0],
        "n_inner": w["transformer.h.0.mlp.c_fc.weight"].shape[1],
    }
    for key, value in expected.items():
        if config.get(key) != value:
            raise Mismatch(f"config.json {key} = {config.get(key)}, the weights say {value}")
    layers = {k.split(".")[2] for k in w if k.startswith("transformer.h.")}
    if len(layers) != config["n_layer"]:
        raise Mismatch(f"n_layer = {config['n_layer']}, the weights have {len(layers)} blocks")
    if d % config["n_head"] != 0:
        raise Mismatch(f"n_embd {d} is not divisible by n_head {config['n_head']}")
    for i in range(config["n_layer"]):
        if w[f"transformer.h.{i}.attn.c_attn.weight"].shape != (d, 3 * d):
            raise Mismatch(f"block {i} c_attn.weight is not Conv1D [n_embd, 3 n_embd]")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    export_dir, batch_path = argv[1], argv[2]
    try:
        with open(os.path.join(export_dir, "config.json")) as f:
            config = json.load(f)
        with open(batch_path) as f:
            batch = json.load(f)
        weights = load_file(os.path.join(export_dir, "model.safetensors"))
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    try:
        check_config(config, w)
        tokens = np.asarray(batch["tokens"], dtype=np.int64)
        targets = np.asarray(batch["targets"], dtype=np.int64)
        loss = cross_entropy(gpt2_logits(w, config, tokens), targets)
        want, tolerance = batch["loss"], batch.get("tolerance", 1e-4)
        if not abs(loss - want) <= tolerance:
            raise Mismatch(f"GPT-2 loss {loss:.8f} differs from xlatrain's {want:.8f} by more than {tolerance}")
    except Mismatch as e:
        print(f"MISMATCH {export_dir}: {e}", file=sys.stderr)
        return 1
    print(f"OK {export_dir}: {len(weights)} tensors load as GPT-2; loss {loss:.8f} vs xlatrain {want:.8f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
