#!/usr/bin/env bash
# Fuzzes xlatrain's checkpoint readers with cargo-fuzz (libFuzzer + AddressSanitizer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 seconds for each of every target
#
# Prints executions and crashes per target; exits 1 if any target crashed. Crash inputs land in
# fuzz/artifacts/<target>/ (cargo-fuzz's default); copy each into tests/data/fuzz_regressions/
# and add a case to tests/fuzz_regressions.rs (plain `cargo test`, stable) before fixing it. Corpora grow in fuzz/corpus/<target>/ (not committed)
# and start from the committed seeds in tests/data/fuzz_seeds/<kind>/ (see fuzz/make_seeds.py).
#
# Toolchain: cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address, sancov passes). The
# project pins stable, so this script sets RUSTC_BOOTSTRAP=1, which lets stable rustc accept them;
# the stable toolchain ships the ASan runtime for x86_64-unknown-linux-gnu. One-time setup:
#   cargo install cargo-fuzz        (crates.io; a C++ compiler is needed to build libFuzzer)
# With a nightly toolchain installed, `cargo +nightly fuzz run <target>` works the same.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
all_targets=(safetensors_parse checkpoint_open_shard checkpoint_open_index manifest_parse trainer_state_parse)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

seed_kind() {
    case "$1" in
        safetensors_parse | checkpoint_open_shard) echo safetensors ;;
        checkpoint_open_index) echo index ;;
        manifest_parse) echo manifest ;;
        trainer_state_parse) echo trainer_state ;;
        *) echo "unknown fuzz target $1 (known: ${all_targets[*]})" >&2; exit 2 ;;
    esac
}

if ! command -v cargo-fuzz > /dev/null; then
    echo "cargo-fuzz is not installed: run \`cargo install cargo-fuzz\`" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

# The checkpoint fixtures of the file-level targets live here and go away afterwards.
# /dev/shm keeps the per-input file writes of the file-level targets off the disk.
scratch_root=/tmp; [ -d /dev/shm ] && [ -w /dev/shm ] && scratch_root=/dev/shm
scratch="$(mktemp -d -p "$scratch_root" xlatrain-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT

for target in "${targets[@]}"; do
    seed_kind "$target" > /dev/null
    (cd fuzz && cargo fuzz build -O "$target" > "$scratch/build.log" 2>&1) || {
        tail -30 "$scratch/build.log" >&2
        echo "building fuzz target $target failed" >&2
        exit 1
    }
done

summary=()
failed=0
for target in "${targets[@]}"; do
    kind="$(seed_kind "$target")"
    corpus="fuzz/corpus/$target"
    artifacts="fuzz/artifacts/$target"
    mkdir -p "$corpus" "$artifacts"
    cp -n tests/data/fuzz_seeds/"$kind"/* "$corpus"/
    before="$(find "$artifacts" -type f | wc -l)"
    log="$scratch/$target.log"
    echo "== $target: fuzzing for ${seconds}s (log: fuzz/artifacts/$target.log)"
    set +e
    (cd fuzz && TMPDIR="$scratch" cargo fuzz run -O "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1) > "$log" 2>&1
    status=$?
    set -e
    cp "$log" "fuzz/artifacts/$target.log"
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)"
    [ -z "$execs" ] && execs="$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)"
    after="$(find "$artifacts" -type f | wc -l)"
    crashes=$((after - before))
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        grep -E "panicked|ERROR: |SUMMARY" "$log" | head -5 || true
    fi
    summary+=("$(printf '%-24s executions %-12s crashes %-3s exit %s' "$target" "${execs:-?}" "$crashes" "$status")")
done

echo
echo "fuzz summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" -ne 0 ]; then
    echo "crash inputs are in fuzz/artifacts/<target>/" >&2
    exit 1
fi
