"""Collect run metadata: versions, device, and what the installed torch can do (feature probes)."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any

from compile_lens.instrument import device


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def features(device_facts: dict[str, str] | None = None) -> dict[str, bool]:
    """What this torch offers, found by probing attributes (never by version strings).

    ``cuda_available`` comes from ``device.facts()`` (NVML when CUDA is not initialized), never
    from ``torch.cuda.is_available()``, which initializes the driver in this process.
    """
    import importlib as il

    import torch

    out: dict[str, bool] = {}
    try:
        sc = il.import_module("torch._inductor.standalone_compile")
        out["standalone_key_api"] = hasattr(sc, "autograd_cache_key")
    except ImportError:
        out["standalone_key_api"] = False
    out["standalone_compile"] = hasattr(torch._inductor, "standalone_compile")
    graphs = getattr(torch.cuda, "graphs", None)
    out["cuda_graph_hooks"] = hasattr(graphs, "register_graph_capture_start_hook")
    facts = device_facts if device_facts is not None else device.facts()
    out["cuda_available"] = facts.get("device") == "cuda" and facts.get("source") != "none"
    return out


def collect(options: dict[str, Any]) -> dict[str, Any]:
    """RunInfo fields (everything but timings)."""
    import torch

    from compile_lens._version import __version__

    facts = device.facts()
    triton = _version("triton") or _version("pytorch-triton")
    vllm = sys.modules.get("vllm")
    return {
        "torch_version": str(torch.__version__),
        "triton_version": triton,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": facts.get("gpu") or facts.get("device", "cpu"),
        "cuda_version": torch.version.cuda,
        "vllm_version": getattr(vllm, "__version__", None) if vllm else None,
        "compile_lens_version": __version__,
        "features": features(facts),
        "extra": {"device_facts": facts},
        "options": options,
    }
