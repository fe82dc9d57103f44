"""Views: the ipywidgets explorer of a trace (``Trace.explorer()``).

Stage 4: ipywidgets and plotly are imported inside functions only. One ``Tab`` per section of
``views.registry`` (Overview, Compiles, Graph, Pieces & keys, Passes, Lowering, CUDA graphs,
Factors), built lazily: only the Overview is rendered up front, each other tab the first time it
is selected, so a big trace opens fast. The HTML inside each tab is the report's (the same
registry entry), so the explorer and the report agree; like the report it shows a redacted copy
of the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compile_lens.errors import missing_dependency
from compile_lens.model import TraceRecord
from compile_lens.views._assets import read_asset
from compile_lens.views._html import hint
from compile_lens.views.registry import explorer_sections

TABS = [s.title for s in explorer_sections()]
"""The tab titles, in the registry's order (``explorer`` reads the registry when called)."""
MAX_ROWS = 300


def _widgets() -> Any:
    try:
        import ipywidgets
    except ImportError:
        err = missing_dependency("ipywidgets", "the trace explorer")
        raise err from None
    return ipywidgets


def styled(body: str) -> str:
    """Wrap report HTML so it gets the report's CSS inside a widget."""
    return f'<div class="cl-page"><style>{read_asset("report.css")}</style>{body}</div>'


def html(body: str) -> Any:
    """An ``ipywidgets.HTML`` holding report-styled HTML."""
    return _widgets().HTML(value=styled(body))


def figure_bundle(spec: dict[str, Any]) -> dict[str, Any]:
    """A figure spec as a display-data output (plotly's own mime type; offline in JupyterLab)."""
    import json

    from compile_lens.views.plots import CONFIG, spec_json

    body = json.loads(spec_json(spec))
    body["config"] = dict(CONFIG)
    title = spec.get("layout", {}).get("title", {}).get("text") or "figure"
    return {
        "output_type": "display_data",
        "metadata": {},
        "data": {
            "application/vnd.plotly.v1+json": body,
            "text/plain": f"<plotly figure: {title}> (open t.to_html() if it does not show)",
        },
    }


def plot_output(*figures: dict[str, Any]) -> Any:
    """An ``Output`` widget holding figure specs, without printing anything outside Jupyter."""
    out = _widgets().Output()
    out.outputs = tuple(figure_bundle(f) for f in figures)
    return out


def _tab(section: Any, record: TraceRecord) -> Any:
    """One explorer tab: the section's own widget, or its figures and HTML in a box."""
    from compile_lens.views.registry import View

    if not section.present(record) and section.absent:
        return html(hint(section.absent))
    if section.widget is not None:
        return section.widget(record)
    body = html(section.html(record, View("explorer")))
    specs = [spec for spec, _ in section.figures(record)]
    if not specs:
        return body
    figs = plot_output(*specs)
    return _widgets().VBox([body, figs] if section.figures_last else [figs, body])


def _builders() -> dict[str, Callable[[TraceRecord], Any]]:
    """Tab title → builder, one per ``views.registry`` section the explorer shows."""
    return {s.title: (lambda record, s=s: _tab(s, record)) for s in explorer_sections()}


def explorer(record: Any, *, lazy: bool = True) -> Any:
    """The explorer widget of a trace.

    Args:
        record: a ``TraceRecord`` (or a ``Trace``).
        lazy: build each tab on first selection (``False`` builds all now, for tests).

    Returns:
        An ``ipywidgets.Tab`` whose tabs mirror the report's sections.
    """
    from compile_lens.views._redact import redacted as redact_record

    w = _widgets()
    record = redact_record(getattr(record, "record", record))  # a notebook is shared with outputs
    builders = _builders()
    titles = list(builders)
    placeholders = [w.HTML(value=styled(hint("loading…"))) for _ in titles]
    tab = w.Tab(children=placeholders)
    tab.titles = tuple(titles)
    built: set[int] = set()

    def build(index: int) -> None:
        if index in built or index is None:
            return
        built.add(index)
        children = list(tab.children)
        try:
            children[index] = builders[titles[index]](record)
        except Exception as exc:  # tolerant in notebooks: show the error in the tab
            children[index] = html(hint(f"compile_lens: this tab failed: {exc!r}"))
        tab.children = children

    tab.observe(lambda change: build(change["new"]), names="selected_index")
    for i in [0] if lazy else range(len(titles)):
        build(i)
    tab.selected_index = 0
    return tab
