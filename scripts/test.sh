#!/usr/bin/env bash
# The README's test command: installs what the tests need where it is missing (Mesa's software
# Vulkan driver, lavapipe, for the GPU tests), as root or through sudo, then runs the test
# suite and the library example. CI (.ci/run) runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || ! dpkg -s libvulkan1 >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null; then
    SUDO="sudo"
  else
    echo "scripts/test.sh: mesa-vulkan-drivers is missing and this user can neither install it (not root) nor use sudo;" >&2
    echo "install mesa-vulkan-drivers and libvulkan1, or run the tests as root" >&2
    exit 1
  fi
  echo "scripts/test.sh: installing mesa-vulkan-drivers (the software Vulkan adapter the GPU tests run on)"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh image has no package lists: update first.
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi

# The Vulkan loader warns when XDG_RUNTIME_DIR is unset; give it a private one.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

cargo test
# The library flow of the README and the crate docs, as a Rust user writes it.
cargo run --quiet --example train_mnist
