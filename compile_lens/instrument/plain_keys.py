"""Predict the AOTAutograd key of a plain ``torch.compile`` (opt-in, for ``cross_check=True``).

For graphs compiled by the default Inductor backend (no piecewise split) the up-front predictor
of the real key is ``torch._inductor.compile_fx.autograd_cache_key(gm, example_inputs,
ignore_shape_env=False)`` run under the wrapper's mode/options config patches (docs/design/torch-hooks.md
§2: it reproduced the real key 5/5; the standalone key never does for torch.compile graphs).

The hook wraps ``torch._TorchCompileInductorWrapper.__call__`` (what ``backend="inductor"``
calls) and reports the prediction as a ``compile_lens_plain_key`` event before delegating,
unchanged. It is opt-in because computing the key runs AOT fakification inside the user's
compile (a small, nonzero chance of touching shape-env state).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from compile_lens import _events
from compile_lens._torch.patching import Patch, patched

TARGET = "torch:_TorchCompileInductorWrapper.__call__"


def predictor() -> Any | None:
    """``compile_fx.autograd_cache_key`` if this torch has it (2.12+), else ``None``."""
    module = importlib.import_module("torch._inductor.compile_fx")
    return getattr(module, "autograd_cache_key", None)


def _predict(wrapper: Any, gm: Any, inputs: Any, config_patches: Any) -> dict[str, Any]:
    import torch._inductor.config

    fn = predictor()
    if fn is None:
        raise RuntimeError(NO_PREDICTOR_NOTE)
    start = time.perf_counter()
    patches = {**getattr(wrapper, "config", {}), **(config_patches or {})}
    with torch._inductor.config.patch(patches):
        result = fn(gm, list(inputs), ignore_shape_env=False)
    key, lines = (result if isinstance(result, tuple) else (result, []))
    return {"key": str(key), "lines": [str(x) for x in lines],
            "seconds": time.perf_counter() - start}


NO_PREDICTOR_NOTE = ("plain torch.compile keys are not predicted: this torch has no "
                     "compile_fx.autograd_cache_key (torch ≥ 2.12)")


def install(on_error: Callable[[str, Exception], None]) -> Callable[[], None]:
    """Wrap the Inductor backend wrapper; ``on_error`` records a failed prediction (fail open).

    ``compile_fx`` is imported at the first compile, not here: the compile imports it anyway,
    and the tracer should not be billed for it.
    """

    def make(original: Any) -> Any:
        def __call__(self: Any, model_: Any, inputs_: Any, **kwargs: Any) -> Any:
            try:
                if predictor() is None:
                    _events.emit("note", {"message": NO_PREDICTOR_NOTE})
                else:
                    body = _predict(self, model_, inputs_, kwargs.get("config_patches"))
                    _events.emit("plain_key", body)
            except Exception as exc:  # the prediction is ours; the user's compile goes on
                on_error("plain_key", exc)
            return original(self, model_, inputs_, **kwargs)

        return __call__

    context = patched(Patch(TARGET, make, why="predict plain torch.compile keys (cross_check)"))
    context.__enter__()

    def undo() -> None:
        context.__exit__(None, None, None)

    return undo
