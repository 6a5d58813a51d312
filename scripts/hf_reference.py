#!/usr/bin/env python3
"""Reference values for xlatrain's Hugging Face model support (tests/hf_models.rs).

    python3 scripts/hf_reference.py CASES_JSON OUT_DIR

CASES_JSON maps case names to cases (one process, so jax and transformers import once); each
case describes a tiny random model: {"family": "llama"|"qwen2"|"mistral"|"gpt2",
"config": {...config.json keys...}, "dtype": "float32"|"bfloat16"|"float16", "shards": 1|2, "seed": 0,
"prompt": [ids], "new_tokens": N, "eval_seq_len": T, "eval_tokens": N, "flax": true|false}.

For each case NAME the script writes OUT_DIR/NAME/model/ (config.json + safetensors, sharded
with an index when asked) and OUT_DIR/NAME/eval.u16 (a token file), then prints one JSON object
mapping each name to:

- logits_numpy: logits of the prompt from a numpy float64 forward written from the semantics
  of transformers' modeling code (modeling_llama.py / modeling_qwen2.py / modeling_gpt2.py);
- logits_flax: the same from transformers' own FlaxLlamaForCausalLM / FlaxGPT2LMHeadModel
  (when "flax": FlaxLlama hard-codes RoPE base 10000 and knows no q/k/v biases, so it is used
  only where its semantics match; shards are merged and a tied head is passed explicitly);
- greedy_numpy (and greedy_flax): greedy continuation ids (full recompute per token);
- eval_loss: mean next-token loss over OUT_DIR/eval.u16 cut into windows of T + 1 tokens.
"""

import json
import os
import sys

import numpy as np


def rms_norm(x, w, eps):
    var = np.mean(x * x, axis=-1, keepdims=True)
    return w * (x / np.sqrt(var + eps))


def layer_norm(x, w, b, eps):
    mu = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def causal_attention(q, k, v, scale):
    """q [H, T, D], k/v [Hkv, T, D]; HF repeat_kv: head h reads kv head h // (H / Hkv)."""
    rep = q.shape[0] // k.shape[0]
    k = np.repeat(k, rep, axis=0)
    v = np.repeat(v, rep, axis=0)
    t = q.shape[1]
    s = q @ np.swapaxes(k, -1, -2) * scale
    mask = np.triu(np.ones((t, t), dtype=bool), 1)
    s = np.where(mask, -np.inf, s)
    return softmax(s) @ v


