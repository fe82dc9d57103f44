#!/usr/bin/env bash
# The test command the README documents: the main suite, then the vLLM tier in its own venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
python3 -m pytest -q -p no:cacheprovider "$@"
if [ -f .ci/vllm-tier.sh ]; then bash .ci/vllm-tier.sh; fi
