#!/usr/bin/env bash
# Issue 15's study: IntraSlice at each ratio under the uniform, global and global_pca
# allocations, each pruned folder evaluated on WikiText-2 at L = 2048 (whole test set) and
# the 7 zero-shot tasks, with the per-layer ratio plot per ratio. Nothing else may run
# meanwhile. Usage: Scripts/allocation-study.sh MODEL WORKDIR [RATIO...]   (default 0.2 0.3)
# Environment: CAL_SAMPLES (default 128, the method's), PPL_WINDOWS (the first N test
# windows; default: all), ZS_LIMIT (documents per task; default: all), ALLOCATIONS (default
# "uniform global_pca global"), OUT (default Results/allocation/MODEL).
# Writes OUT/<ratio>-<allocation>/{pruning.json,statistics.h5,ppl.json,zeroshot.json},
# OUT/dense/{ppl.json,zeroshot.json}, OUT/importance.h5, OUT/allocation-<ratio>.svg and
# OUT/commands.txt. Re-running skips finished cells.
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
# json FILE COMMAND...: the command's last JSON line into FILE, only when it succeeds.
json() { local file=$1; shift; run "$@" --json | tail -n 1 > "$file.partial"; mv "$file.partial" "$file"; }
# The gradient pass depends on the model and the calibration windows only: the first
# global_pca cell measures it, and every other global cell spends its sums (--importance
# OUT/importance.h5; bit-identical to measuring them again, AllocationCommandTests).
IMPORTANCE=$OUT/importance.h5
for ratio in "${RATIOS[@]}"; do
  folders=()
  for allocation in ${ALLOCATIONS:-uniform global_pca global}; do
    cell=$ratio-$allocation
    # The plot reads each cell's pruning.json, copied into OUT: it needs no pruned model.
    folders+=("$OUT/$cell")
    mkdir -p "$OUT/$cell"
    # Pruned again when its evaluations are unfinished and the pruned model is gone (a new machine).
    if [ ! -f "$OUT/$cell/pruning.json" ] ||
      { { [ ! -f "$OUT/$cell/ppl.json" ] || [ ! -f "$OUT/$cell/zeroshot.json" ]; } && [ ! -f "$WORK/$cell/pruning.json" ]; }; then
      reuse=()
      if [ "$allocation" != uniform ] && [ -f "$IMPORTANCE" ]; then reuse=(--importance "$IMPORTANCE"); fi
      json "$OUT/$cell/prune.json" "$BIN" prune --model "$MODEL" --method intraslice --ratio "$ratio" --ratio-kind params \
        --allocation "$allocation" "${reuse[@]}" --calibration wiki --cal-samples "$CAL_SAMPLES" --cal-seqlen 2048 --output "$WORK/$cell" \
        --overwrite --threads 2
      cp "$WORK/$cell/pruning.json" "$WORK/$cell/statistics.h5" "$OUT/$cell/"
      if [ "$allocation" = global_pca ] && [ ! -f "$IMPORTANCE" ]; then cp "$WORK/$cell/importance.h5" "$IMPORTANCE"; fi
    fi
    [ -f "$OUT/$cell/ppl.json" ] || json "$OUT/$cell/ppl.json" "$BIN" eval ppl --model "$WORK/$cell" --seqlen 2048 ${PPL_WINDOWS:+--windows $PPL_WINDOWS} --threads 2
    [ -f "$OUT/$cell/zeroshot.json" ] || json "$OUT/$cell/zeroshot.json" "$BIN" eval zeroshot --model "$WORK/$cell" --tasks all ${ZS_LIMIT:+--limit $ZS_LIMIT} --threads 2
  done
  run "$BIN" report allocation "${folders[@]}" --output "$OUT/allocation-$ratio.svg"
done
# The dense model on the same windows and documents.
mkdir -p "$OUT/dense"
[ -f "$OUT/dense/ppl.json" ] || json "$OUT/dense/ppl.json" "$BIN" eval ppl --model "$MODEL" --seqlen 2048 ${PPL_WINDOWS:+--windows $PPL_WINDOWS} --threads 2
[ -f "$OUT/dense/zeroshot.json" ] || json "$OUT/dense/zeroshot.json" "$BIN" eval zeroshot --model "$MODEL" --tasks all ${ZS_LIMIT:+--limit $ZS_LIMIT} --threads 2
