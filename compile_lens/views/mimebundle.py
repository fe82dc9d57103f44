"""Views: the one place a notebook display bundle is built (``_repr_mimebundle_``).

Stage 4. Every displayable object (``Trace``, ``Diff``) hands this module two renderers, text and
HTML, and gets back the bundle IPython asked for: a MIME type left out by ``include``, or named in
``exclude``, is not rendered at all (as rich's ``JupyterMixin`` does), so a text-only front end
never pays for the HTML. Results of ``analysis/`` never render themselves; the public wrappers in
``api.py`` call here.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Container
from typing import Any

TEXT = "text/plain"
HTML = "text/html"


def wanted(mime: str, include: Container[str] | None, exclude: Container[str] | None) -> bool:
    """Whether IPython asked for ``mime`` (``include`` lists the only ones; ``exclude`` drops)."""
    if include is not None and mime not in include:
        return False
    return not (exclude is not None and mime in exclude)


def mimebundle(text: Callable[[], str], html_: Callable[[], str], include: Any = None,
               exclude: Any = None, *, tolerant: bool = False) -> dict[str, str]:
    """The ``{mime: data}`` bundle of one object, rendering only the forms asked for.

    Args:
        text: renders ``text/plain``.
        html_: renders ``text/html``.
        include: the MIME types IPython wants (``None``: all).
        exclude: the MIME types IPython does not want.
        tolerant: an HTML renderer that raises warns and falls back to the text in ``<pre>``
            (a notebook keeps working on a trace a view cannot draw).
    """
    bundle: dict[str, str] = {}
    if wanted(TEXT, include, exclude):
        bundle[TEXT] = text()
    if wanted(HTML, include, exclude):
        if not tolerant:
            bundle[HTML] = html_()
            return bundle
        try:
            bundle[HTML] = html_()
        except Exception as exc:  # tolerant in notebooks: fall back to text, say why once
            warnings.warn(f"compile_lens: HTML display failed ({exc!r}); showing text",
                          stacklevel=3)
            bundle[HTML] = f"<pre>{html.escape(bundle.get(TEXT) or text())}</pre>"
    return bundle


def text_mimebundle(text: str, include: Any = None, exclude: Any = None) -> dict[str, str]:
    """The bundle of an object whose only form is text: ``text/plain``, and the same escaped in
    ``<pre>`` as ``text/html`` (front ends that prefer HTML keep the monospace layout)."""
    return mimebundle(lambda: text, lambda: f"<pre>{html.escape(text)}</pre>", include, exclude)
