"""Views: the notebook display protocol for ``Trace`` (text fallback + HTML).

Stage 4. The rich explorer and report live in their own modules; this one only builds the
mime bundle, honouring ``include``/``exclude`` as IPython asks.
"""

from __future__ import annotations

import html
from typing import Any


def _wanted(mime: str, include: Any, exclude: Any) -> bool:
    if include is not None and mime not in include:
        return False
    return not (exclude is not None and mime in exclude)


def trace_mimebundle(trace: Any, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """``text/plain`` (the summary) and a small ``text/html`` headline for a ``Trace``."""
    text = f"{trace!r}\n{trace.summary()}" if trace.complete else repr(trace)
    bundle: dict[str, str] = {}
    if _wanted("text/plain", include, exclude):
        bundle["text/plain"] = text
    if _wanted("text/html", include, exclude):
        bundle["text/html"] = f"<pre>{html.escape(text)}</pre>"
    return bundle
