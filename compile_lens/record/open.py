"""Open any run: a saved compile_lens trace, a TORCH_TRACE log (plain or gzip), or a directory of
logs (one per process or rank). The format is told by content, never by the file name.
"""

from __future__ import annotations

from pathlib import Path

from compile_lens.errors import TraceFormatError
from compile_lens.model import TraceRecord, read_trace
from compile_lens.record import importer, torch_trace

EXPECTED = ("a compile_lens trace (JSON, from Trace.save), a TORCH_TRACE log (glog-prefixed JSON "
            "lines, plain or gzip) or a directory of TORCH_TRACE logs")


def kind(path: str | Path) -> str:
    """``"trace"``, ``"torch_trace"`` or ``"torch_trace_dir"``; ``TraceFormatError`` otherwise."""
    p = Path(path)
    if p.is_dir():
        return "torch_trace_dir"
    if not p.exists():
        msg = f"{p}: no such file or directory (expected {EXPECTED})"
        raise TraceFormatError(msg)
    if not p.is_file():  # a device (/dev/zero), FIFO or socket: refused without reading
        msg = f"{p}: not a regular file (expected {EXPECTED})"
        raise TraceFormatError(msg)
    if torch_trace.looks_like_log(p):
        return "torch_trace"
    try:
        with torch_trace.open_log(p) as fh:
            head = fh.read(4096).lstrip()
            damaged = fh.damaged
    except OSError as exc:
        msg = f"{p}: cannot be read ({exc}); expected {EXPECTED}"
        raise TraceFormatError(msg) from exc
    if head.startswith(b"{"):
        return "trace"
    what = (f"a gzip file whose start cannot be read ({damaged})" if damaged and not head
            else "an empty file" if not head else "neither JSON nor structured-trace lines")
    msg = f"{p}: {what}; expected {EXPECTED}"
    raise TraceFormatError(msg)


def read_any(path: str | Path) -> TraceRecord:
    """The ``TraceRecord`` of any supported path (see ``kind``)."""
    if kind(path) == "trace":
        return read_trace(path)
    return importer.load_torch_trace(path)
