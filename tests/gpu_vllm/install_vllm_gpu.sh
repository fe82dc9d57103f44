#!/usr/bin/env bash
# Install vLLM 0.26.0 and its wheels (requirements/vllm-gpu.txt) plus compile_lens into one target
# directory on the GPU machine, which has no package index.
#
# Usage: bash tests/gpu_vllm/install_vllm_gpu.sh PARTS_DIR TARGET_DIR
#   PARTS_DIR holds part_00..part_07 and MD5, made on a machine with the index by
#   .ci/vllm-gpu-wheels.sh, carried one part per call.
# Then: export PYTHONPATH=TARGET_DIR VLLM_USE_FLASHINFER_SAMPLER=0 (flashinfer is not among the
# wheels; that variable is a factor of vLLM's cache hash: set it alike in runs you compare).
# Idempotent: the wheels are unpacked once; compile_lens (with its vLLM plugin entry point) is
# reinstalled every time, from this checkout.
set -euo pipefail
PARTS="$1"
TARGET="$2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ ! -f "$TARGET/.vllm-installed" ]; then
  cat "$PARTS"/part_* > "$PARTS/bundle.tar"
  got=$(md5sum "$PARTS/bundle.tar" | cut -c1-32)
  want=$(cut -c1-32 "$PARTS/MD5")
  [ "$got" = "$want" ] || { echo "bundle md5 $got != $want: a part is missing or cut" >&2; exit 1; }
  mkdir -p "$PARTS/b" && tar -xf "$PARTS/bundle.tar" -C "$PARTS/b"
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$TARGET" "$PARTS"/b/wheels/*.whl
  touch "$TARGET/.vllm-installed"
fi
rm -rf "$TARGET"/compile_lens "$TARGET"/compile_lens-*.dist-info
python3 -m pip install -q --no-index --no-deps --no-build-isolation --target "$TARGET" "$ROOT" \
  2>&1 | grep -v "Target directory .* already exists" || true
PYTHONPATH="$TARGET" python3 -c "import vllm, compile_lens; print('vllm', vllm.__version__, 'compile_lens', compile_lens.__file__)"
