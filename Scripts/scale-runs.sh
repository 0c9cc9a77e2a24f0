#!/usr/bin/env bash
# The scale runs of Results/scale (issue 14): Qwen2.5-1.5B (real weights, GGUF) and a
# synthetic Llama-2-7B (bf16, HuggingFace's sharded layout) pruned by IntraSlice and
# evaluated resident and streamed, each command under /usr/bin/time -v for its peak
# resident memory. Usage: Scripts/scale-runs.sh WORKDIR [LLAMA_LAYERS]
#   WORKDIR       where models and pruned folders go (outside git; ~15 GB for 32 layers)
#   LLAMA_LAYERS  layers of the synthetic Llama-2-7B (default 32, the real model)
# Logs (stderr with the time -v report), JSON lines and plans go to Results/scale/.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:?usage: Scripts/scale-runs.sh WORKDIR [LLAMA_LAYERS]}
LAYERS=${2:-32}
BIN=$REPO/.build/release/intraslice
OUT=$REPO/Results/scale
export OPENBLAS_NUM_THREADS=2
mkdir -p "$WORK" "$OUT"

run_one() { # NAME ARGS...: one command, its JSON on stdout, its log with time -v; a prune
  # or an eval ppl is planned first (`intraslice plan`, JSON in NAME.plan.json)
  local name=$1
  shift
  echo "== $name: intraslice $*" | tee -a "$OUT/commands.txt"
  local threads=(--threads 2) && [[ $1 == synth ]] && threads=()
  if [[ $1 == prune || $1 == eval ]]; then
    "$BIN" plan "$@" "${threads[@]}" --json 2>/dev/null | tail -n 1 > "$OUT/$name.plan.json"
  fi
  /usr/bin/time -v "$BIN" "$@" "${threads[@]}" --json > "$OUT/$name.json.tmp" 2> "$OUT/$name.log"
  tail -n 1 "$OUT/$name.json.tmp" > "$OUT/$name.json" && rm "$OUT/$name.json.tmp"
  grep "Maximum resident set size" "$OUT/$name.log"
}

# Qwen2.5-1.5B: dense perplexity at L = 2048 resident and streamed, IntraSlice 25 %
# resident and streamed (8 × 512 calibration tokens of wiki; the streamed prune plans
# 4.7 GiB), the pruned model's perplexity. FROM=N skips the first N steps (a rerun).
QWEN=qwen2.5-1.5b
step=0
run() { step=$((step + 1)); ((step > ${FROM:-0})) || return 0; run_one "$@"; }
run qwen-ppl-resident eval ppl --model $QWEN --seqlen 2048 --windows 4
run qwen-ppl-streamed eval ppl --model $QWEN --seqlen 2048 --windows 4 --memory-budget 3GiB
for mode in resident streamed; do
  budget=() && [[ $mode == streamed ]] && budget=(--memory-budget 5GiB)
  run qwen-prune-$mode prune --model $QWEN --method intraslice --ratio 0.25 --ratio-kind params --allocation uniform --calibration wiki \
    --cal-samples 8 --cal-seqlen 512 --output "$WORK/qwen-intraslice-25-$mode" --overwrite --no-checkpoints "${budget[@]}"
done
for file in "$WORK"/qwen-intraslice-25-resident/{*.safetensors,model.safetensors.index.json,config.json}; do
  [[ -e $file ]] || continue
  cmp "$file" "$WORK/qwen-intraslice-25-streamed/${file##*/}" && echo "qwen: resident and streamed prunes wrote the same ${file##*/}" | tee -a "$OUT/commands.txt"
done
run qwen-pruned-ppl-streamed eval ppl --model "$WORK/qwen-intraslice-25-streamed" --seqlen 2048 --windows 4 --memory-budget 3GiB

# Synthetic Llama-2-7B (bf16, sharded): pruned and evaluated under a 6 GiB budget.
LLAMA=$WORK/llama-2-7b-synth-$LAYERS
[[ -d $LLAMA ]] || run llama-synth synth --shape llama-2-7b --dtype bf16 --seed 0 --layers "$LAYERS" --output "$LLAMA"
run llama-prune prune --model "$LLAMA" --method intraslice --ratio 0.3 --ratio-kind params --allocation uniform --calibration wiki \
  --cal-samples 8 --cal-seqlen 512 --output "$WORK/llama-intraslice-30-$LAYERS" --overwrite --memory-budget 6GiB
run llama-ppl-dense eval ppl --model "$LLAMA" --seqlen 512 --windows 4 --memory-budget 6GiB
run llama-ppl-pruned eval ppl --model "$WORK/llama-intraslice-30-$LAYERS" --seqlen 512 --windows 4 --memory-budget 6GiB
