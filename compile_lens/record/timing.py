"""Pair the chromium ``B``/``E`` events of the trace stream into timed intervals.

``dynamo_timed`` wraps every Inductor pass (``pass.<subsystem>.<name>``) and compile phase
(``GraphLowering.run``, ``Scheduler.codegen`` …) and reports begin/end as ``chromium_event``s
(docs/design/torch-hooks.md §4); this module turns them into ``(name, start_s, seconds)`` rows.
"""

from __future__ import annotations

PHASES = {
    "_recursive_pre_grad_passes": "pre_grad",
    "_recursive_joint_graph_passes": "joint_graph",
    "_recursive_post_grad_passes": "post_grad",
    "GraphLowering.run": "lowering",
    "Scheduler.__init__": "scheduling",
    "Scheduler.fused_nodes": "scheduling",
    "Scheduler.codegen": "codegen",
    "PythonWrapperCodegen.generate": "codegen",
    "GraphLowering.codegen": "codegen",
    "async_compile.wait": "kernel_compile",
    "compile_file": "kernel_compile",
    "aot_collect_metadata": "aot",
    "create_aot_dispatcher_function": "aot",
    "additional_fake_tensor_prop": "aot",
}


def classify(name: str) -> str | None:
    """The phase a chromium event belongs to, or ``None`` for events that are not timings we keep."""
    if name.startswith("pass."):
        parts = name.split(".")
        return parts[1].removesuffix("_passes") if len(parts) > 2 else "pass"
    return PHASES.get(name)


class Pairer:
    """Match ``B`` with ``E`` by name (per thread); report completed intervals."""

    def __init__(self) -> None:
        self._open: dict[tuple[int, str], list[float]] = {}

    def feed(self, thread: int, payload: dict[str, object]) -> tuple[str, float, float] | None:
        """Returns ``(name, start_s, seconds)`` when ``payload`` closes an interval."""
        name = str(payload.get("name", ""))
        phase = payload.get("ph")
        ts = payload.get("ts")
        if not isinstance(ts, int | float):
            return None
        key = (thread, name)
        if phase == "B":
            self._open.setdefault(key, []).append(float(ts) / 1e6)
        elif phase == "E" and self._open.get(key):
            start = self._open[key].pop()
            return name, start, float(ts) / 1e6 - start
        return None
