"""Views: the ipywidgets explorer of a trace (``Trace.explorer()``).

Stage 4: ipywidgets and plotly are imported inside functions only. One ``Tab`` per view (Overview,
Graph, Pieces & keys, Passes, Lowering, CUDA graphs, Factors), built lazily: only the Overview is
rendered up front, each other tab the first time it is selected, so a big trace opens fast. The
HTML inside each tab is the report's (``views.sections``), so the explorer and the report agree;
like the report it shows a redacted copy of the trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compile_lens.errors import missing_dependency
from compile_lens.model import TraceRecord
from compile_lens.views import sections
from compile_lens.views._assets import read_asset
from compile_lens.views._html import hint

TABS = ["Overview", "Compiles", "Graph", "Pieces & keys", "Passes", "Lowering", "CUDA graphs",
        "Factors"]
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


def _overview(record: TraceRecord) -> Any:
    from compile_lens.views import plots

    w = _widgets()
    # The why block's causes link to the ledger, which is in the Compiles tab, not here.
    return w.VBox([html(sections.overview(record, why_links=False)),
                   plot_output(plots.timeline_figure(record))])


def _compiles(record: TraceRecord) -> Any:
    from compile_lens.views.why_view import ledger_section

    return html(ledger_section(record))


def _passes(record: TraceRecord) -> Any:
    from compile_lens.views import plots

    if not record.passes:
        return html(hint("no pass timings recorded"))
    figs = plot_output(plots.passes_bar_figure(record), plots.passes_heatmap_figure(record))
    return _widgets().VBox([figs, html(sections.pass_table(record))])


def _lowering(record: TraceRecord) -> Any:
    from compile_lens.views import plots

    if not record.lowerings:
        return html(hint("no lowering choices recorded"))
    figs = plot_output(plots.lowering_figure(record))
    return _widgets().VBox([figs, html(sections.lowering_table(record))])


def _captures(record: TraceRecord) -> Any:
    from compile_lens.views import plots

    if not record.captures:
        return html(hint("no CUDA-graph captures in this trace"))
    figs = plot_output(plots.captures_figure(record, "seconds"),
                       plots.captures_figure(record, "memory_bytes"))
    return _widgets().VBox([figs, html(sections.capture_table(record))])


def _builders() -> dict[str, Callable[[TraceRecord], Any]]:
    from compile_lens.views import explorer_tabs

    return {
        "Overview": _overview,
        "Compiles": _compiles,
        "Graph": explorer_tabs.graph_tab,
        "Pieces & keys": explorer_tabs.pieces_tab,
        "Passes": _passes,
        "Lowering": _lowering,
        "CUDA graphs": _captures,
        "Factors": explorer_tabs.factors_tab,
    }


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
    placeholders = [w.HTML(value=styled(hint("loading…"))) for _ in TABS]
    tab = w.Tab(children=placeholders)
    tab.titles = tuple(TABS)
    built: set[int] = set()

    def build(index: int) -> None:
        if index in built or index is None:
            return
        built.add(index)
        children = list(tab.children)
        try:
            children[index] = builders[TABS[index]](record)
        except Exception as exc:  # tolerant in notebooks: show the error in the tab
            children[index] = html(hint(f"compile_lens: this tab failed: {exc!r}"))
        tab.children = children

    tab.observe(lambda change: build(change["new"]), names="selected_index")
    for i in [0] if lazy else range(len(TABS)):
        build(i)
    tab.selected_index = 0
    return tab
