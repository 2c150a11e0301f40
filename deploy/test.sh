#!/usr/bin/env bash
# Installs what the tests need, builds Atelier and runs the whole test suite.
# Usage: deploy/test.sh [BUILD_DIR]   (default: build)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}

"$here/deploy/install-deps.sh"
cd "$here"
if [ ! -d "$build" ]; then
  meson setup "$build" --werror
fi
meson compile -C "$build"
meson test -C "$build" --print-errorlogs --num-processes 2
