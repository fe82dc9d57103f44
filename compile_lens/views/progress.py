"""Views: a live progress line while a long compile runs inside ``trace()`` in a notebook.

Stage 4. The recorder calls ``make_progress()`` when a trace starts; outside a Jupyter kernel it
returns ``None`` and nothing is ever printed. Inside one, ``NotebookProgress`` shows one output
line (pieces done / total, current piece, elapsed) and updates it in place through a display
handle, throttled so a fast compile does not flood the front end.
"""

from __future__ import annotations

import html
import time
from typing import Any

MIN_INTERVAL_S = 0.2


def in_notebook_kernel() -> bool:
    """True inside a running Jupyter kernel (not plain IPython, not a script)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def progress_text(done: int, total: int, current: str, elapsed_s: float) -> str:
    """``compile_lens: 3/12 pieces · submod_4 [8] · 12.3 s`` (total unknown when ``<= 0``)."""
    count = f"{done}/{total}" if total > 0 else f"{done}"
    tail = f" · {current}" if current else ""
    return f"compile_lens: {count} pieces{tail} · {elapsed_s:.1f} s"


def progress_html(done: int, total: int, current: str, elapsed_s: float) -> str:
    """The same line with a small bar (escaped; inline styles only)."""
    frac = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
    text = html.escape(progress_text(done, total, current, elapsed_s))
    return (
        '<div style="font:12px/1.4 ui-monospace,monospace;display:flex;gap:8px;'
        'align-items:center"><div style="width:160px;height:8px;border:1px solid #8c959f;'
        f'border-radius:4px;overflow:hidden"><div style="width:{frac * 100:.1f}%;height:100%;'
        f'background:#1a7f37"></div></div><span>{text}</span></div>'
    )


class NotebookProgress:
    """One live line in the current cell's output.

    Args:
        display_fn: ``IPython.display.display`` (injected for tests).
        clock: monotonic clock used for throttling (injected for tests).
    """

    def __init__(self, display_fn: Any = None, clock: Any = time.monotonic) -> None:
        if display_fn is None:
            from IPython.display import display as display_fn
        self._display = display_fn
        self._clock = clock
        self._handle: Any = None
        self._last = -1.0
        self._state: tuple[int, int, str, float] | None = None
        self.closed = False

    def _bundle(self, done: int, total: int, current: str, elapsed_s: float) -> dict[str, str]:
        return {"text/plain": progress_text(done, total, current, elapsed_s),
                "text/html": progress_html(done, total, current, elapsed_s)}

    def update(self, done: int, total: int, current: str, elapsed_s: float) -> None:
        """Show the new state (skipped if the last update was under ``MIN_INTERVAL_S`` ago)."""
        if self.closed:
            return
        self._state = (done, total, current, elapsed_s)
        now = self._clock()
        finished = total > 0 and done >= total
        if self._handle is not None and not finished and now - self._last < MIN_INTERVAL_S:
            return
        self._last = now
        bundle = self._bundle(done, total, current, elapsed_s)
        if self._handle is None:
            self._handle = self._display(bundle, raw=True, display_id=True)
        else:
            self._handle.update(bundle, raw=True)

    def close(self) -> None:
        """Show the final state once more (no throttling) and stop updating."""
        if self.closed:
            return
        if self._state is not None and self._handle is not None:
            done, total, _, elapsed = self._state
            self._handle.update(self._bundle(done, total, "done", elapsed), raw=True)
        self.closed = True


def make_progress() -> NotebookProgress | None:
    """A progress line inside a Jupyter kernel; ``None`` anywhere else (nothing printed)."""
    if not in_notebook_kernel():
        return None
    try:
        return NotebookProgress()
    except ImportError:
        return None
