#!/usr/bin/env python3
"""Writes the seed corpus in tests/data/fuzz_seeds/<kind>/: valid-* files that the readers must
accept and hostile-* files that they must refuse with an error (tests/fuzz_regressions.rs checks
both; scripts/fuzz.sh starts each fuzz target from them). Rerun after editing; commit the output.
"""
import json
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "fuzz_seeds")


def write(kind, name, data):
    d = os.path.join(ROOT, kind)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def shard(header, data_len, pad=True):
    if not isinstance(header, bytes):
        header = header.encode()
    if pad:
        header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\x07" * data_len


def entry(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def st(kind_name, entries, data_len, **kw):
    write("safetensors", kind_name, shard(json.dumps(entries, separators=(",", ":")), data_len, **kw))


# ---- safetensors shards ----
st("valid-two-tensors.safetensors",
   {"__metadata__": {"format": "pt"}, "a": entry("F32", [2], 0, 8), "b": entry("U8", [3], 8, 11)}, 11)
st("valid-empty-and-scalar.safetensors",
   {"e": entry("I64", [0, 4], 0, 0), "s": entry("F64", [], 0, 8)}, 8)
st("valid-empty.safetensors", {}, 0)

st("hostile-offset-overflow.safetensors",
   {"a": entry("U8", [1], 18446744073709551615, 0)}, 0)
st("hostile-offset-end-overflow.safetensors",
   {"a": entry("U8", [1], 0, 1), "b": entry("U8", [1], 18446744073709551614, 18446744073709551615)}, 1)
st("hostile-offsets-beyond-u64.safetensors",
   {"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551616]}}, 1)
st("hostile-overlap.safetensors", {"a": entry("F32", [2], 0, 8), "b": entry("F32", [1], 4, 8)}, 8)
st("hostile-same-range.safetensors", {"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 0, 4)}, 4)
st("hostile-gap.safetensors", {"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}, 12)
st("hostile-reversed-offsets.safetensors", {"a": entry("U8", [0], 4, 0)}, 4)
st("hostile-beyond-file.safetensors", {"a": entry("F32", [1024], 0, 4096)}, 16)
st("hostile-trailing-bytes.safetensors", {"a": entry("F32", [1], 0, 4)}, 5)
st("hostile-negative-shape.safetensors", {"a": entry("F32", [-1], 0, 4)}, 4)
st("hostile-huge-shape.safetensors", {"a": entry("F32", [18446744073709551615], 0, 4)}, 4)
st("hostile-shape-product-overflow.safetensors",
   {"a": entry("U8", [4294967296, 4294967296, 2], 0, 0)}, 0)
st("hostile-shape-times-dtype-overflow.safetensors",
   {"a": entry("F64", [2305843009213693952], 0, 0)}, 0)
st("hostile-zero-dim-nonzero-bytes.safetensors", {"a": entry("F32", [0, 18446744073709551615], 0, 4)}, 4)
st("hostile-float-shape.safetensors", {"a": entry("F32", [1.0], 0, 4)}, 4)
st("hostile-string-shape.safetensors", {"a": entry("F32", ["1"], 0, 4)}, 4)
st("hostile-string-offsets.safetensors",
   {"a": {"dtype": "F32", "shape": [1], "data_offsets": ["0", "4"]}}, 4)
st("hostile-three-offsets.safetensors",
   {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4, 8]}}, 4)
st("hostile-unknown-dtype.safetensors", {"a": entry("F8_E4M3", [1], 0, 1)}, 1)
st("hostile-lowercase-dtype.safetensors", {"a": entry("f32", [1], 0, 4)}, 4)
st("hostile-numeric-dtype.safetensors", {"a": {"dtype": 4, "shape": [1], "data_offsets": [0, 4]}}, 4)
st("hostile-metadata-not-string.safetensors", {"__metadata__": {"format": 1}}, 0)
st("hostile-metadata-array.safetensors", {"__metadata__": ["pt"]}, 0)
st("hostile-entry-not-object.safetensors", {"a": [0, 4]}, 4)
st("hostile-unknown-field.safetensors",
   {"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "offset": 0}}, 4)
st("hostile-missing-offsets.safetensors", {"a": {"dtype": "F32", "shape": [1]}}, 4)
dup = '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}'
write("safetensors", "hostile-duplicate-key.safetensors", shard(dup, 8))
dupmeta = '{"__metadata__":{"format":"pt"},"__metadata__":{"format":"np"}}'
write("safetensors", "hostile-duplicate-metadata.safetensors", shard(dupmeta, 0))
write("safetensors", "hostile-header-len-max.safetensors", struct.pack("<Q", 2**64 - 1) + b"{}")
write("safetensors", "hostile-header-len-over-limit.safetensors",
      struct.pack("<Q", 100_000_001) + b"{}" + b" " * 64)
write("safetensors", "hostile-header-len-past-eof.safetensors", struct.pack("<Q", 4096) + b"{}      ")
write("safetensors", "hostile-header-len-zero.safetensors", struct.pack("<Q", 0))
write("safetensors", "hostile-short-prefix.safetensors", b"\x08\x00\x00")
write("safetensors", "hostile-empty-file.safetensors", b"")
write("safetensors", "hostile-non-utf8.safetensors",
      shard(b'{"\xff\xfe":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', 1))
write("safetensors", "hostile-overlong-utf8.safetensors", shard(b'{"\xc0\xaf":{}}', 0))
write("safetensors", "hostile-nul-in-header.safetensors", shard(b'{\x00}', 0))
write("safetensors", "hostile-deep-nesting.safetensors", shard('{"a":' + "[" * 100_000, 0))
write("safetensors", "hostile-deep-object-nesting.safetensors", shard('{"a":' + '{"a":' * 50_000, 0))
write("safetensors", "hostile-leading-space.safetensors", shard(' {}', 0))
write("safetensors", "hostile-not-object.safetensors", shard('[]', 0))
write("safetensors", "hostile-truncated-json.safetensors", shard('{"a":{"dtype"', 0))
write("safetensors", "hostile-two-objects.safetensors", shard('{}{}', 0))
write("safetensors", "hostile-nan.safetensors", shard('{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}', 4))

# ---- shard index (the valid one is the fuzz fixture's own index) ----
shards = [f"model-0000{i}-of-00003.safetensors" for i in (1, 2, 3)]
valid_index = {"metadata": {"total_size": 19}, "weight_map": {"a": shards[0], "b": shards[1], "c": shards[2]}}
write("index", "valid-fixture.json", json.dumps(valid_index, indent=2))
write("index", "valid-hf-extra-metadata.json",
      '{"metadata":{"total_size":19,"format":"pt"},"weight_map":{"a":"' + shards[0] + '"}}')


def idx(name, value):
    write("index", name, value if isinstance(value, (str, bytes)) else json.dumps(value))


idx("hostile-parent-dir.json", {"metadata": {"total_size": 19}, "weight_map": {"a": "../model.safetensors"}})
idx("hostile-absolute-path.json", {"metadata": {"total_size": 19}, "weight_map": {"a": "/etc/passwd"}})
idx("hostile-dot.json", {"metadata": {"total_size": 19}, "weight_map": {"a": "."}})
idx("hostile-empty-name.json", {"metadata": {"total_size": 19}, "weight_map": {"a": ""}})
idx("hostile-nul-name.json", {"metadata": {"total_size": 19}, "weight_map": {"a": "model\u0000.safetensors"}})
idx("hostile-backslash.json", {"metadata": {"total_size": 19}, "weight_map": {"a": "..\\model.safetensors"}})
idx("hostile-negative-total.json", {"metadata": {"total_size": -19}, "weight_map": {"a": shards[0]}})
idx("hostile-huge-total.json", '{"metadata":{"total_size":18446744073709551616},"weight_map":{}}')
idx("hostile-string-total.json", {"metadata": {"total_size": "19"}, "weight_map": {"a": shards[0]}})
idx("hostile-weight-map-array.json", {"metadata": {"total_size": 19}, "weight_map": [["a", shards[0]]]})
idx("hostile-weight-map-number.json", {"metadata": {"total_size": 19}, "weight_map": {"a": 1}})
idx("hostile-missing-metadata.json", {"weight_map": {"a": shards[0]}})
idx("hostile-deep-nesting-typed.json", '{"metadata":' + "[" * 100_000)
idx("hostile-deep-nesting.json", '{"metadata":{"total_size":19,"extra":' + "[" * 100_000)
idx("hostile-non-utf8.json", b'{"metadata":{"total_size":19},"weight_map":{"\xff":"x"}}')
idx("hostile-empty.json", "")

# ---- checkpoint manifest ----
rec = {"size": 1, "xxh3": "0000000000000000"}
valid_manifest = {"format": "xlatrain-checkpoint", "format_version": 1, "step": 1,
                  "created_unix_s": 0, "files": {"model.safetensors": rec}}
write("manifest", "valid-minimal.json", json.dumps(valid_manifest, indent=2))


def man(name, **changes):
    m = dict(valid_manifest)
    m.update(changes)
    write("manifest", name, json.dumps(m))


man("hostile-other-format.json", format="safetensors")
man("hostile-newer-version.json", format_version=2)
man("hostile-negative-version.json", format_version=-1)
man("hostile-version-as-string.json", format_version="1")
man("hostile-step-as-string.json", step="1")
man("hostile-step-float.json", step=1.5)
man("hostile-parent-dir-file.json", files={"../secret": rec})
man("hostile-absolute-file.json", files={"/etc/passwd": rec})
man("hostile-lists-itself.json", files={"checkpoint_manifest.json": rec})
man("hostile-negative-size.json", files={"model.safetensors": {"size": -1, "xxh3": "0"}})
man("hostile-files-array.json", files=[["model.safetensors", rec]])
write("manifest", "hostile-huge-size.json",
      json.dumps(valid_manifest).replace('"size": 1', '"size": 18446744073709551616'))
write("manifest", "hostile-duplicate-key.json",
      '{"format":"xlatrain-checkpoint","format":"xlatrain-checkpoint","format_version":1,'
      '"step":1,"created_unix_s":0,"files":{}}')
write("manifest", "hostile-deep-nesting-typed.json", '{"files":' + "[" * 100_000)
write("manifest", "hostile-deep-nesting.json", '{"format":"xlatrain-checkpoint","extra":' + "[" * 100_000)
write("manifest", "hostile-non-utf8.json", b'{"format":"\xff\xfe"}')
write("manifest", "hostile-empty.json", "")

# ---- trainer_state.json ----
hf_state = {
    "best_global_step": None, "best_metric": None, "best_model_checkpoint": None,
    "epoch": 0.5, "eval_steps": 500, "global_step": 10, "is_hyper_param_search": False,
    "is_local_process_zero": True, "is_world_process_zero": True,
    "log_history": [{"epoch": 0.5, "grad_norm": 1.25, "learning_rate": 5e-05, "loss": 2.5, "step": 10}],
    "logging_steps": 10, "max_steps": 20, "num_input_tokens_seen": 0, "num_train_epochs": 1,
    "save_steps": 10, "stateful_callbacks": {"TrainerControl": {"args": {"should_save": True}}},
    "total_flos": 1234.0, "train_batch_size": 8, "trial_name": None, "trial_params": None,
}
write("trainer_state", "valid-hf.json", json.dumps(hf_state, indent=2))
xl = dict(hf_state)
xl["xlatrain"] = {"format_version": 1, "prng_keys": {"dropout": [1, 2]}, "data_cursor": {"offset": 4096},
                  "architecture_fingerprint": "sha256:abc", "platform": {"device": "cpu"},
                  "versions": {"xlatrain": "0.1.0"}}
write("trainer_state", "valid-xlatrain.json", json.dumps(xl, indent=2))


def ts(name, **changes):
    s = dict(hf_state)
    s.update(changes)
    write("trainer_state", name, json.dumps(s))


ts("hostile-negative-step.json", global_step=-1)
ts("hostile-step-as-string.json", global_step="10")
ts("hostile-epoch-as-string.json", epoch="0.5")
ts("hostile-log-history-object.json", log_history={"loss": 1})
ts("hostile-log-history-numbers.json", log_history=[1, 2])
ts("hostile-xlatrain-versions-numbers.json",
   xlatrain={"format_version": 1, "prng_keys": None, "data_cursor": None,
             "architecture_fingerprint": "", "platform": None, "versions": {"xlatrain": 1}})
ts("hostile-xlatrain-not-object.json", xlatrain=[1])
write("trainer_state", "hostile-huge-step.json",
      json.dumps(hf_state).replace('"global_step": 10', '"global_step": 18446744073709551616'))
write("trainer_state", "hostile-float-overflow.json",
      json.dumps(hf_state).replace('"epoch": 0.5', '"epoch": 1e999'))
write("trainer_state", "hostile-duplicate-key.json",
      json.dumps(hf_state).replace('"global_step": 10', '"global_step": 10, "global_step": 11'))
write("trainer_state", "hostile-missing-global-step.json",
      json.dumps({k: v for k, v in hf_state.items() if k != "global_step"}))
write("trainer_state", "hostile-deep-nesting.json",
      json.dumps(hf_state)[:-1] + ', "extra": ' + "[" * 100_000)
write("trainer_state", "hostile-deep-nesting-closed.json",
      json.dumps(hf_state)[:-1] + ', "extra": ' + "[" * 100_000 + "]" * 100_000 + "}")
write("trainer_state", "hostile-deep-log-history.json",
      json.dumps(hf_state).replace('"log_history": [', '"log_history": [' + '{"a":' * 20_000 + "1" + "}" * 20_000 + ", "))
write("trainer_state", "hostile-non-utf8.json", json.dumps(hf_state).encode()[:-1] + b', "x": "\xff"}')
write("trainer_state", "hostile-nan.json", json.dumps(hf_state).replace('"epoch": 0.5', '"epoch": NaN'))
write("trainer_state", "hostile-empty.json", "")
write("trainer_state", "hostile-array.json", "[]")
