#!/usr/bin/env bash
# Runs the peer benchmarks (JAX CPU trainer; safetensors / HF shards / orbax / numpy / dd checkpoint
# I/O) and then `xlatrain bench` in the same session on the same machine, and prints the ratios the
# project's goals are held against. Figures from different sessions must not be compared.
#
#   scripts/run_peers.sh                 full: peers ~10 min, ours ~3 min (100MB,1GB,4GB x3 runs)
#   scripts/run_peers.sh --quick         ~2-3 min: 100MB only, few train steps, on both sides
#   scripts/run_peers.sh --sizes 100MB,1GB --runs 3    same sizes and runs on both sides
#   scripts/run_peers.sh --train-only    training only on both sides (JAX trainer, our train steps)
#   scripts/run_peers.sh --compare-only  recompute the ratios from the JSON of an earlier run
#
# env: PEERS_DIR   a writable peers folder to run in (default: a fresh copy in $OUT_DIR/peers)
#      PEERS_SRC   where the peers come from (default /work/shared/bench/peers)
#      MODELS_JSON models.json to put next to them (default: the one beside PEERS_SRC)
#      OUT_DIR     where everything lands (default target/peers-run)
#      XLATRAIN    the xlatrain binary (default: cargo build --release, target/release/xlatrain)
#      BENCH_DIR   directory for our disk probes and checkpoints (default: the peers' scratch
#                  parent, /tmp, so both sides write to the same disk)
#      PEERS_VENV, PEERS_SCRATCH are passed through to the peers' run_all.sh.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_SRC=${PEERS_SRC:-/work/shared/bench/peers}
MODELS_JSON=${MODELS_JSON:-$(dirname "$PEERS_SRC")/models.json}
OUT_DIR=${OUT_DIR:-$ROOT/target/peers-run}
QUICK=""; SIZES=""; RUNS=""; COMPARE_ONLY=0; TRAIN_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=--quick; shift ;;
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --compare-only) COMPARE_ONLY=1; shift ;;
    --train-only) TRAIN_ONLY=1; shift ;;
    -h|--help) sed -n 2,20p "$0"; exit 0 ;;
    *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
GIVEN_PEERS_DIR=${PEERS_DIR:-}
PEERS_DIR=${PEERS_DIR:-$OUT_DIR/peers}
OURS_JSON=$OUT_DIR/xlatrain-bench.json

if [ $COMPARE_ONLY = 0 ]; then
  if [ -z "$GIVEN_PEERS_DIR" ]; then
    rm -rf "$PEERS_DIR"
    cp -r "$PEERS_SRC" "$PEERS_DIR"
    chmod -R u+w "$PEERS_DIR"
    [ -f "$MODELS_JSON" ] && cp "$MODELS_JSON" "$PEERS_DIR/models.json"
  fi
  PEER_ARGS=($QUICK)
  [ -n "$SIZES" ] && PEER_ARGS+=(--sizes "$SIZES")
  [ -n "$RUNS" ] && PEER_ARGS+=(--runs "$RUNS")
  [ $TRAIN_ONLY = 1 ] && PEER_ARGS+=(--train-only)
  echo "== peers: $PEERS_DIR/run_all.sh ${PEER_ARGS[*]}"
  (cd "$PEERS_DIR" && ./run_all.sh "${PEER_ARGS[@]}")

  if [ -z "${XLATRAIN:-}" ]; then
    (cd "$ROOT" && cargo build --release --quiet)
    XLATRAIN=$ROOT/target/release/xlatrain
  fi
  OUR_ARGS=($QUICK --output "$OURS_JSON" --dir "${BENCH_DIR:-$(dirname "${PEERS_SCRATCH:-/tmp/peers-ckpt-scratch}")}")
  [ -n "$SIZES" ] && OUR_ARGS+=(--ckpt-sizes "$SIZES")
  [ -n "$RUNS" ] && OUR_ARGS+=(--runs "$RUNS")
  [ $TRAIN_ONLY = 1 ] && OUR_ARGS+=(--ckpt-sizes none)
  echo "== ours: $XLATRAIN bench ${OUR_ARGS[*]}"
  TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3} "$XLATRAIN" bench "${OUR_ARGS[@]}" | tee "$OUT_DIR/xlatrain-bench.txt"
fi

echo
echo "== results"
echo "peers train:   $PEERS_DIR/results/train.json"
echo "peers ckpt:    $PEERS_DIR/results/ckpt.json  (tables: $PEERS_DIR/results/TABLES.md)"
echo "peers machine: $PEERS_DIR/results/machine.txt"
echo "xlatrain:      $OURS_JSON"
echo "ratios:        $OUT_DIR/ratios.md"
echo
python3 - "$PEERS_DIR/results" "$OURS_JSON" <<'PY' | tee "$OUT_DIR/ratios.md"
import json, os, sys
peers_dir, ours_path = sys.argv[1], sys.argv[2]
ours = json.load(open(ours_path))
def load(name):
    path = os.path.join(peers_dir, name)
    return json.load(open(path)) if os.path.exists(path) else None
train, ckpt = load("train.json"), load("ckpt.json")
def row(size, method_start, metric):
    for r in (ckpt or {}).get("rows", []):
        if r["size"] == size and r["method"].startswith(method_start) and r["metric"] == metric:
            return r["median_s"]
    return None
def mem(size, method_start, phase):
    for m in (ckpt or {}).get("mem", []):
        if m["size"] == size and m["method"].startswith(method_start) and m["phase"] == phase:
            return m["peak_extra_rss_GB"]
    return None
