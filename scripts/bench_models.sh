#!/usr/bin/env bash
# Trains every `xlatrain bench --models` model side by side with its JAX peer in one session and
# prints the ratios (step time, compile time, losses). Model by model, JAX first then xlatrain, so
# the two figures of a pair are taken minutes apart on the same (noisy, shared) machine.
#
#   scripts/bench_models.sh                    mlp,gpt,gpt2,llama, 6 timed steps each
#   scripts/bench_models.sh --models gpt2,llama --steps 4
#
# The JAX side is ../shared/bench/peers/train_jax.py run in a scratch copy:
#   - gpt2 runs `--model gpt` on a models.json whose `gpt` entry has GPT-2 124M's sizes (vocab
#     50257, d_model 768, 12 layers x 12 heads, d_ff 3072, seq_len 128, batch 4), the rest of the
#     gpt spec (init, byte data, AdamW) unchanged: what `xlatrain bench --models gpt2` trains;
#   - the real-size models exclude 2 warm-up steps from timing (as xlatrain does for them), and
#     the copy's "at least 50 timed steps" floor is lowered to --steps so a run fits a session.
#
# env: PEERS_SRC (default /work/shared/bench/peers), MODELS_JSON (default beside PEERS_SRC),
#      OUT_DIR (default target/bench-models), XLATRAIN (default target/debug/xlatrain, built),
#      PYTHON (default python3: needs jax, optax, numpy).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_SRC=${PEERS_SRC:-/work/shared/bench/peers}
MODELS_JSON=${MODELS_JSON:-$(dirname "$PEERS_SRC")/models.json}
OUT_DIR=${OUT_DIR:-$ROOT/target/bench-models}
PYTHON=${PYTHON:-python3}
MODELS=mlp,gpt,gpt2,llama
STEPS=6
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    -h|--help) sed -n 2,18p "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
if [ -z "${XLATRAIN:-}" ]; then
  (cd "$ROOT" && cargo build --quiet)
  XLATRAIN=$ROOT/target/debug/xlatrain
fi

# two peer copies: the reference specs, and the one whose gpt entry is GPT-2 124M
for flavour in reference gpt2; do
  dir=$OUT_DIR/peers-$flavour
  rm -rf "$dir"; cp -r "$PEERS_SRC" "$dir"; chmod -R u+w "$dir"
  cp "$MODELS_JSON" "$dir/models.json"
  sed -i 's/spec\["timing_warmup_steps_excluded"\] + 50)/spec["timing_warmup_steps_excluded"] + int(os.environ.get("MIN_TIMED_STEPS", "50")))/' "$dir/train_jax.py"
  "$PYTHON" - "$dir/models.json" "$flavour" <<'PY'
import json, sys
path, flavour = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["llama"]["timing_warmup_steps_excluded"] = 2
if flavour == "gpt2":
    g = spec["gpt"]
    g.update(name="gpt2_124m_bytes", vocab_size=50257, d_model=768, n_layers=12, n_heads=12,
             d_head=64, d_ff=3072, seq_len=128, batch_size=4, timing_warmup_steps_excluded=2)
    d, V, T, F, L = 768, 50257, 128, 3072, 12
    g["expected_param_count"] = V * d + T * d + L * (4 * d + 3 * d * d + 3 * d + d * d + d + d * F + F + F * d + d) + 2 * d
json.dump(spec, open(path, "w"), indent=1)
PY
done

warmup() { case "$1" in mlp) echo 10 ;; gpt) echo 5 ;; *) echo 2 ;; esac; }
IFS=, read -ra LIST <<< "$MODELS"
for model in "${LIST[@]}"; do
  case "$model" in
    gpt2) dir=$OUT_DIR/peers-gpt2; peer=gpt ;;
    mlp|gpt|llama) dir=$OUT_DIR/peers-reference; peer=$model ;;
    *) echo "unknown model $model" >&2; exit 2 ;;
  esac
  total=$((STEPS + $(warmup "$model")))
  echo "== $model: JAX ($total steps)"
  (cd "$dir" && MIN_TIMED_STEPS=$STEPS TF_CPP_MIN_LOG_LEVEL=3 "$PYTHON" train_jax.py --model "$peer" \
     --steps "$total" --out "$OUT_DIR/jax-$model.json" --no-merge --no-export --resume-k 0)
  echo "== $model: xlatrain ($STEPS timed steps after $(warmup "$model"))"
  TF_CPP_MIN_LOG_LEVEL=3 "$XLATRAIN" bench --models "$model" --steps "$STEPS" --no-matmul \
     --ckpt-sizes none --no-async-save --output "$OUT_DIR/xlatrain-$model.json" > /dev/null
done

"$PYTHON" - "$OUT_DIR" "${LIST[@]}" <<'PY' | tee "$OUT_DIR/ratios.md"
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
print("| model | params | xlatrain step ms | JAX step ms | step ratio | xlatrain compile s | JAX compile s | compile ratio | loss@1 ours / JAX | loss@N ours / JAX |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    jax = next(iter(json.load(open(os.path.join(out, f"jax-{m}.json")))["results"].values()))
    ours = json.load(open(os.path.join(out, f"xlatrain-{m}.json")))["training"][0]
    step, jstep = ours["step_s"]["median"] * 1e3, jax["median_step_ms"]
    comp, jcomp = ours["compile_s"], jax["xla_compile_s"]
    print(f"| {ours['model']} | {ours['params']:,} | {step:.1f} | {jstep:.1f} | {step / jstep:.2f}x "
          f"| {comp:.2f} | {jcomp:.2f} | {comp / jcomp:.2f}x "
          f"| {ours['loss_first']:.5f} / {jax['loss_step1']:.5f} = {ours['loss_first'] / jax['loss_step1']:.6f} "
          f"| {ours['loss_last']:.5f} / {jax['loss_last']:.5f} = {ours['loss_last'] / jax['loss_last']:.6f} |")
PY
