#!/usr/bin/env bash
# Installs the Debian 12 packages that build, run and test Atelier, and the pinned npm
# packages the end-to-end tests drive. Run as root (or through sudo). Safe to run again.
# Usage: deploy/install-deps.sh [--bench]
#   --bench   also install the references the benchmarks in bench/ run side by side:
#             nginx, fcgiwrap (git http-backend behind nginx), wrk and PyTorch (large).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  # build
  build-essential meson ninja-build pkg-config
  # the core libraries
  libmicrohttpd-dev libsqlite3-dev libgit2-dev libssl-dev libjansson-dev
  # trainer math and tokenizer text handling
  libopenblas-dev libpcre2-dev libutf8proc-dev
  # model cards
  libcmark-gfm-dev libcmark-gfm-extensions-dev libyaml-dev
  # clients and tools the tests use
  git git-lfs curl sqlite3 chromium python3
)
if [ "${1:-}" = "--bench" ]; then
  packages+=(nginx-light fcgiwrap wrk python3-torch valgrind)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js may come from elsewhere than Debian (with its own npm); take Debian's only when
# there is no node or npm at all, since Debian's npm package conflicts with other builds.
if ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs)
fi
if ! command -v npm >/dev/null 2>&1; then
  missing+=(npm)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
  fi
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}"
fi

# npm packages pinned by tests/js/package-lock.json.
if [ ! -d "$here/tests/js/node_modules/@huggingface/hub" ] ||
   [ ! -d "$here/tests/js/node_modules/@huggingface/transformers" ] ||
   [ ! -d "$here/tests/js/node_modules/playwright-core" ]; then
  (cd "$here/tests/js" && npm ci --no-audit --no-fund)
fi
