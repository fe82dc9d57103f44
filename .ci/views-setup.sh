#!/usr/bin/env bash
# Install what the views tests need beyond pip extras: Graphviz's `dot` (graph drawing), Debian's
# chromium (the browser tests drive it through Playwright's Python package; no browser download),
# and JupyterLab + nbclient (the explorer-in-JupyterLab test and the notebook tests).
# Idempotent; skips apt when the binaries are already there.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore

need_apt=()
command -v dot >/dev/null 2>&1 || need_apt+=(graphviz)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fc-list 2>/dev/null | grep -qi dejavu || need_apt+=(fonts-dejavu-core)
if [ "${#need_apt[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Playwright's Python package only (its bundled driver); the browser is Debian's chromium.
python3 -m pip install -q playwright nbclient nbformat ipykernel jupyterlab
echo "views-setup: dot=$(command -v dot) chromium=$(command -v chromium)"
