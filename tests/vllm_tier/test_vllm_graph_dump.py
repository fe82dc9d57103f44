"""vLLM's ``graph_dump`` payloads are not built for compile_lens alone.

vLLM builds them with ``print_readable`` on its split graph and lazy submodules, which recompiles
the submodules: on an H100 (vLLM 0.26, torch 2.11) Inductor then generated different code for a
traced run than for an untraced one. torch builds a payload whenever any handler listens, so
while ``trace()`` is the only listener the payload is replaced by a note; with another listener
(``TORCH_TRACE``, tlparse) vLLM's own payload is built as before. Each case runs in a fresh
interpreter, where no test harness listens on torch's trace stream.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from vllm_runs import VLLM

pytestmark = VLLM

SCRIPT = textwrap.dedent("""
    import logging, sys
    from vllm.compilation import backends
    import compile_lens

    class Other(logging.Handler):
        def emit(self, record):
            return None

    if sys.argv[1] == "other":
        logging.getLogger("torch.__trace").addHandler(Other())
    calls = []

    def payload():
        calls.append("built")
        return "graph code"

    original = backends.trace_structured
    with compile_lens.trace(strict=True, factors=False):
        assert backends.trace_structured is not original
        backends.trace_structured("graph_dump", metadata_fn=lambda: {"name": "vllm_test"},
                                  payload_fn=payload)
    assert backends.trace_structured is original
    print("calls:", calls)
""")


def _calls(case: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH_TRACE", "TORCH_LOGS")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, case], capture_output=True, text=True,
                          env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_payload_not_built_while_only_compile_lens_listens():
    assert _calls("alone") == "calls: []"


def test_payload_built_when_someone_else_listens():
    assert _calls("other") == "calls: ['built']"
