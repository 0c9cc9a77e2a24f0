#!/usr/bin/env bash
# Issue 15's study: IntraSlice at each ratio under the uniform, global and global_pca
# allocations, each pruned folder evaluated on WikiText-2 at L = 2048 (whole test set) and
# the 7 zero-shot tasks, with the per-layer ratio plot per ratio. Nothing else may run
# meanwhile. Usage: Scripts/allocation-study.sh MODEL WORKDIR [RATIO...]   (default 0.2 0.3)
# Environment: CAL_SAMPLES (default 128, the method's), ZS_LIMIT (documents per task;
# default: all), OUT (default Results/allocation/MODEL).
# Writes OUT/<ratio>-<allocation>/{pruning.json,statistics.h5,ppl.json,zeroshot.json},
# OUT/allocation-<ratio>.svg and OUT/commands.txt. Re-running skips finished cells.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=${1:?usage: Scripts/allocation-study.sh MODEL WORKDIR [RATIO...]}
WORK=${2:?usage: Scripts/allocation-study.sh MODEL WORKDIR [RATIO...]}
shift 2
if [ $# -gt 0 ]; then RATIOS=("$@"); else RATIOS=(0.2 0.3); fi
BIN=$REPO/.build/release/intraslice
OUT=${OUT:-$REPO/Results/allocation/$MODEL}
CAL_SAMPLES=${CAL_SAMPLES:-128}
export OPENBLAS_NUM_THREADS=2
mkdir -p "$WORK" "$OUT"
run() { echo "== $*" >> "$OUT/commands.txt"; "$@"; }
for ratio in "${RATIOS[@]}"; do
  folders=()
  for allocation in uniform global global_pca; do
    cell=$ratio-$allocation
    folders+=("$WORK/$cell")
    mkdir -p "$OUT/$cell"
    if [ ! -f "$OUT/$cell/pruning.json" ]; then
      run "$BIN" prune --model "$MODEL" --method intraslice --ratio "$ratio" --ratio-kind params --allocation "$allocation" \
        --calibration wiki --cal-samples "$CAL_SAMPLES" --cal-seqlen 2048 --output "$WORK/$cell" --overwrite --threads 2 --json \
        | tail -n 1 > "$OUT/$cell/prune.json"
      cp "$WORK/$cell/pruning.json" "$WORK/$cell/statistics.h5" "$OUT/$cell/"
    fi
    [ -f "$OUT/$cell/ppl.json" ] || run "$BIN" eval ppl --model "$WORK/$cell" --seqlen 2048 --threads 2 --json | tail -n 1 > "$OUT/$cell/ppl.json"
    [ -f "$OUT/$cell/zeroshot.json" ] || run "$BIN" eval zeroshot --model "$WORK/$cell" --tasks all ${ZS_LIMIT:+--limit $ZS_LIMIT} --threads 2 --json \
      | tail -n 1 > "$OUT/$cell/zeroshot.json"
  done
  run "$BIN" report allocation "${folders[@]}" --output "$OUT/allocation-$ratio.svg"
done
