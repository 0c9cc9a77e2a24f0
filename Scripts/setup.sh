#!/usr/bin/env bash
# One-command setup of the harness on a Debian/Ubuntu machine:
#   1. install the Debian packages the project needs (only those that are missing),
#   2. fetch and verify the models and data (Scripts/fetch-assets.sh),
#   3. build the Swift package in release mode,
#   4. run Scripts/main-job.sh when it exists and is executable.
# Runnable from any directory.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
# shellcheck source=lib/assets.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/assets.sh"
# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/packages.sh"

usage() {
  cat <<EOF
Usage: Scripts/setup.sh [options]

Installs missing Debian packages (apt-get, through sudo when not root), fetches the
assets, runs 'swift build -c release' and then Scripts/main-job.sh if present.

Options (passed on to Scripts/fetch-assets.sh):
  --with-gemma, --with-qwen, --with-qwen-1.5b, --all-models, --wikitext PATH, --verify-only
Own options:
  --no-build        stop after fetching: no swift build, no main job
  -h, --help        show this help
EOF
}

fetch_args=() build=1
while (($# > 0)); do
  case $1 in
    --with-gemma | --with-qwen | --with-qwen-1.5b | --all-models | --verify-only | --wikitext=*) fetch_args+=("$1") ;;
    --wikitext)
      (($# >= 2)) || die "--wikitext needs a path"
      fetch_args+=("$1" "$2")
      shift
      ;;
    --no-build) build=0 ;;
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

# ---- 1. Debian packages ---------------------------------------------------------------
packages=(libopenblas-dev liblapacke-dev libhdf5-dev zlib1g-dev hdf5-tools pkg-config)
command -v python3 >/dev/null 2>&1 || packages+=(python3)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
# Scripts/test.sh makes a throwaway venv for h5py; Debian splits venv support out.
python3 -c "import ensurepip" >/dev/null 2>&1 || packages+=(python3-venv)

install_packages "${packages[@]}"

# ---- 2. assets ------------------------------------------------------------------------
"$SCRIPT_DIR/fetch-assets.sh" "${fetch_args[@]}"

if ((!build)); then
  note "--no-build: skipping swift build and the main job"
  exit 0
fi

# ---- 3. build -------------------------------------------------------------------------
command -v swift >/dev/null 2>&1 || die "swift not found on PATH; install a Swift toolchain (swift.org) and run again"
note "building: swift build -c release (in $REPO_ROOT)"
(cd "$REPO_ROOT" && swift build -c release)

# ---- 4. main job (written separately) -------------------------------------------------
main_job=$SCRIPT_DIR/main-job.sh
if [[ -x $main_job ]]; then
  note "running $main_job"
  (cd "$REPO_ROOT" && "$main_job")
else
  note "no executable Scripts/main-job.sh; setup done"
fi
