#!/usr/bin/env bash
# Issue 17's study: what pruning does to the activations. SliceGPT, IntraSlice and Wanda-sp
# at 25 % of decoder parameters (calibration 32 x 2048 wiki, seed 0, as the paper tables),
# each run by `intraslice activations` beside the dense model on the same WikiText-2 tokens
# (32 windows of 512), then drawn by `report activations`.
# Usage: Scripts/activation-study.sh MODEL WORKDIR
# Environment: BIN (default .build/release/intraslice), RATIO (0.25), WINDOWS (32),
# SEQLEN (512), SITES (residual_in,residual_mid), OUT (default Results/activations/MODEL).
# A pruned folder already at WORKDIR/<method>-<ratio> (pruning.json present) is used as it
# is (e.g. linked from the paper tables' work folder); otherwise it is pruned there.
# Writes OUT/<method>-<ratio>.h5 (statistics of the pruned model, the dense model's under
# /reference_activations, the drift under /comparison), OUT/plots/*.svg and
# OUT/commands.txt. Re-running skips finished files.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODEL=${1:?usage: Scripts/activation-study.sh MODEL WORKDIR}
WORK=${2:?usage: Scripts/activation-study.sh MODEL WORKDIR}
BIN=${BIN:-$REPO/.build/release/intraslice}
RATIO=${RATIO:-0.25}
OUT=${OUT:-$REPO/Results/activations/$MODEL}
export OPENBLAS_NUM_THREADS=2
mkdir -p "$WORK" "$OUT"
run() { echo "== $*" >> "$OUT/commands.txt"; "$@"; }
files=()
for method in slicegpt intraslice wanda; do
  pruned=$WORK/$method-$RATIO
  [ -f "$pruned/pruning.json" ] || run "$BIN" prune --model "$MODEL" --method "$method" --ratio "$RATIO" --ratio-kind params \
    --calibration wiki --cal-samples 32 --cal-seqlen 2048 --seed 0 --output "$pruned" --overwrite --threads 2
  stats=$OUT/$method-$RATIO.h5
  files+=("$stats")
  [ -f "$stats" ] || run "$BIN" activations --model "$pruned" --reference "$MODEL" --data wikitext2 --seqlen "${SEQLEN:-512}" \
    --windows "${WINDOWS:-32}" --sites "${SITES:-residual_in,residual_mid}" --output "$stats" --threads 2 --json | tail -n 1 > "$stats.json"
done
run "$BIN" report activations "${files[@]}" --output "$OUT/plots"
