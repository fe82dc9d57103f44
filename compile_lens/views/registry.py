"""Views: the one list of a trace's sections, which the report, the notebook and the explorer loop
over (like treescope's handler list).

Stage 4. A ``Section`` says what its block is called, when the trace has something for it, its
HTML, its figures and, for the explorer, an interactive widget where plain HTML is not enough. A
``View`` says who is asking: the one-file report (``views.report``), the notebook display
(``views.display``: compact, no scripts, no figures) or the explorer (``views.widgets``). A new
section is one entry in ``SECTIONS``; all three outputs pick it up in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from compile_lens.model import TraceRecord
from compile_lens.views._html import hint
from compile_lens.views._limits import REPORT, Limits

Spec = dict[str, Any]


@dataclass(frozen=True)
class View:
    """Who renders the sections, and with which caps."""

    kind: Literal["report", "notebook", "explorer"]
    limits: Limits = REPORT
    use_dot: bool = True
    redacted: bool = True
    """Whether the record was redacted (the factors table says so)."""
    max_rows: int = 60
    """Rows of a DataFrame shown in the notebook display."""


def _always(_: TraceRecord) -> bool:
    return True


def _no_figures(_: TraceRecord) -> list[tuple[Spec, str]]:
    return []


@dataclass(frozen=True)
class Section:
    """One block of every trace output."""

    title: str
    html: Callable[[TraceRecord, View], str]
    """The block's HTML (escaped, deterministic) for a record that has something to show."""
    present: Callable[[TraceRecord], bool] = _always
    """Whether the record has something to show."""
    absent: str = ""
    """What the report and the explorer say when it has not (the notebook leaves it out)."""
    figures: Callable[[TraceRecord], list[tuple[Spec, str]]] = _no_figures
    """Plotly specs with their DOM names (the report and the explorer; never the notebook)."""
    figures_last: bool = False
    """Figures after the HTML instead of before it."""
    widget: Callable[[TraceRecord], Any] | None = None
    """The explorer's interactive form; ``None``: the figures and the HTML in a box."""
    place: Callable[[TraceRecord], int] | None = None
    """Where it goes when present (an index into the list so far); ``None``: in order."""
    in_explorer: bool = True


# -- the bodies --------------------------------------------------------------------------------
def _overview(record: TraceRecord, view: View) -> str:
    from compile_lens.views import sections

    if view.kind == "explorer":  # the why block's causes link to the ledger, in another tab
        return sections.overview(record, why_links=False)
    body = sections.overview(record, view.limits)
    if view.kind == "notebook":
        body += hint("t.explorer() opens the interactive explorer (plots, piece browser); "
                     "t.to_html('report.html') writes the one-file report.")
    return body


def _compiles(record: TraceRecord, view: View) -> str:
    from compile_lens.views.why_view import ledger_section

    return ledger_section(record, view.limits)


def _graph(record: TraceRecord, view: View) -> str:
    from compile_lens.views.report import graph_section

    if view.kind == "notebook":  # no piece panels: they need the page's script
        return graph_section(record, pieces=False, limits=view.limits)
    return graph_section(record, use_dot=view.use_dot, limits=view.limits)


def _head(df: Any, what: str, max_rows: int) -> str:
    from compile_lens.views._html import frame_table

    note = "" if len(df) <= max_rows else hint(
        f"first {max_rows} of {len(df)} rows; all of them: {what}")
    return note + frame_table(df.head(max_rows), scroll=True)


def _pieces(record: TraceRecord, view: View) -> str:
    from compile_lens.views import sections, tables

    if view.kind == "notebook":
        return _head(tables.pieces_frame(record), "t.pieces", view.max_rows)
    return sections.pieces_and_keys(record, view.limits)


def _passes(record: TraceRecord, view: View) -> str:
    from compile_lens.views import sections

    return sections.pass_table(record)


def _lowering(record: TraceRecord, view: View) -> str:
    from compile_lens.views import sections, tables

    if view.kind == "notebook":
        return _head(tables.lowerings_frame(record), "t.lowerings", view.max_rows)
    return sections.lowering_table(record, view.limits)


def _has_cudagraphs(record: TraceRecord) -> bool:
    from compile_lens.views.cudagraphs_view import has_cudagraphs

    return has_cudagraphs(record)


def _cudagraphs(record: TraceRecord, view: View) -> str:
    from compile_lens.views.cudagraphs_view import section

    return section(record, view.limits, notebook=view.kind == "notebook")


def _has_factors(record: TraceRecord) -> bool:
    from compile_lens.views import sections

    return bool(sections.factor_rows(record))


def _factors(record: TraceRecord, view: View) -> str:
    from compile_lens.views import sections
    from compile_lens.views._html import table
    from compile_lens.views._limits import cut_rows

    if view.kind != "notebook":
        return sections.factors(record, view.limits, redacted=view.redacted)
    head, cut = cut_rows(sections.factor_rows(record), view.max_rows, "factors (secrets redacted)")
    return (hint(cut) if cut else "") + table(["layer", "name", "value"], head, scroll=True)


