#!/usr/bin/env bash
# The main job on the default model, run at the end of Scripts/setup.sh.
# Checks every cached asset against its pinned SHA-256, measures the sgemm FLOP ceiling
# that speed figures are compared with, the dense WikiText-2 perplexity of the default
# model at L = 2048 over all windows (several minutes on 2 cores), then runs the small
# experiment Experiments/first-look.yaml (dense, magnitude-sp, SliceGPT, IntraSlice at
# 25 %: perplexity, a zero-shot subset, latency; about 10 minutes on 2 cores) and renders
# its tables and HTML report. Results go to runs/main/ (ignored by git); a rerun resumes
# the experiment. OPENBLAS_NUM_THREADS defaults to every core and is recorded.
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
echo "== SmolLM2-135M perplexity on WikiText-2, L = 2048, all windows"
"$intraslice" eval ppl --model smollm2-135m --data wikitext2 --seqlen 2048 --threads "$OPENBLAS_NUM_THREADS" \
  --output "$out/ppl-smollm2-wikitext2-L2048.h5" --json | tee "$out/ppl-smollm2-wikitext2-L2048.json"
echo "== experiment Experiments/first-look.yaml"
"$intraslice" experiment run Experiments/first-look.yaml --results "$out/first-look" --threads "$OPENBLAS_NUM_THREADS"
"$intraslice" experiment report "$out/first-look" --format md --output "$out/first-look/report.md"
"$intraslice" experiment report "$out/first-look" --format html --output "$out/first-look/report.html"
echo "main job done: results in $out/"
echo "first-look tables: $REPO_ROOT/$out/first-look/report.md"
echo "first-look report (open in a browser): $REPO_ROOT/$out/first-look/report.html"
