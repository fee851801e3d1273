#!/usr/bin/env bash
# The README's test command: installs what the tests need where it is missing (Mesa's software
# Vulkan driver, lavapipe, for the GPU tests; Python's venv module for the Python package), as
# root or through sudo, then runs the test suite, the library example, and the Python package's
# tests: the package built into a virtual environment (.venv) and its pytest suite. CI
# (.ci/run) runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=""
for pkg in mesa-vulkan-drivers libvulkan1 python3-venv; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "scripts/test.sh:$missing missing and this user can neither install them (not root) nor use sudo;" >&2
    echo "install$missing, or run the tests as root" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing$missing (the software Vulkan adapter the GPU tests run on; Python's venv)"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh image has no package lists: update first.
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq $missing >/dev/null
fi

# The Vulkan loader warns when XDG_RUNTIME_DIR is unset; give it a private one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

cargo test
# The library flow of the README and the crate docs, as a Rust user writes it.
cargo run --quiet --example train_mnist

# The Python package: built into .venv with maturin in the dev profile, which shares target/
# with the tests above, so the library and its dependencies are not compiled a second time.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check maturin numpy scikit-learn pytest pandas distributed \
  onnx onnxruntime tensorboard
# maturin lists every requirement pip finds installed: keep its output for a failure.
log="$(mktemp)"
VIRTUAL_ENV="$PWD/.venv" .venv/bin/maturin develop --quiet >"$log" 2>&1 || { cat "$log"; exit 1; }
.venv/bin/python -m pytest -q -p no:cacheprovider python/tests
