#!/usr/bin/env bash
# IntraSlice's prune of SmolLM2-135M with the full calibration set (128 random windows of
# 2048 tokens of wiki, 25 % of decoder parameters) against one dense forward pass over the
# same number of tokens (128 prefills of 1 × 2048, every logit), with the plan made before
# the prune (issue 14). Nothing else may run meanwhile. Usage: Scripts/prune-vs-forward.sh WORKDIR
# Writes Results/pruning-bench/intraslice-p0.25/{pruning.json,statistics.h5} and
# Results/pruning-bench/{intraslice-plan.json,intraslice-prune.json,intraslice-prune.log,prefill.json}
# (OUT=DIR writes them there instead, e.g. for another machine).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:?usage: Scripts/prune-vs-forward.sh WORKDIR}
BIN=$REPO/.build/release/intraslice
OUT=${OUT:-$REPO/Results/pruning-bench}
export OPENBLAS_NUM_THREADS=2
mkdir -p "$WORK" "$OUT/intraslice-p0.25"
args=(--model smollm2-135m --method intraslice --ratio 0.25 --ratio-kind params --allocation uniform --calibration wiki --cal-samples 128
      --cal-seqlen 2048 --output "$WORK/intraslice-p0.25" --overwrite --no-checkpoints --threads 2)
"$BIN" plan prune "${args[@]}" --json 2>/dev/null | tail -n 1 > "$OUT/intraslice-plan.json"
/usr/bin/time -v "$BIN" prune "${args[@]}" --json > "$OUT/intraslice-prune.json.tmp" 2> "$OUT/intraslice-prune.log"
tail -n 1 "$OUT/intraslice-prune.json.tmp" > "$OUT/intraslice-prune.json" && rm "$OUT/intraslice-prune.json.tmp"
cp "$WORK/intraslice-p0.25/pruning.json" "$WORK/intraslice-p0.25/statistics.h5" "$OUT/intraslice-p0.25/"
"$BIN" bench prefill --model smollm2-135m --batch 1 --seqlen 2048 --repeats 5 --warmup 1 --threads 2 --json | tail -n 1 > "$OUT/prefill.json"
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
prune, plan, prefill = (json.load(open(f"{out}/{name}.json")) for name in ("intraslice-prune", "intraslice-plan", "prefill"))
forward = 128 * prefill["seconds_median"]
print(f"prune {prune['timings']['prune_s']:.0f} s (whole command {prune['seconds']:.0f} s, planned {plan['seconds']:.0f} s); "
      f"one dense forward over 128 x 2048 tokens {forward:.0f} s (128 x {prefill['seconds_median']:.3f} s, "
      f"{100 * prefill['fraction_of_ceiling']:.1f} % of the sgemm ceiling); ratio {prune['timings']['prune_s'] / forward:.2f}; "
      f"peak {prune['peak_rss_bytes'] / 2**30:.2f} GiB, planned {plan['peak_memory_bytes'] / 2**30:.2f} GiB")
PY
