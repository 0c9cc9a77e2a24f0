#!/usr/bin/env bash
# Issue 16's committed tables: runs paper-table configs, in order, into Results/<name>
# with one work folder and --keep-models, so the zero-shot table evaluates the perplexity
# table's pruned models and the equal-speed searches' probes at 30 % reuse them; then
# copies each config beside its results and renders report.md, report.tex, report.html,
# the tables as CSV (csv/*.csv) and the plots (plots/*.svg). Re-running continues where it stopped (finished cells are
# never redone). The equal-speed and speed tables time models: nothing else may run on
# the machine meanwhile. Kept models take ~0.5 GB (SmolLM2-135M) and ~2.2 GB
# (Qwen2.5-0.5B) each; delete WORKDIR when the configs that share it are done.
# Usage: Scripts/paper-tables.sh WORKDIR [CONFIG...]
#   (default: ppl-table zeroshot-table equal-speed speed-table)
# Environment: BIN (default .build/release/intraslice), THREADS (default 2), MODELS (default:
# every model of each config; a space-separated list runs only those models' cells), CELLS
# (default: every cell; a space-separated list of cell ids, e.g. smollm2-135m/dense, runs
# only those, e.g. every search of one timed column on one machine), STAND_IN (a number N:
# equal-speed probes time stand-ins measured on N calibration windows, --stand-in-windows),
# SEARCH_ONLY (1: only the equal-speed searches, --search-only; reports are still rendered).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:?usage: Scripts/paper-tables.sh WORKDIR [CONFIG...]}
shift
if [ $# -gt 0 ]; then CONFIGS=("$@"); else CONFIGS=(ppl-table zeroshot-table equal-speed speed-table); fi
BIN=${BIN:-$REPO/.build/release/intraslice}
THREADS=${THREADS:-2}
export OPENBLAS_NUM_THREADS=$THREADS
MODEL_OPTIONS=()
for model in ${MODELS:-}; do MODEL_OPTIONS+=(--model "$model"); done
for cell in ${CELLS:-}; do MODEL_OPTIONS+=(--cell "$cell"); done
if [ -n "${STAND_IN:-}" ]; then MODEL_OPTIONS+=(--stand-in-windows "$STAND_IN"); fi
if [ "${SEARCH_ONLY:-0}" = 1 ]; then MODEL_OPTIONS+=(--search-only); fi
for name in "${CONFIGS[@]}"; do
  config=$REPO/Experiments/$name.yaml
  results=$REPO/Results/$name
  echo "== $name: $(date -u +%FT%TZ)"
  "$BIN" experiment run "$config" --results "$results" --work "$WORK" --keep-models --threads "$THREADS" ${MODEL_OPTIONS[@]+"${MODEL_OPTIONS[@]}"}
  cp "$config" "$results/config.yaml"
  for format in md tex html; do "$BIN" experiment report "$results" --format "$format" --output "$results/report.$format"; done
  "$BIN" experiment report "$results" --format csv --output "$results/csv"
  "$BIN" experiment report "$results" --format svg --output "$results/plots"
done
