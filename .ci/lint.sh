#!/usr/bin/env bash
# Static checks: ruff (lint rules of pyproject's [tool.ruff]) on the package, tests and benchmarks,
# and pyright (pyproject's [tool.pyright]: basic mode) on the package. Any finding fails.
#
# pyright checks the package against the vLLM venv's site-packages when it exists (.venv-vllm, made
# by .ci/vllm-setup.sh; same torch as the main install), so the vLLM observers are checked against
# the real vLLM; without it, their vLLM imports are reported as unresolved.
# Usage: .ci/lint.sh   (from anywhere; needs compile_lens' [dev] extra: ruff, pyright)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv-vllm}"

python3 -m ruff check compile_lens tests benchmarks

pyright_args=()
if [ -x "$VENV/bin/python" ]; then
  pyright_args+=(--pythonpath "$VENV/bin/python")
else
  echo "lint: no vLLM venv at $VENV (run .ci/vllm-setup.sh); checking against python3's packages" >&2
fi
# No update check, no download: the [nodejs] extra brings node, the wheel brings pyright itself.
export PYRIGHT_PYTHON_IGNORE_WARNINGS=1
python3 -m pyright --project "$ROOT" "${pyright_args[@]}"  # this project, whatever config a parent holds
echo "lint: ruff and pyright clean"