def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "n/a"
def t(s):
    return "n/a" if s is None else (f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms")
m = ours["machine"]
print(f"machine: {m['cpu_model']}, {m['logical_cpus']} cpus, {m['memory_bytes'] / 1e9:.1f} GB, Linux {m['kernel']}")
mm = ours["device"].get("matmul")
if mm:
    print(f"matmul f32 {mm['n']}^3: {mm['flops_per_s'] / 1e9:.1f} GFLOP/s (median), {mm['best_flops_per_s'] / 1e9:.1f} best")
print()
print("| training | JAX median step (p10-p90) | xlatrain median step (p10-p90) | xlatrain / JAX | xlatrain GFLOP/s (% of matmul) |")
print("|---|---|---|---|---|")
names = {"mlp": "mlp_784_512_512_10", "gpt": "tiny_gpt_bytes"}
for kind, name in names.items():
    j = (train or {}).get("results", {}).get(kind)
    o = next((x for x in ours.get("training", []) if x["model"] == name), None)
    js = j and j["median_step_ms"] / 1e3
    jcell = f"{t(js)} ({j['p10_step_ms']:.1f}-{j['p90_step_ms']:.1f} ms)" if j else "n/a"
    if o:
        ocell = f"{t(o['step_s']['median'])} ({o['step_s']['p10'] * 1e3:.1f}-{o['step_s']['p90'] * 1e3:.1f} ms)"
        frac = o.get("fraction_of_matmul")
        gf = f"{o['achieved_flops_per_s'] / 1e9:.1f}" + (f" ({frac * 100:.0f}%)" if frac else "")
    else:
        ocell, gf = "not measured", "n/a"
    print(f"| {name} | {jcell} | {ocell} | {ratio(o and o['step_s']['median'], js)} | {gf} |")
print()
print("| state | xlatrain save | / disk O_DIRECT write | / disk buffered write | / safetensors save_file+fsync | / orbax sync (zstd) | / orbax async durable | xlatrain resume | / (cold read + upload) | / safetensors load_file cold (mmap) | / (pread) |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for c in ours.get("checkpoints", []):
    s, r = c["save_s"]["median"], c["resume_s"]["median"]
    size = c["label"]
    print("| " + " | ".join([
        f"{size} ({c['bytes'] / 1e9:.2f} GB)", t(s),
        ratio(s, c["disk_direct_write_s"]["median"]), ratio(s, c["disk_buffered_write_s"]["median"]),
        ratio(s, row(size, "safetensors save_file", "save_sync")),
        ratio(s, row(size, "orbax Checkpointer+StandardCheckpointHandler", "save_sync")),
        ratio(s, row(size, "orbax AsyncCheckpointer", "save_sync")),
        t(r), ratio(r, c["disk_cold_read_s"]["median"] + c["upload_s"]),
        ratio(r, row(size, "safetensors load_file(mmap)", "load_cold")),
        ratio(r, row(size, "safetensors load_file(pread)", "load_cold")),
    ]) + " |")
print()
print("| state | disk O_DIRECT write / buffered+fsync / cold read (ours) | dd O_DIRECT / dd+fsync / dd cold read (peers) | safetensors save+fsync / load cold | orbax sync save / load cold |")
print("|---|---|---|---|---|")
for c in ours.get("checkpoints", []):
    size = c["label"]
    print(f"| {size} | {t(c['disk_direct_write_s']['median'])} / {t(c['disk_buffered_write_s']['median'])} / {t(c['disk_cold_read_s']['median'])} "
          f"| {t(row(size, 'dd O_DIRECT', 'save_sync'))} / {t(row(size, 'dd bs=1M', 'save_sync'))} / {t(row(size, 'dd bs=1M', 'load_cold'))} "
          f"| {t(row(size, 'safetensors save_file', 'save_sync'))} / {t(row(size, 'safetensors load_file(mmap)', 'load_cold'))} "
          f"| {t(row(size, 'orbax Checkpointer+StandardCheckpointHandler', 'save_sync'))} / {t(row(size, 'orbax Checkpointer+StandardCheckpointHandler', 'load_cold'))} |")
print()
print("| state | xlatrain save: extra anon / extra VmHWM | xlatrain resume: extra anon / extra VmHWM | safetensors save / load_file(mmap) / (pread) extra VmHWM |")
print("|---|---|---|---|")
for c in ours.get("checkpoints", []):
    size, gb = c["label"], c["bytes"] / 1e9
    sm, rm = c["save_memory"], c["resume_memory"]
    def g(b):
        return "n/a" if b is None else f"{b / 1e9:.2f} GB ({b / 1e9 / gb:.2f}x)"
    def p(v):
        return "n/a" if v is None else f"{v:.2f} GB ({v / gb:.2f}x)"
    print(f"| {size} | {g(sm['anon_extra_bytes'])} / {g(sm['hwm_extra_bytes'])} | {g(rm['anon_extra_bytes'])} / {g(rm['hwm_extra_bytes'])} "
          f"| {p(mem(size, 'safetensors save_file', 'save'))} / {p(mem(size, 'safetensors load_file(mmap)', 'load'))} / {p(mem(size, 'safetensors load_file(pread)', 'load'))} |")
if ours.get("async_save"):
    print()
    print("| async save (xlatrain, through the trainer) | state | stall per save (median) | median step | stall / step | durable after |")
    print("|---|---|---|---|---|---|")
    for a in ours["async_save"]:
        print(f"| {a['model']} | {a['state_bytes'] / 1e6:.1f} MB | {t(a['stall_s']['median'])} | {t(a['median_step_s'])} | {a['stall_over_step']:.3f} | {t(a['to_durable_s']['median'])} |")
for todo in ours.get("todo", []):
    print(f"\nTODO (xlatrain): {todo}")
PY