def llama_logits(cfg, w, ids):
    d = cfg["hidden_size"]
    h = cfg["num_attention_heads"]
    hkv = cfg.get("num_key_value_heads", h)
    dh = cfg.get("head_dim") or d // h
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    t = len(ids)
    # LlamaRotaryEmbedding: inv_freq in float32, angles = positions x inv_freq, cat(freqs, freqs)
    inv = 1.0 / (np.float32(theta) ** (np.arange(0, dh, 2, dtype=np.int64).astype(np.float32) / dh))
    freqs = np.arange(t, dtype=np.float64)[:, None] * inv.astype(np.float64)[None, :]
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)

    def rope(x):  # [heads, T, D]
        x1, x2 = x[..., : dh // 2], x[..., dh // 2 :]
        return x * cos + np.concatenate([-x2, x1], axis=-1) * sin

    def lin(x, name, bias=False):
        y = x @ w[name + ".weight"].T
        if bias:
            y = y + w[name + ".bias"]
        return y

    qkv_bias = cfg["model_type"] == "qwen2"
    x = w["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(a, p + "self_attn.q_proj", qkv_bias).reshape(t, h, dh).transpose(1, 0, 2)
        k = lin(a, p + "self_attn.k_proj", qkv_bias).reshape(t, hkv, dh).transpose(1, 0, 2)
        v = lin(a, p + "self_attn.v_proj", qkv_bias).reshape(t, hkv, dh).transpose(1, 0, 2)
        o = causal_attention(rope(q), rope(k), v, dh ** -0.5)
        x = x + lin(o.transpose(1, 0, 2).reshape(t, h * dh), p + "self_attn.o_proj")
        m = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = lin(m, p + "mlp.gate_proj")
        x = x + lin(gate / (1.0 + np.exp(-gate)) * lin(m, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    return x @ head.T


def gpt2_logits(cfg, w, ids):
    d, h = cfg["n_embd"], cfg["n_head"]
    dh = d // h
    eps = cfg.get("layer_norm_epsilon", 1e-5)
    t = len(ids)
    pre = "transformer."
    x = w[pre + "wte.weight"][ids] + w[pre + "wpe.weight"][:t]

    def conv1d(x, name):  # Conv1D: weight [in, out]
        return x @ w[name + ".weight"] + w[name + ".bias"]

    def gelu_new(x):
        return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))

    for i in range(cfg["n_layer"]):
        p = f"{pre}h.{i}."
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = conv1d(a, p + "attn.c_attn")
        q, k, v = (qkv[:, j * d : (j + 1) * d].reshape(t, h, dh).transpose(1, 0, 2) for j in range(3))
        o = causal_attention(q, k, v, dh ** -0.5).transpose(1, 0, 2).reshape(t, d)
        x = x + conv1d(o, p + "attn.c_proj")
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        x = x + conv1d(gelu_new(conv1d(m, p + "mlp.c_fc")), p + "mlp.c_proj")
    x = layer_norm(x, w[pre + "ln_f.weight"], w[pre + "ln_f.bias"], eps)
    return x @ w[pre + "wte.weight"].T


def tensor_shapes(cfg):
    """Parameter names and shapes in transformers' declaration order (HF layouts)."""
    if cfg["model_type"] == "gpt2":
        d, f, v = cfg["n_embd"], cfg.get("n_inner") or 4 * cfg["n_embd"], cfg["vocab_size"]
        out = [("transformer.wte.weight", (v, d)), ("transformer.wpe.weight", (cfg["n_positions"], d))]
        for i in range(cfg["n_layer"]):
            p = f"transformer.h.{i}."
            out += [(p + "ln_1.weight", (d,)), (p + "ln_1.bias", (d,)),
                    (p + "attn.c_attn.weight", (d, 3 * d)), (p + "attn.c_attn.bias", (3 * d,)),
                    (p + "attn.c_proj.weight", (d, d)), (p + "attn.c_proj.bias", (d,)),
                    (p + "ln_2.weight", (d,)), (p + "ln_2.bias", (d,)),
                    (p + "mlp.c_fc.weight", (d, f)), (p + "mlp.c_fc.bias", (f,)),
                    (p + "mlp.c_proj.weight", (f, d)), (p + "mlp.c_proj.bias", (d,))]
        return out + [("transformer.ln_f.weight", (d,)), ("transformer.ln_f.bias", (d,))]
    d, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    h = cfg["num_attention_heads"]
    hkv = cfg.get("num_key_value_heads", h)
    dh = cfg.get("head_dim") or d // h
    out = [("model.embed_tokens.weight", (v, d))]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for proj, rows in (("q_proj", h * dh), ("k_proj", hkv * dh), ("v_proj", hkv * dh)):
            out.append((p + f"self_attn.{proj}.weight", (rows, d)))
            if cfg["model_type"] == "qwen2":
                out.append((p + f"self_attn.{proj}.bias", (rows,)))
        out += [(p + "self_attn.o_proj.weight", (d, h * dh)), (p + "mlp.gate_proj.weight", (f, d)),
                (p + "mlp.up_proj.weight", (f, d)), (p + "mlp.down_proj.weight", (d, f)),
                (p + "input_layernorm.weight", (d,)), (p + "post_attention_layernorm.weight", (d,))]
    out.append(("model.norm.weight", (d,)))
    if not cfg.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", (v, d)))
    return out


def random_weights(cfg, seed, dtype):
    import ml_dtypes

    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in tensor_shapes(cfg):
        if len(shape) == 1 and ("norm" in name or "ln_" in name) and name.endswith("weight"):
            value = 1.0 + 0.2 * rng.standard_normal(shape)
        elif len(shape) == 1:
            value = 0.1 * rng.standard_normal(shape)
        elif "embed" in name or "wte" in name or "wpe" in name:
            # small next to the blocks' outputs, so a tied head does not just echo the input
            value = 0.1 * rng.standard_normal(shape)
        else:
            fan_in = shape[0] if cfg["model_type"] == "gpt2" else shape[1]  # Conv1D [in, out]
            value = rng.standard_normal(shape) / np.sqrt(fan_in)
        value = value.astype(np.float32)
        if dtype == "bfloat16":  # what the file holds, read back exactly
            value = value.astype(ml_dtypes.bfloat16).astype(np.float32)
        elif dtype == "float16":
            value = value.astype(np.float16).astype(np.float32)
        weights[name] = value
    return weights


def save(weights, out, dtype, shards):
    import jax.numpy as jnp
    from safetensors.flax import save_file

    jdtype = {"bfloat16": jnp.bfloat16, "float16": jnp.float16}.get(dtype, jnp.float32)
    width = 4 if jdtype == jnp.float32 else 2
    names = list(weights)
    if shards == 1:
        save_file({n: jnp.asarray(weights[n], dtype=jdtype) for n in names},
                  os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
        return
    per = (len(names) + shards - 1) // shards
    weight_map, total = {}, 0
    for s in range(shards):
        part = names[s * per : (s + 1) * per]
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file({n: jnp.asarray(weights[n], dtype=jdtype) for n in part},
                  os.path.join(out, file), metadata={"format": "pt"})
        for n in part:
            weight_map[n] = file
            total += weights[n].size * width
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def flax_model(cfg, weights, work):
    """transformers' Flax class on a merged f32 copy (Flax reads no shards, ties no head)."""
    from safetensors.flax import save_file
    import jax.numpy as jnp

    merged = os.path.join(work, "flax_copy")
    os.makedirs(merged, exist_ok=True)
    with open(os.path.join(merged, "config.json"), "w") as f:
        json.dump(cfg, f)
    copy = {n: jnp.asarray(v) for n, v in weights.items()}
    if cfg["model_type"] == "llama" and "lm_head.weight" not in copy:
        copy["lm_head.weight"] = copy["model.embed_tokens.weight"]
    save_file(copy, os.path.join(merged, "model.safetensors"), metadata={"format": "pt"})
    import transformers

    cls = {"llama": transformers.FlaxLlamaForCausalLM, "gpt2": transformers.FlaxGPT2LMHeadModel}
    return cls[cfg["model_type"]].from_pretrained(merged, from_pt=True, dtype=jnp.float32)


def greedy(logits_of, prompt, n, eos):
    ids = list(prompt)
    new = []
    for _ in range(n):
        nxt = int(np.argmax(logits_of(ids)[-1]))
        new.append(nxt)
        ids.append(nxt)
        if nxt in eos:
            break
    return new


def run_case(case, out):
    model_dir = os.path.join(out, "model")
    os.makedirs(model_dir, exist_ok=True)
    cfg = dict(case["config"])
    cfg["model_type"] = case["family"]
    cfg.setdefault("architectures", [{"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM",
                                      "mistral": "MistralForCausalLM",
                                      "qwen2": "Qwen2ForCausalLM"}[case["family"]]])
    cfg["torch_dtype"] = case.get("dtype", "float32")
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    weights = random_weights(cfg, case.get("seed", 0), case.get("dtype", "float32"))
    save(weights, model_dir, case.get("dtype", "float32"), case.get("shards", 1))
    w64 = {n: v.astype(np.float64) for n, v in weights.items()}
    forward = gpt2_logits if cfg["model_type"] == "gpt2" else llama_logits
    numpy_logits = lambda ids: forward(cfg, w64, np.asarray(ids))
    prompt = case["prompt"]
    eos = cfg.get("eos_token_id")
    eos = set(eos if isinstance(eos, list) else ([] if eos is None else [eos]))
    result = {
        "logits_numpy": numpy_logits(prompt).reshape(-1).tolist(),
        "greedy_numpy": greedy(numpy_logits, prompt, case.get("new_tokens", 0), eos),
    }
    if case.get("flax"):
        model = flax_model(cfg, weights, out)
        flax_logits = lambda ids: np.asarray(model(np.asarray([ids], dtype=np.int32)).logits[0], np.float64)
        result["logits_flax"] = flax_logits(prompt).reshape(-1).tolist()
        result["greedy_flax"] = greedy(flax_logits, prompt, case.get("new_tokens", 0), eos)
    if case.get("eval_seq_len"):
        t, n = case["eval_seq_len"], case["eval_tokens"]
        tokens = np.random.default_rng(case.get("seed", 0) + 1).integers(0, cfg["vocab_size"], n)
        tokens.astype("<u2").tofile(os.path.join(out, "eval.u16"))
        losses = []
        for start in range(0, n - t, t + 1):  # non-overlapping windows of T + 1, in order
            window = tokens[start : start + t + 1]
            if len(window) < t + 1:
                break
            logits = numpy_logits(window[:t])
            logp = logits - np.max(logits, -1, keepdims=True)
            logp = logp - np.log(np.sum(np.exp(logp), -1, keepdims=True))
            losses.extend(-logp[np.arange(t), window[1:]])
        result["eval_loss"] = float(np.mean(losses))
        result["eval_tokens"] = len(losses)
    return result


def main():
    cases = json.loads(sys.argv[1])
    results = {name: run_case(case, os.path.join(sys.argv[2], name)) for name, case in cases.items()}
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
