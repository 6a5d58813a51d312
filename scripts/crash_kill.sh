#!/usr/bin/env bash
# The long variant of tests/crash_kill.rs: N SIGKILLs (default 500) at seeded random instants
# into training runs that save a checkpoint after every step, each followed by a resume; prints
# the counts (kills landed, where they landed, resumes, invalid checkpoints) at the end.
#
#   scripts/crash_kill.sh [N] [SEED]
#
# CARGO_FLAGS (e.g. --release) is passed to cargo; the dev profile is already optimized.
set -euo pipefail
cd "$(dirname "$0")/.."
export XLATRAIN_CRASH_KILLS="${1:-500}"
if [[ $# -ge 2 ]]; then
    export XLATRAIN_CRASH_SEED="$2"
fi
# shellcheck disable=SC2086
exec cargo test ${CARGO_FLAGS:-} --test crash_kill -- --nocapture
