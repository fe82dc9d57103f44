"""The ``vllm.general_plugins`` entry point: trace vLLM's compile in every process it starts.

Stage 1 (instrument). Declared in ``pyproject.toml`` as
``compile_lens = "compile_lens.instrument.vllm_plugin:register"``; vLLM calls ``register()`` once
in each of its processes (the caller's, the EngineCore, every worker). It does nothing unless a
``compile_lens.trace()`` is active, which the tracing process signals with
``COMPILE_LENS_SESSION_DIR`` (a ``COMPILE_LENS_*`` variable: ``VLLM_*`` ones would change vLLM's
cache hash). Then the process records itself into that directory
(``compile_lens.instrument.vllm.process``) and the trace merges it on exit.

In the tracing process itself the session has installed the observers already (it records in
memory), so ``register()`` leaves it alone. A process forked from the tracing one inherits the
session state but is another process: it records into the directory like any child.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings

SESSION_DIR_ENV = "COMPILE_LENS_SESSION_DIR"


def _tracing_here() -> bool:
    """True in the process that runs the ``trace()`` block (not in a fork of it).

    A forked child inherits the session state; it is told apart by the pid that installed the
    observers or, when vLLM was imported only after ``trace()`` began, by having a
    ``multiprocessing`` parent.
    """
    from compile_lens import _session
    from compile_lens.instrument import vllm

    if _session.current() is None:
        return False
    if vllm.installed():
        return vllm._INSTALL.get("pid") == os.getpid()
    return multiprocessing.parent_process() is None


def register() -> None:
    """vLLM plugin hook: start recording this process when a trace is active; never raises."""
    directory = os.environ.get(SESSION_DIR_ENV)
    if not directory or not os.path.isdir(directory):
        return
    try:
        if _tracing_here():
            return
        from compile_lens.instrument.vllm import process

        process.start(directory)
    except Exception as exc:  # a plugin must never stop vLLM from starting
        warnings.warn(f"compile_lens: could not trace this vLLM process ({type(exc).__name__}: "
                      f"{exc}); vLLM runs untraced here", RuntimeWarning, stacklevel=2)
