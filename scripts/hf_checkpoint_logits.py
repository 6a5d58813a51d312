#!/usr/bin/env python3
"""Loads an xlatrain checkpoint directory the way users do, with transformers' own
`from_pretrained` (no export step), and prints what it computes (tests/hf_train.rs).

    python3 scripts/hf_checkpoint_logits.py CHECKPOINT_DIR PROMPT_IDS_JSON [DIR PROMPT ...]

Prints a JSON list with one object per directory (one process, so jax imports once):
- model_class: the Flax class `FlaxAutoModelForCausalLM` picked from config.json;
- config: model_type, architectures and torch_dtype as `AutoConfig` read them;
- logits: the logits of the prompt ([len * vocab], row-major, float64) from
  `from_pretrained(CHECKPOINT_DIR, from_pt=True)` in float32;
- tokenizer (when the directory has tokenizer files): the class `AutoTokenizer` loaded and the
  ids it gives "hello world".
"""

import json
import os
import sys

import numpy as np


def load(checkpoint, prompt):
    import jax.numpy as jnp
    import transformers

    config = transformers.AutoConfig.from_pretrained(checkpoint)
    model = transformers.FlaxAutoModelForCausalLM.from_pretrained(
        checkpoint, from_pt=True, dtype=jnp.float32
    )
    logits = model(np.asarray([prompt], dtype=np.int32)).logits[0]
    result = {
        "model_class": type(model).__name__,
        "config": {
            "model_type": config.model_type,
            "architectures": config.architectures,
            "torch_dtype": str(getattr(config, "torch_dtype", None)).replace("torch.", ""),
            "tie_word_embeddings": bool(getattr(config, "tie_word_embeddings", False)),
        },
        "logits": np.asarray(logits, np.float64).reshape(-1).tolist(),
    }
    if os.path.isfile(os.path.join(checkpoint, "tokenizer.json")):
        tokenizer = transformers.AutoTokenizer.from_pretrained(checkpoint)
        result["tokenizer"] = {
            "class": type(tokenizer).__name__,
            "hello_world": tokenizer("hello world", add_special_tokens=False)["input_ids"],
        }
    return result


def main():
    args = sys.argv[1:]
    pairs = [(args[i], json.loads(args[i + 1])) for i in range(0, len(args) - 1, 2)]
    json.dump([load(checkpoint, prompt) for checkpoint, prompt in pairs], sys.stdout)


if __name__ == "__main__":
    main()
