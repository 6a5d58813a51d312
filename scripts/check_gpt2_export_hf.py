#!/usr/bin/env python3
"""Loads an `xlatrain export` of a GPT with Hugging Face transformers and checks its loss.

Usage: check_gpt2_export_hf.py EXPORT_DIR BATCH_JSON

The same check as check_gpt2_export.py, but through the real `GPT2LMHeadModel.from_pretrained`
(needs: pip install torch transformers). BATCH_JSON is {"tokens", "targets", "loss", "tolerance"}
as tests/export_gpt2.rs writes it. Exit 0 when the loss agrees, 1 when it does not, 2 on bad usage.
"""

import json
import sys

import torch
from transformers import GPT2LMHeadModel


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    export_dir, batch_path = argv[1], argv[2]
    with open(batch_path) as f:
        batch = json.load(f)
    model = GPT2LMHeadModel.from_pretrained(export_dir, torch_dtype=torch.float32)
    model.eval()
    tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
    tokens = torch.tensor(batch["tokens"], dtype=torch.long)
    targets = torch.tensor(batch["targets"], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=tokens).logits.double()
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    ).item()
    want, tolerance = batch["loss"], batch.get("tolerance", 1e-4)
    ok = abs(loss - want) <= tolerance and tied
    print(
        f"{'OK' if ok else 'MISMATCH'} {export_dir}: transformers GPT2LMHeadModel loss {loss:.8f} "
        f"vs xlatrain {want:.8f} (tolerance {tolerance}); lm_head tied to wte: {tied}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
