#!/usr/bin/env python3
"""Known-answer values for xlatrain's rng / init / data tests, computed independently of the Rust
code: pure Python integers (no numpy), straight from the formulas in models.json.

Run: python3 scripts/reference_values.py
The printed numbers are pasted into tests/data_rng_reference.rs (with this script named there).
f32 values are printed as their IEEE-754 bit patterns (struct.pack('<f') rounds to nearest even).
"""
import math
import struct

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def stream(seed, n, offset=0):
    return [mix((seed + (i + 1) * GOLDEN) & MASK) for i in range(offset, offset + n)]


def derive(seed, k):
    return stream(seed, 1, k)[0]


def u01(z):
    return (z >> 40) * 2.0 ** -24


def f32_bits(v):
    return struct.unpack("<I", struct.pack("<f", v))[0]


def uniform_init_bits(seed, n, bound):
    return [f32_bits((2.0 * u01(z) - 1.0) * bound) for z in stream(seed, n)]


WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "with", "was", "on", "be", "by", "at", "this", "from",
         "model", "tensor", "graph", "compile", "shard", "checkpoint", "gradient", "layer", "kernel", "device", "buffer", "step",
         "train", "loss", "weight", "batch", "token", "vector", "matrix", "memory", "cache", "stream", "random", "key",
         "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "rust", "xla", "pjrt", "stablehlo", "safetensors"]


def main():
    print("mix(0) =", hex(mix(0)))
    print("stream(0, 3) =", [hex(z) for z in stream(0, 3)])
    print("stream(1234, 3) =", [hex(z) for z in stream(1234, 3)])
    print("derive(1234, 0..3) =", [hex(derive(1234, k)) for k in range(3)])
    print("derive(42, 4294967295) =", hex(derive(42, 4294967295)))
    root = derive(42, 0x6B65795F726F6F74)  # ROOT_KEY_TAG, "key_root"
    print("root_key(42) =", [hex(derive(root, 0)), hex(derive(root, 1))])

    # MLP init: tensor 0 (fc0.w), fan_in 784
    print("fc0.w[0..4] bits =", [hex(b) for b in uniform_init_bits(derive(1234, 0), 4, 1.0 / math.sqrt(784))])
    # GPT init: tensor 0 (wte), std 0.02; tensor 6 (h.0.attn.c_proj.w), std 0.02/sqrt(8)
    b = math.sqrt(3.0)
    print("wte[0..4] bits =", [hex(x) for x in uniform_init_bits(derive(1234, 0), 4, 0.02 * b)])
    print("h.0.attn.c_proj.w[0..4] bits =",
          [hex(x) for x in uniform_init_bits(derive(1234, 6), 4, 0.02 / math.sqrt(8) * b)])

    # MLP batch 0 (seed 42, B 128, D 784, C 10)
    B, D, C = 128, 784, 10
    proto_z = stream(derive(42, 4294967295), C * D)
    z = stream(derive(42, 0), B * (1 + D))
    y = [zz % C for zz in z[:B]]
    x0 = [f32_bits(0.0625 * u01(proto_z[y[0] * D + j]) + 0.9375 * u01(z[B + j])) for j in range(4)]
    print("mlp batch0 y[0..8] =", y[:8], " y_sum =", sum(y))
    print("mlp batch0 x[0][0..4] bits =", [hex(v) for v in x0])

    # GPT corpus (seed 7, n_words 200000) and batch 0 (B 16, T 128)
    zw = stream(derive(7, 0), 200000)
    corpus = "".join(WORDS[zz % len(WORDS)] + (". " if (zz >> 32) % 10 == 0 else " ") for zz in zw).encode("ascii")
    print("gpt corpus bytes =", len(corpus))
    print("gpt corpus head =", repr(corpus[:64].decode()))
    T = 128
    n = len(corpus) - T - 1
    offsets = [zz % n for zz in stream(derive(7, 1), 16)]
    print("gpt batch0 offsets[0..4] =", offsets[:4])
    print("gpt batch0 x[0][0..16] =", repr(corpus[offsets[0]:offsets[0] + 16].decode()))
    print("gpt batch0 y[0][0..16] =", repr(corpus[offsets[0] + 1:offsets[0] + 17].decode()))


if __name__ == "__main__":
    main()
