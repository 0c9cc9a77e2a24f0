#!/usr/bin/env bash
# Runs a pruning-and-perplexity grid from an Experiments/*.env file, resuming where it
# stopped: a cell whose ppl.json exists is skipped, a pruned folder already written is
# reused, and an interrupted perplexity run resumes window by window from its HDF5 file.
# Pruned weights go to runs/$NAME/ (ignored by git); each cell's pruning.json,
# statistics.h5, ppl.h5 and ppl.json go to Results/$NAME/<method>-p<ratio>/, and the
# table is rendered to Results/$NAME/table.md.
#   Scripts/run-ppl-table.sh Experiments/smollm2-ppl-table.env [method ...]
# Methods named after the config restrict the grid to them, and ONLY_RATIOS="0.25 …" its
# ratios. ALLOCATION in the config (uniform, global, global_pca) is passed to every prune
# (unset: each method's default). INTRASLICE (default .build/release/intraslice) picks the binary;
# OPENBLAS_NUM_THREADS defaults to every core.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(dirname "$SCRIPT_DIR")"
config=${1:?usage: Scripts/run-ppl-table.sh EXPERIMENT.env [method ...]}
shift
# shellcheck source=/dev/null
source "$config"
methods=${*:-$METHODS}
intraslice=${INTRASLICE:-.build/release/intraslice}
[[ -x $intraslice ]] || { echo "error: $intraslice not built; run swift build -c release" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-$(nproc)}
threads=$OPENBLAS_NUM_THREADS
results=Results/$NAME
scratch=runs/$NAME
mkdir -p "$results" "$scratch"

evaluate() {  # evaluate MODEL CELL_DIR
    local cell=$2
    if [[ -s $cell/ppl.json ]]; then echo "== $cell: done"; return; fi
    echo "== $cell: perplexity"
    # shellcheck disable=SC2086
    "$intraslice" eval ppl --model "$1" $EVAL --threads "$threads" --output "$cell/ppl.h5" --json >"$cell/ppl.out"
    tail -n 1 "$cell/ppl.out" >"$cell/ppl.json.tmp"  # the JSON line; the line above it is for people
    mv "$cell/ppl.json.tmp" "$cell/ppl.json"
    rm "$cell/ppl.out"
}

for method in $methods; do
    for ratio in ${ONLY_RATIOS:-$RATIOS}; do
        cell=$results/$method-p$ratio
        pruned=$scratch/$method-p$ratio
        mkdir -p "$cell"
        if [[ ! -s $pruned/pruning.json ]]; then
            echo "== $cell: prune"
            # shellcheck disable=SC2086
            "$intraslice" prune --model "$MODEL" --method "$method" --ratio "$ratio" --ratio-kind "$RATIO_KIND" \
                ${ALLOCATION:+--allocation "$ALLOCATION"} $CALIBRATION --threads "$threads" --output "$pruned" --overwrite --json >"$cell/prune.json.tmp"
            mv "$cell/prune.json.tmp" "$cell/prune.json"  # only a finished prune leaves it in the cell
        fi
        cp "$pruned/pruning.json" "$pruned/statistics.h5" "$cell/"
        evaluate "$pruned" "$cell"
    done
done
mkdir -p "$results/dense"
evaluate "$MODEL" "$results/dense"
"$intraslice" report ppl-table "$results" --output "$results/table.md"
echo "grid done: $results/table.md"
