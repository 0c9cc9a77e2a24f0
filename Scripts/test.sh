#!/usr/bin/env bash
# The whole test suite (the README's second command; .ci/run calls exactly this).
#   1. Debian packages and assets, as Scripts/setup.sh installs them (no build, no main job),
#      with all three models so the real-model tests cover every architecture,
#      plus the packages only tests use (chromium, poppler-utils, slurm-wlm, munge),
#   2. a throwaway Python with h5py and matplotlib in the asset cache, outside the
#      repository, so the tests can check that our HDF5 files open in h5py and that
#      Scripts/plot-activations.py plots a statistics file,
#   3. swift test, in release mode with testing enabled: the real-model tests dequantize and
#      run checkpoints of up to 0.6 B parameters, which a debug build does ~10x slower.
#      It builds into .build-test so it does not undo the release build of setup.sh.
#      Before it, every libFuzzer target of the file readers runs for 25 s (Scripts/fuzz.sh,
#      results to a temporary folder; the 10-minute runs are in Results/fuzzing), failing on
#      a crash.
# Runnable from any directory.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname "$SCRIPT_DIR")
# shellcheck source=lib/assets.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/assets.sh"
# shellcheck source=lib/packages.sh source-path=SCRIPTDIR
source "$SCRIPT_DIR/lib/packages.sh"
CACHE=${INTRASLICE_CACHE:-$HOME/.cache/intraslice}

"$SCRIPT_DIR/setup.sh" --no-build --all-models
# What only tests use: a headless browser that renders the experiment report,
# pdftotext to read what it shows, and a single-node Slurm (Scripts/slurm-local.sh).
install_packages chromium poppler-utils slurm-wlm munge

venv=$CACHE/venv-h5py
if ! "$venv/bin/python" -c "import h5py" >/dev/null 2>&1; then
  note "creating $venv with h5py (for the HDF5 interoperability test)"
  rm -rf -- "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
fi
if ! "$venv/bin/python" -c "import h5py, matplotlib" >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "h5py==3.16.0" "matplotlib==3.10.3" ||
    die "could not install h5py and matplotlib into $venv"
fi
export INTRASLICE_PYTHON=$venv/bin/python

cd "$REPO_ROOT"
note "running: Scripts/fuzz.sh --seconds 25 (each fuzz target briefly)"
fuzz_results=$(mktemp -d)
bash "$SCRIPT_DIR/fuzz.sh" --seconds 25 --results "$fuzz_results"
rm -rf -- "$fuzz_results"

note "building: swift build -c release -Xswiftc -enable-testing --scratch-path .build-test --build-tests"
swift build -c release -Xswiftc -enable-testing --scratch-path .build-test --build-tests
# The tests compute in their own process, which cannot restart itself the way the CLI does
# when OpenBLAS falls back to kernels older than the CPU (Sources/LinAlg/BLASCore.swift):
# they get the kernels the CLI settles on.
if [[ -z ${OPENBLAS_CORETYPE:-} ]]; then
  OPENBLAS_CORETYPE=$(.build-test/release/intraslice bench gemm --size 64 --repeats 1 --warmup 0 --threads 1 --json |
    tail -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["blas_core"])')
  export OPENBLAS_CORETYPE
fi
note "running: swift test -c release -Xswiftc -enable-testing --scratch-path .build-test --skip-build (OpenBLAS kernels: $OPENBLAS_CORETYPE)"
swift test -c release -Xswiftc -enable-testing --scratch-path .build-test --skip-build
