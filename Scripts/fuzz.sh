#!/usr/bin/env bash
# Fuzzes the file readers with libFuzzer, one target at a time, each for a bounded time.
#
#   Scripts/fuzz.sh [--seconds N] [--results DIR] [target...]
#
# Targets (default: all, in this order), each an executable of the package (Fuzz/<Name>/):
#   gguf            FuzzGGUF           GGUFFile, every dequantizable tensor, Tokenizer(gguf:)
#   safetensors     FuzzSafetensors    SafetensorsCheckpoint, single file or index + shards
#   config          FuzzConfig         config.json through HFCheckpointLoader.load(folder:)
#   tokenizer-json  FuzzTokenizerJSON  Tokenizer(huggingFaceJSON:), encode and decode
#   taskfile        FuzzTaskFile       ZeroShotTask.load(path:) on gzip JSON lines
#
# Each target is built in release mode with -sanitize=fuzzer,address into .build-fuzzer,
# then run for N seconds (default 60) from its corpus, $INTRASLICE_CACHE/fuzz/<target>/corpus
# (outside git, kept between runs), and the committed seeds Fuzz/Seeds/<target>/ (made by
# Fuzz/make-seeds.py). Inputs that crash, hang (10 s) or exceed 2 GB go to
# $INTRASLICE_CACHE/fuzz/<target>/crashes/. Per-target results (executions, coverage,
# crashes) are written to DIR/<target>.txt and a summary to DIR/README.md
# (DIR: Results/fuzzing). Exits non-zero if any target found a crash.
#
# A crashing input replays in a plain debug build, which prints the error or traps:
#   swift build --product FuzzGGUF && .build/debug/FuzzGGUF CRASH-FILE
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
# shellcheck source=lib/assets.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/assets.sh"
CACHE=${INTRASLICE_CACHE:-$HOME/.cache/intraslice}

declare -A PRODUCT=([gguf]=FuzzGGUF [safetensors]=FuzzSafetensors [config]=FuzzConfig
                    [tokenizer-json]=FuzzTokenizerJSON [taskfile]=FuzzTaskFile)
ALL=(gguf safetensors config tokenizer-json taskfile)

seconds=60
results=$REPO_ROOT/Results/fuzzing
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) [ $# -ge 2 ] || die "--seconds needs a number"; seconds=$2; shift 2 ;;
    --results) [ $# -ge 2 ] || die "--results needs a folder"; results=$2; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -n "${PRODUCT[$1]:-}" ] || die "unknown target $1 (known: ${ALL[*]})"; targets+=("$1"); shift ;;
  esac
done
[[ $seconds =~ ^[1-9][0-9]*$ ]] || die "--seconds must be a positive whole number, not '$seconds'"
[ ${#targets[@]} -gt 0 ] || targets=("${ALL[@]}")
mkdir -p "$results"

cd "$REPO_ROOT"
flags=(-c release --scratch-path .build-fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING)
bin=$(swift build "${flags[@]}" --show-bin-path)

# value KEY FILE: the number after "stat::KEY:" in libFuzzer's final statistics.
value() { sed -n "s/^stat::$1: *//p" "$2" | tail -1; }

failed=()
for target in "${targets[@]}"; do
  product=${PRODUCT[$target]}
  note "fuzz: building $product"
  swift build "${flags[@]}" --product "$product" >&2 || die "could not build $product"

  work=$CACHE/fuzz/$target
  mkdir -p "$work/corpus" "$work/crashes"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-$target.XXXXXX")
  log=$tmp/libfuzzer.log
  touch "$tmp/start"
  note "fuzz: running $target for $seconds s (corpus $work/corpus)"
  status=0
  # TMPDIR: the folder where the target writes each input as a file for the reader.
  TMPDIR=$tmp "$bin/$product" "$work/corpus" "Fuzz/Seeds/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/crashes/" >"$log" 2>&1 || status=$?

  final=$(grep -E '^#[0-9]+[[:space:]]+(DONE|INITED|NEW|REDUCE|pulse)' "$log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$final")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$final")
  corpus=$(find "$work/corpus" -type f | wc -l)
  crashes=$(find "$work/crashes" -type f -newer "$tmp/start" | sort)
  {
    echo "target: $target ($product, seeds Fuzz/Seeds/$target)"
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "seconds: $seconds"
    echo "executions: $(value number_of_executed_units "$log")"
    echo "executions_per_second: $(value average_exec_per_sec "$log")"
    echo "coverage: cov ${cov:-?} ft ${ft:-?}"
    echo "corpus_inputs: $corpus"
    echo "peak_rss_mb: $(value peak_rss_mb "$log")"
    echo "libfuzzer_exit_status: $status"
    if [ -n "$crashes" ] || [ "$status" -ne 0 ]; then
      echo "crashes:"
      echo "${crashes:-  (none saved; see the log)}" | sed 's/^/  /'
      echo "log tail:"
      grep -v '^#\|^INFO\|^stat::' "$log" | tail -40 | sed 's/^/  /'
    else
      echo "crashes: none"
    fi
    echo "final: $final"
  } >"$results/$target.txt"
  cat "$results/$target.txt" >&2
  [ "$status" -eq 0 ] || failed+=("$target")
  rm -rf -- "$tmp"
done

# The summary covers every target with a results file, whether run now or before.
{
  echo "# Fuzzing the file readers"
  echo
  echo "Written by \`Scripts/fuzz.sh\` (libFuzzer, \`-sanitize=fuzzer,address\`, release build);"
  echo "one line per target from its \`<target>.txt\`. Crashing inputs are fixed and kept as"
  echo "regression tests under \`Tests/*/Fixtures/fuzz-regressions/\`."
  echo
  echo "| target | binary | seconds | executions | exec/s | cov | ft | corpus | crashes | date | commit |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for target in "${ALL[@]}"; do
    file=$results/$target.txt
    [ -f "$file" ] || continue
    field() { sed -n "s/^$1: //p" "$file" | head -1; }
    coverage=$(field coverage)
    echo "| $target | ${PRODUCT[$target]} | $(field seconds) | $(field executions) | $(field executions_per_second)" \
         "| $(awk '{print $2}' <<<"$coverage") | $(awk '{print $4}' <<<"$coverage") | $(field corpus_inputs)" \
         "| $(field crashes | sed 's/^$/see file/') | $(field date) | $(field commit) |"
  done
} >"$results/README.md"

if [ ${#failed[@]} -gt 0 ]; then die "fuzzing found crashes in: ${failed[*]} (see $results)"; fi
note "fuzz: no crashes in ${targets[*]}"
