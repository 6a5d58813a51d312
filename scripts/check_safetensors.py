#!/usr/bin/env python3
"""Reads xlatrain checkpoints with the reference `safetensors` package and numpy.

Usage: check_safetensors.py DIR [DIR...]
DIR is a checkpoint directory (holding *.safetensors) or an output directory (every
checkpoint-<step>/ inside is checked). For each tensor file set (model, optimizer): every shard
loads with safetensors.safe_open; every tensor (except BF16, which numpy lacks) loads as a numpy
array whose dtype, shape and byte size agree with the header; the index, when present, names
exactly the tensors each shard holds and its metadata.total_size is their byte sum.
Exit 0 when everything agrees, 1 on a mismatch, 2 on bad usage. Needs: pip install safetensors numpy
"""

import json
import os
import re
import sys

import numpy as np
from safetensors import safe_open

NUMPY_DTYPES = {
    "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
    "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32, "F64": np.float64,
    "I64": np.int64, "U64": np.uint64,
}
ELEMENT_SIZE = {"BF16": 2, **{k: np.dtype(v).itemsize for k, v in NUMPY_DTYPES.items()}}


class Mismatch(Exception):
    pass


def read_shard(path):
    """Returns {name: nbytes} after loading every tensor from `path`."""
    sizes = {}
    with safe_open(path, framework="numpy") as f:
        for name in f.keys():
            sl = f.get_slice(name)
            dtype, shape = sl.get_dtype(), list(sl.get_shape())
            nbytes = int(np.prod(shape, dtype=np.int64)) * ELEMENT_SIZE[dtype]
            if dtype in NUMPY_DTYPES:
                array = f.get_tensor(name)
                if list(array.shape) != shape or array.dtype != np.dtype(NUMPY_DTYPES[dtype]):
                    raise Mismatch(f"{path}: {name} loads as {array.dtype}{list(array.shape)}, header says {dtype}{shape}")
                if array.nbytes != nbytes:
                    raise Mismatch(f"{path}: {name} has {array.nbytes} bytes, expected {nbytes}")
            sizes[name] = nbytes
    return sizes


def check_set(ckpt, prefix):
    """Checks one tensor set; returns the number of tensors, 0 if the set is absent."""
    index_path = os.path.join(ckpt, f"{prefix}.safetensors.index.json")
    single = os.path.join(ckpt, f"{prefix}.safetensors")
    if not os.path.exists(index_path):
        return len(read_shard(single)) if os.path.exists(single) else 0
    with open(index_path) as f:
        index = json.load(f)
    weight_map = index["weight_map"]
    shard_pattern = re.compile(re.escape(prefix) + r"-\d{5}-of-\d{5}\.safetensors$")
    shards = sorted(set(weight_map.values()) | {n for n in os.listdir(ckpt) if shard_pattern.match(n)})
    total = 0
    for shard in shards:
        if os.path.basename(shard) != shard:
            raise Mismatch(f"{index_path}: shard path {shard!r} is not a plain file name")
        sizes = read_shard(os.path.join(ckpt, shard))
        listed = {t for t, s in weight_map.items() if s == shard}
        if listed != set(sizes):
            raise Mismatch(f"{index_path}: {shard} holds {sorted(sizes)}, index lists {sorted(listed)}")
        total += sum(sizes.values())
    if total != index["metadata"]["total_size"]:
        raise Mismatch(f"{index_path}: total_size {index['metadata']['total_size']} != {total}")
    return len(weight_map)


def check_checkpoint(ckpt):
    model = check_set(ckpt, "model")
    if model == 0:
        raise Mismatch(f"{ckpt}: no model tensors")
    optimizer = check_set(ckpt, "optimizer")
    for name in ("config.json", "training_args.json", "trainer_state.json", "checkpoint_manifest.json"):
        with open(os.path.join(ckpt, name)) as f:
            json.load(f)
    print(f"ok {ckpt}: {model} model tensors, {optimizer} optimizer tensors")


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    checkpoints = []
    for arg in argv[1:]:
        if not os.path.isdir(arg):
            print(f"not a directory: {arg}", file=sys.stderr)
            return 2
        if any(n.endswith(".safetensors") for n in os.listdir(arg)):
            checkpoints.append(arg)
        else:
            checkpoints += sorted(os.path.join(arg, n) for n in os.listdir(arg) if re.fullmatch(r"checkpoint-\d+", n))
    if not checkpoints:
        print(f"no checkpoints found in {argv[1:]}", file=sys.stderr)
        return 1
    try:
        for ckpt in checkpoints:
            check_checkpoint(ckpt)
    except (Mismatch, OSError, ValueError, KeyError) as e:
        print(f"MISMATCH: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
