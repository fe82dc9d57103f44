#!/usr/bin/env bash
# Bring vLLM to a GPU machine that has no package index: download the wheels pinned in
# requirements/vllm-gpu.txt (vllm 0.26.0 for torch 2.11.0+cu130, Python 3.12, x86-64) on a machine
# that has one, pack them into one tar and cut it into 45 MB parts (for size-limited transfers).
#
# Usage, from anywhere:  bash .ci/vllm-gpu-wheels.sh [DEST]     (DEST default: .vllm-gpu, git-ignored)
# On the GPU machine:    cat DEST/parts/part_* > b.tar && md5sum b.tar   (compare with DEST/parts/MD5)
#                        tar -xf b.tar && pip install --no-index --no-deps --target SITE wheels/*.whl
# The GPU vLLM tests (tests/gpu_vllm) then run with PYTHONPATH=SITE and VLLM_USE_FLASHINFER_SAMPLER=0
# (flashinfer is not among the wheels).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="${VLLM_GPU_REQUIREMENTS:-$ROOT/requirements/vllm-gpu.txt}"
DEST="${1:-$ROOT/.vllm-gpu}"
mkdir -p "$DEST/wheels" "$DEST/parts"

platforms=()
for tag in manylinux_2_17 manylinux2014 manylinux_2_24 manylinux_2_27 manylinux_2_28 manylinux_2_31 \
           manylinux_2_34 manylinux_2_35 manylinux_2_39 manylinux_2_5 manylinux1; do
  platforms+=(--platform "${tag}_x86_64")
done
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
  --python-version 3.12 --implementation cp "${platforms[@]}" -d "$DEST/wheels" -r "$REQ"

want=$(grep -v '^[[:space:]]*#' "$REQ" | grep -c .)
got=$(find "$DEST/wheels" -name '*.whl' | wc -l)
if [ "$got" -ne "$want" ]; then
  echo "vllm-gpu-wheels: $REQ pins $want packages but $got wheels are in $DEST/wheels" >&2
  exit 1
fi
tar -cf "$DEST/bundle.tar" -C "$DEST" wheels
rm -f "$DEST"/parts/part_*
split -b 45M -d -a 2 "$DEST/bundle.tar" "$DEST/parts/part_"
md5sum "$DEST/bundle.tar" | cut -c1-32 > "$DEST/parts/MD5"
rm -f "$DEST/bundle.tar"
echo "vllm-gpu-wheels: $got wheels in $(find "$DEST/parts" -name 'part_*' | wc -l) parts under $DEST/parts"
