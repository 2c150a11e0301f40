#!/usr/bin/env bash
# Benchmarks one LoRA training step configuration (r=8 on q_proj,v_proj, batch 4 x 256
# tokens, 2 threads) on a randomly initialised model with SmolLM2-135M's shape: atelier's
# trainer and PyTorch on CPU, one after the other on the same weights. Prints both JSON
# lines and the ratios. Needs a built tree (BUILD, default build) and python3-torch.
#
#   bench/train_bench.sh [STEPS] [THREADS]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here/build}
config_dir=${CONFIG_DIR:-$here/../shared/corpus/configs/smollm2-135m}
steps=${1:-5}
threads=${2:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/atelier-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT

if [ ! -f "$build/trainer/libatelier_trainer.a" ]; then
  echo "train_bench: $build/trainer/libatelier_trainer.a not found; build first or set BUILD" >&2
  exit 2
fi
# Debian's python3-torch installs into the system python, which a pyenv or venv python in
# PATH does not see; PYTHON overrides the choice.
python=${PYTHON:-python3}
if ! "$python" -c 'import torch' 2>/dev/null; then
  python=/usr/bin/python3
fi
"$python" -c 'import torch' 2>/dev/null || {
  echo "train_bench: PyTorch not found; install python3-torch (apt-get install python3-torch)" >&2
  exit 2
}

cc -O2 -std=c11 -D_GNU_SOURCE -fopenmp -I"$here/trainer" \
  $(pkg-config --cflags openblas) \
  "$here/bench/train_bench.c" "$build/trainer/libatelier_trainer.a" \
  $(pkg-config --libs openblas jansson libpcre2-8 libutf8proc libcrypto) -lm -lpthread \
  -o "$work/train_bench"

echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
# The atelier binary runs trainer commands with a passive OpenMP wait policy (server/main.c),
# so the library bench does the same.
atelier=$(OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} OMP_NUM_THREADS=$threads "$work/train_bench" "$config_dir" "$work/model" "$steps" "$threads")
echo "$atelier"
torch=$("$python" "$here/bench/train_bench_torch.py" "$work/model" "$steps" "$threads")
echo "$torch"
"$python" - "$atelier" "$torch" <<'PY'
import json, sys
a, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "tokens_per_s_ratio": round(a["tokens_per_s"] / t["tokens_per_s"], 3),
    "peak_rss_ratio": round(a["peak_rss_mb"] / t["peak_rss_mb"], 3),
    "atelier_flop_utilisation": round(a["train_gflops"] / a["sgemm_gflops"], 3),
}))
PY
