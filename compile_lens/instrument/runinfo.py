"""Collect run metadata: versions, device, and what the installed torch can do (feature probes)."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import Any


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def features() -> dict[str, bool]:
    """What this torch offers, found by probing attributes (never by version strings)."""
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
    out["cuda_available"] = bool(torch.cuda.is_available())
    return out


def collect(options: dict[str, Any]) -> dict[str, Any]:
    """RunInfo fields (everything but timings)."""
    import torch

    from compile_lens._version import __version__

    device = "cpu"
    if torch.cuda.is_available():
        try:
            device = torch.cuda.get_device_name()
        except Exception:
            device = "cuda"
    triton = _version("triton") or _version("pytorch-triton")
    vllm = sys.modules.get("vllm")
    return {
        "torch_version": str(torch.__version__),
        "triton_version": triton,
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "cuda_version": torch.version.cuda,
        "vllm_version": getattr(vllm, "__version__", None) if vllm else None,
        "compile_lens_version": __version__,
        "features": features(),
        "options": options,
    }
