"""A vLLM process that dies mid-trace (test helper): compile the toy (eager), then SIGKILL itself.

Started from inside a ``compile_lens.trace()`` block, so it inherits ``COMPILE_LENS_SESSION_DIR``.
It calls compile_lens' plugin hook the way vLLM does in every process it starts, records its
compile into the session directory, and is then killed without any cleanup.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def main() -> None:
    """Record, compile, die."""
    import toy_model
    import vllm.compilation.backends  # noqa: F401

    from compile_lens.instrument import vllm_plugin

    vllm_plugin.register()
    cfg = toy_model.vllm_config("eager")
    toy_model.run(cfg, toy_model.build_model(cfg, layers=2), sizes=(5,))
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main()
