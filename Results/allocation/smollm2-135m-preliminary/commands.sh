#!/usr/bin/env bash
set -u
export OPENBLAS_NUM_THREADS=2
B=/work/main/.build/release/intraslice
for a in uniform global global_pca; do
  $B prune --model smollm2-135m --method intraslice --ratio 0.3 --ratio-kind params --allocation $a --calibration wiki --cal-samples 16 --cal-seqlen 2048 --output /work/prelim/$a --overwrite --no-checkpoints --threads 2 --json 2>/work/prelim/$a.prune.log | tail -n 1 > /work/prelim/$a.prune.json
  $B eval ppl --model /work/prelim/$a --seqlen 2048 --windows 24 --threads 2 --json 2>/work/prelim/$a.ppl.log | tail -n 1 > /work/prelim/$a.ppl.json
done
echo done > /work/prelim/done
