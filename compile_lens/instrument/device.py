"""Facts about the process's accelerator, read without ever initializing CUDA.

Stage 1 (instrument). Initializing CUDA in the user's process is an observer effect: vLLM checks
``torch.cuda.is_initialized()`` before it starts its EngineCore and, when it is true, switches
from ``fork`` to ``spawn`` (slower start-up, and a script without a ``__main__`` guard crashes).
So the tracer asks torch only when CUDA is *already* initialized (the user's code or vLLM did
it), and otherwise reads NVML, the driver's management library, which creates no CUDA context
and is what vLLM itself queries in its parent process. ``torch.cuda.is_available()`` is not
used either: without ``PYTORCH_NVML_BASED_CUDA_CHECK`` it initializes the driver (cuInit) in the
calling process, which is not safe to fork after.

The result is a plain dict of strings; ``source`` says where the facts came from (``torch``,
``nvml`` or ``none``), so a trace says honestly when it could not tell.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

_NVML_LIBRARIES = ("libnvidia-ml.so.1", "libnvidia-ml.so")


def cuda_initialized() -> bool:
    """Whether CUDA is initialized in this process (never initializes it)."""
    import torch

    return bool(getattr(torch.version, "cuda", None)) and bool(torch.cuda.is_initialized())


def facts() -> dict[str, str]:
    """``device``, ``gpu``, ``gpu_capability``, ``cuda_driver``, ``gpu_count`` and ``source``.

    CPU builds of torch report ``device: cpu``. Never initializes CUDA.
    """
    import torch

    if not getattr(torch.version, "cuda", None):
        return {"device": "cpu", "source": "torch"}
    if torch.cuda.is_initialized():
        return _from_torch(torch)
    found = _from_nvml()
    if found is not None:
        return found
    return {"device": "cuda", "source": "none",
            "note": "CUDA is not initialized in this process and NVML is unavailable"}


def _from_torch(torch: Any) -> dict[str, str]:
    index = torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    out = {"device": "cuda", "gpu": str(torch.cuda.get_device_name(index)),
           "gpu_capability": f"{major}.{minor}", "gpu_count": str(torch.cuda.device_count()),
           "source": "torch"}
    driver = getattr(torch.cuda, "driver_version", None)
    if callable(driver):
        out["cuda_driver"] = str(driver())
    return out


def _visible_index() -> int | str:
    """The NVML index (or UUID) of CUDA device 0 under ``CUDA_VISIBLE_DEVICES``."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    if not visible:
        return 0
    return int(visible) if visible.isdigit() else visible


def _from_nvml() -> dict[str, str] | None:
    """The same facts from NVML, or ``None`` when the library is missing or fails."""
    lib = _load_nvml()
    if lib is None or lib.nvmlInit_v2() != 0:
        return None
    try:
        return _query_nvml(lib)
    finally:
        lib.nvmlShutdown()


def _load_nvml() -> Any:
    for name in _NVML_LIBRARIES:
        try:
            return ctypes.CDLL(name)
        except OSError:
            continue
    return None


def _query_nvml(lib: Any) -> dict[str, str] | None:
    count = ctypes.c_uint(0)
    if lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) != 0 or count.value == 0:
        return None
    handle = ctypes.c_void_p()
    which = _visible_index()
    if isinstance(which, int):
        status = lib.nvmlDeviceGetHandleByIndex_v2(ctypes.c_uint(which), ctypes.byref(handle))
    else:
        status = lib.nvmlDeviceGetHandleByUUID(which.encode(), ctypes.byref(handle))
    if status != 0:
        return None
    name = ctypes.create_string_buffer(96)
    if lib.nvmlDeviceGetName(handle, name, ctypes.c_uint(96)) != 0:
        return None
    out = {"device": "cuda", "gpu": name.value.decode(errors="replace"), "source": "nvml"}
    visible = [v for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    out["gpu_count"] = str(len(visible) if visible else count.value)
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    if lib.nvmlDeviceGetCudaComputeCapability(handle, ctypes.byref(major),
                                              ctypes.byref(minor)) == 0:
        out["gpu_capability"] = f"{major.value}.{minor.value}"
    driver = ctypes.c_int(0)
    if lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(driver)) == 0:
        out["cuda_driver"] = str(driver.value)
    return out
