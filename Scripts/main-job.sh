#!/usr/bin/env bash
# The main job on the default model, run at the end of Scripts/setup.sh.
# Today (foundation): checks every cached asset against its pinned SHA-256 and measures
# the sgemm FLOP ceiling that later speed figures are compared with. Results go to
# runs/main/ (ignored by git). OPENBLAS_NUM_THREADS defaults to every core and is recorded.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
cd "$REPO_ROOT"

intraslice=.build/release/intraslice
[[ -x $intraslice ]] || { echo "error: $intraslice not built; run Scripts/setup.sh" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$(nproc)}
out=runs/main
mkdir -p "$out"

echo "== assets: cached files against their pinned SHA-256"
"$intraslice" assets --verify

echo "== sgemm ceiling, $OPENBLAS_NUM_THREADS threads"
"$intraslice" bench gemm --size 2048 --threads "$OPENBLAS_NUM_THREADS" --output "$out/gemm.h5" --json | tee "$out/gemm.json"
echo "main job done: results in $out/"
