#!/usr/bin/env bash
# The real-width check of `intraslice synth` too big for the unit tests: a synthetic
# checkpoint (default llama-2-7b with 2 layers: 1.6 GB in bf16, 3.2 GB as Float32 once
# loaded) is written twice with the same seed, the two must be byte-identical, and its
# perplexity on a few WikiText-2 windows must be finite and of the order of the
# vocabulary size (random logits of spread 0.02·√D: about 2.3 × 49152 for D = 4096).
#
# Usage: Scripts/synth-check.sh [SHAPE] [LAYERS]   (INTRASLICE picks the binary)
set -euo pipefail
shape=${1:-llama-2-7b}
layers=${2:-2}
intraslice=${INTRASLICE:-.build/release/intraslice}
work=$(mktemp -d "${TMPDIR:-/tmp}/synth-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

for copy in a b; do
    /usr/bin/time -f "synth $copy: %e s, peak %M KiB" \
        "$intraslice" synth --shape "$shape" --layers "$layers" --seed 1 --output "$work/$copy"
done
(cd "$work/a" && sha256sum -- *) > "$work/a.sha256"
(cd "$work/b" && sha256sum --quiet -c "$work/a.sha256") && echo "same seed: identical files"

/usr/bin/time -f "eval: %e s, peak %M KiB" \
    "$intraslice" eval ppl --model "$work/a" --seqlen 256 --windows 2 --json | tail -1
