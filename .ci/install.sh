#!/usr/bin/env bash
# Install everything compile_lens' tests need on a clean CPU machine (Debian, Python 3.11).
#
# Order matters: torch first (the machine's local CPU wheel for torch==2.13.0; any other torch
# request would pull GBs of CUDA packages), then compile_lens with its extras ([dev] brings the
# pinned ruff and pyright, with its own node, that .ci/lint.sh runs), then the system
# packages the views tests use (graphviz's `dot`, chromium), then the vLLM venv (its own tier).
# Idempotent: safe to run twice.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PIP_DISABLE_PIP_VERSION_CHECK=1

python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e ".[notebook,dev]"

if [ -f .ci/views-setup.sh ]; then bash .ci/views-setup.sh; fi
if [ -f .ci/vllm-setup.sh ]; then bash .ci/vllm-setup.sh; fi
echo "install: done"
