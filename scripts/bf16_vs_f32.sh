#!/usr/bin/env bash
# The reference GPT (models.json) trained in f32 and in bf16 (`--bf16`) from the same start, and
# how far apart the two loss curves are: the largest relative gap over the log events and the gap
# at the last one (the issue's goal: within 2% everywhere and at the end). Not a test: 200 bf16
# steps of the reference GPT take about two hours on a 2-core CPU (bf16 dots are emulated there);
# on a GPU or TPU they take seconds.
#
#   scripts/bf16_vs_f32.sh                  200 steps, a log event every 10
#   scripts/bf16_vs_f32.sh --steps 40 --device cuda
#
# env: OUT_DIR (default target/bf16-vs-f32), XLATRAIN (default target/debug/xlatrain, built).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT_DIR=${OUT_DIR:-$ROOT/target/bf16-vs-f32}
STEPS=200
DEVICE=cpu
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) STEPS=$2; shift 2 ;;
    --device) DEVICE=$2; shift 2 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "${XLATRAIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet)
  XLATRAIN=$ROOT/target/debug/xlatrain
fi
rm -rf "$OUT_DIR"; mkdir -p "$OUT_DIR"
EVERY=$(( STEPS >= 100 ? 10 : 1 ))
for policy in f32 bf16; do
  extra=(); [ "$policy" = bf16 ] && extra=(--bf16)
  echo "== $policy: $STEPS steps"
  TF_CPP_MIN_LOG_LEVEL=3 "$XLATRAIN" --device "$DEVICE" train --model gpt --max-steps "$STEPS" \
    --logging-steps "$EVERY" --save-strategy no --report-to jsonl \
    --output-dir "$OUT_DIR/$policy" "${extra[@]}" > "$OUT_DIR/$policy.log" 2>&1
done
python3 - "$OUT_DIR" <<'PY' | tee "$OUT_DIR/gap.md"
import json, os, sys
out = sys.argv[1]
def losses(policy):
    rows = [json.loads(l) for l in open(os.path.join(out, policy, "metrics.jsonl"))]
    return {r["step"]: r["loss"] for r in rows if "loss" in r and "step" in r}
f32, bf16 = losses("f32"), losses("bf16")
steps = sorted(set(f32) & set(bf16))
gaps = [abs(bf16[s] - f32[s]) / abs(f32[s]) for s in steps]
worst = max(range(len(steps)), key=lambda i: gaps[i])
print(f"log events compared: {len(steps)} (steps {steps[0]}..{steps[-1]})")
print(f"largest gap: {gaps[worst] * 100:.3f}% at step {steps[worst]} (f32 {f32[steps[worst]]:.5f}, bf16 {bf16[steps[worst]]:.5f})")
print(f"gap at the end: {gaps[-1] * 100:.3f}% (f32 {f32[steps[-1]]:.5f}, bf16 {bf16[steps[-1]]:.5f})")
PY