def _has_ranks(record: TraceRecord) -> bool:
    from compile_lens.analysis.ranks import ranks

    return len(ranks(record)) >= 2


def _ranks(record: TraceRecord, view: View) -> str:
    from compile_lens.views.ranks_view import rank_section

    return rank_section(record)[0]


def _ranks_place(record: TraceRecord) -> int:
    from compile_lens.analysis.ranks import divergence

    return 0 if divergence(record).diverged else 1  # divergence first; else after the overview


# -- the figures -------------------------------------------------------------------------------
def _timeline(record: TraceRecord) -> list[tuple[Spec, str]]:
    from compile_lens.views import plots

    return [(plots.timeline_figure(record), "tl")]


def _pass_figures(record: TraceRecord) -> list[tuple[Spec, str]]:
    from compile_lens.views import plots

    return [(plots.passes_bar_figure(record), "pb"), (plots.passes_heatmap_figure(record), "ph")]


def _lowering_figures(record: TraceRecord) -> list[tuple[Spec, str]]:
    from compile_lens.views import plots

    return [(plots.lowering_figure(record), "lw")]


def _capture_figures(record: TraceRecord) -> list[tuple[Spec, str]]:
    """Capture cost per size and mode, where the memory went, dispatch (when anything ran),
    seconds per piece."""
    from compile_lens.analysis.cudagraphs import cudagraphs
    from compile_lens.views import cudagraph_plots, plots

    data = cudagraphs(record)
    out = [(cudagraph_plots.capture_figure(record, data), "cg"),
           (cudagraph_plots.memory_figure(record, data), "cm")] if data.rows else []
    if data.replays or data.fallbacks:
        out.append((cudagraph_plots.dispatch_figure(record, data), "cd"))
    if record.captures:
        out.append((plots.captures_figure(record, "seconds"), "cs"))
    return out


# -- the explorer's interactive tabs -----------------------------------------------------------
def _graph_tab(record: TraceRecord) -> Any:
    from compile_lens.views.explorer_tabs import graph_tab

    return graph_tab(record)


def _pieces_tab(record: TraceRecord) -> Any:
    from compile_lens.views.explorer_tabs import pieces_tab

    return pieces_tab(record)


def _factors_tab(record: TraceRecord) -> Any:
    from compile_lens.views.explorer_tabs import factors_tab

    return factors_tab(record)


SECTIONS: tuple[Section, ...] = (
    Section("Overview", _overview, figures=_timeline, figures_last=True),
    Section("Compiles", _compiles),
    Section("Graph", _graph, widget=_graph_tab),
    Section("Pieces & keys", _pieces, widget=_pieces_tab),
    Section("Passes", _passes, present=lambda r: bool(r.passes),
            absent="no pass timings recorded", figures=_pass_figures),
    Section("Lowering", _lowering, present=lambda r: bool(r.lowerings),
            absent="no lowering choices recorded", figures=_lowering_figures),
    Section("CUDA graphs", _cudagraphs, present=_has_cudagraphs,
            absent="no CUDA-graph captures in this trace", figures=_capture_figures,
            figures_last=True),
    Section("Factors", _factors, present=_has_factors, absent="no factor dump in this trace",
            widget=_factors_tab),
    Section("Ranks", _ranks, present=_has_ranks, place=_ranks_place, in_explorer=False),
)
"""Every section, in the order the outputs show them."""


def explorer_sections() -> list[Section]:
    """The sections the explorer has a tab for, in order."""
    return [s for s in SECTIONS if s.in_explorer]


def render_sections(record: TraceRecord, view: View,
                    figure: Callable[[Spec, str], str] | None = None) -> list[tuple[str, str]]:
    """``(title, html)`` per section for the report or the notebook (``view.kind``).

    Args:
        record: the trace, already redacted when ``view.redacted``.
        view: who asks; the notebook leaves absent sections and all figures out.
        figure: renders one figure spec as HTML (the report's; ``None``: no figures).
    """
    out: list[tuple[str, str]] = []
    placed: list[tuple[int, tuple[str, str]]] = []
    for s in SECTIONS:
        if not s.present(record):
            if view.kind == "notebook" or not s.absent:
                continue
            out.append((s.title, hint(s.absent)))
            continue
        body = s.html(record, view)
        if figure is not None and view.kind != "notebook":
            figs = "".join(figure(spec, name) for spec, name in s.figures(record))
            body = body + figs if s.figures_last else figs + body
        if s.place is not None:
            placed.append((s.place(record), (s.title, body)))
        else:
            out.append((s.title, body))
    for index, item in placed:
        out.insert(index, item)
    return out
