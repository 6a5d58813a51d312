#!/usr/bin/env python3
"""Reference answers for xlatrain's tokenizer, GGUF and export tests, from libraries that are not
xlatrain: Hugging Face `tokenizers` and `transformers`, ggml's own `gguf` package, Flax.

Each subcommand prints one JSON object on stdout (the Rust test compares it with its own result):

  tokenize TOKENIZER_JSON TEXTS_JSON      ids (with and without special tokens) and decodes
  gguf-config GGUF                        transformers' config from the GGUF metadata
  gguf-tokenize GGUF TEXTS_JSON           ids from the tokenizer transformers builds from the GGUF
  gguf-compare GGUF EXPORT_DIR            every tensor of the export against gguf's dequantize,
                                          transformers' q/k un-permutation and gguf's name table
  gguf-synthetic OUT_DIR                  writes a small GGUF (gguf.GGUFWriter, gguf.quantize) of
                                          every supported type plus each tensor's dequantized
                                          values as raw little-endian f32
  flax-greedy EXPORT_DIR PROMPT N         FlaxLlamaForCausalLM greedy continuation of PROMPT

transformers loads GGUF metadata only when it believes torch is installed; the metadata path needs
no torch, so `is_torch_available` is patched for the GGUF subcommands.
"""
import json
import os
import sys

import numpy as np


def patched_gguf_utils():
    import transformers.modeling_gguf_pytorch_utils as utils

    utils.is_torch_available = lambda: True
    return utils


def tokenize(tokenizer_json, texts_json):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(tokenizer_json)
    texts = json.load(open(texts_json))
    with_special = [tok.encode(t, add_special_tokens=True).ids for t in texts]
    plain = [tok.encode(t, add_special_tokens=False).ids for t in texts]
    decoded = [tok.decode(ids, skip_special_tokens=False) for ids in plain]
    return {"with_special": with_special, "plain": plain, "decoded": decoded}


def gguf_config(path):
    patched_gguf_utils()
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    return config.to_dict()


def gguf_tokenize(path, texts_json):
    patched_gguf_utils()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    texts = json.load(open(texts_json))
    backend = tok.backend_tokenizer
    return {"plain": [backend.encode(t, add_special_tokens=False).ids for t in texts]}


def gguf_compare(path, export_dir):
    import gguf
    from safetensors.numpy import load_file

    utils = patched_gguf_utils()
    reader = gguf.GGUFReader(path)
    field = lambda key: reader.fields[key].contents()
    heads = field("llama.attention.head_count")
    kv_heads = field("llama.attention.head_count_kv")
    n_blocks = field("llama.block_count")
    processor = utils.LlamaTensorProcessor(
        config={"num_attention_heads": heads, "num_key_value_heads": kv_heads}
    )
    name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_blocks)
    ours = load_file(os.path.join(export_dir, "model.safetensors"))
    compared, mismatches, max_diff = 0, [], 0.0
    seen = set()
    for tensor in reader.tensors:
        weights = gguf.dequantize(tensor.data, tensor.tensor_type)
        weights = processor.process(weights, tensor.name).weights
        hf_name = None
        for candidate in ours:
            base = candidate[: -len(".weight")] if candidate.endswith(".weight") else candidate
            mapped = name_map.get_name(base)
            if mapped is not None and mapped + ".weight" == tensor.name:
                hf_name = candidate
                break
        if hf_name is None:
            mismatches.append(f"{tensor.name}: no exported tensor maps to it")
            continue
        seen.add(hf_name)
        mine = ours[hf_name]
        if mine.shape != weights.shape:
            mismatches.append(f"{hf_name}: shape {mine.shape} vs {weights.shape}")
            continue
        diff = float(np.max(np.abs(mine.astype(np.float64) - weights.astype(np.float64))))
        max_diff = max(max_diff, diff)
        if diff != 0.0:
            mismatches.append(f"{hf_name}: max abs diff {diff}")
        compared += 1
    extra = sorted(set(ours) - seen)
    return {
        "compared": compared,
        "max_abs_diff": max_diff,
        "mismatches": mismatches,
        "extra": extra,
        "types": sorted({t.tensor_type.name for t in reader.tensors}),
    }


def gguf_synthetic(out_dir):
    import gguf

    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(11)
    writer = gguf.GGUFWriter(os.path.join(out_dir, "synthetic.gguf"), "llama")
    writer.add_uint32("test.u32", 7)
    writer.add_int64("test.i64", -5)
    writer.add_float64("test.f64", 0.25)
    writer.add_bool("test.flag", True)
    writer.add_string("test.name", "héllo")
    writer.add_array("test.ints", [1, 2, 3])
    writer.add_array("test.strings", ["a", "bc"])
    Q = gguf.GGMLQuantizationType
    cases = [
        ("f32", Q.F32, (3, 5)),
        ("f16", Q.F16, (4, 6)),
        ("bf16", Q.BF16, (2, 64)),
        ("q8_0", Q.Q8_0, (3, 64)),
        ("q4_0", Q.Q4_0, (5, 32)),
        ("q4_1", Q.Q4_1, (2, 96)),
    ]
    expected = {}
    for name, qtype, shape in cases:
        values = (rng.standard_normal(shape) * 0.7).astype(np.float32)
        if qtype == Q.F32:
            raw = values
        elif qtype == Q.F16:
            raw = values.astype(np.float16)
        else:
            raw = gguf.quantize(values, qtype)
        writer.add_tensor(name, raw, raw_dtype=qtype)
        back = gguf.dequantize(raw, qtype).astype("<f4").reshape(shape)
        back.tofile(os.path.join(out_dir, name + ".f32"))
        expected[name] = {"type": qtype.name, "shape": list(shape)}
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return expected


def flax_greedy(export_dir, prompt, n):
    import jax.numpy as jnp
    from transformers import AutoTokenizer, FlaxLlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(export_dir)
    ids = tok(prompt)["input_ids"]
    model = FlaxLlamaForCausalLM.from_pretrained(export_dir, from_pt=True)
    config = json.load(open(os.path.join(export_dir, "config.json")))
    if config.get("tie_word_embeddings"):
        # Flax does not tie a missing lm_head: pass the embedding as the head.
        params = model.params
        params["lm_head"] = {"kernel": jnp.asarray(params["model"]["embed_tokens"]["embedding"]).T}
        model.params = params
    prompt_ids = list(ids)
    finite = True
    for _ in range(int(n)):
        logits = np.asarray(model(jnp.array([ids])).logits[0, -1])
        finite = finite and bool(np.isfinite(logits).all())
        ids.append(int(np.argmax(logits)))
    new = ids[len(prompt_ids):]
    return {"prompt_ids": prompt_ids, "ids": new, "text": tok.decode(new), "finite": finite}


def main():
    commands = {
        "tokenize": tokenize,
        "gguf-config": gguf_config,
        "gguf-tokenize": gguf_tokenize,
        "gguf-compare": gguf_compare,
        "gguf-synthetic": gguf_synthetic,
        "flax-greedy": flax_greedy,
    }
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: hftext_reference.py {'|'.join(commands)} ARGS...")
    result = commands[sys.argv[1]](*sys.argv[2:])
    print(json.dumps(result))


if __name__ == "__main__":
    main()
