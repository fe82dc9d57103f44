"""The user-facing ``Trace``: a recorded ``TraceRecord`` plus tables, summary, save and display.

Sits above the pipeline (model → analysis → views): it only composes them. ``compile_lens.trace()``
returns one (filled when the block exits); ``compile_lens.load(path)`` rebuilds one from a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from compile_lens.model import TraceRecord, trace_to_json

if TYPE_CHECKING:
    import pandas as pd

    from compile_lens.analysis.cross_check import CrossCheck
    from compile_lens.analysis.summary import Summary


class Trace:
    """A recorded compilation. Empty while its ``trace()`` block runs; complete after it exits."""

    def __init__(self, record: TraceRecord | None = None) -> None:
        self._record = record or TraceRecord()
        self.complete = record is not None

    # -- data -------------------------------------------------------------------------------
    @property
    def record(self) -> TraceRecord:
        """The plain, JSON-serialisable record behind every view."""
        return self._record

    def _set_record(self, record: TraceRecord) -> None:
        self._record = record
        self.complete = True

    @property
    def graphs(self) -> pd.DataFrame:
        """One row per Dynamo graph (compile id, backend, nodes, pieces)."""
        from compile_lens.views import tables

        return tables.graphs_frame(self._record)

    @property
    def nodes(self) -> pd.DataFrame:
        """One row per FX node of every Dynamo graph (op, target, shape, dtype, dynamic dims)."""
        from compile_lens.views import tables

        return tables.nodes_frame(self._record)

    @property
    def pieces(self) -> pd.DataFrame:
        """One row per piece × compile size: keys, cross-check, outcome, seconds."""
        from compile_lens.views import tables

        return tables.pieces_frame(self._record)

    @property
    def passes(self) -> pd.DataFrame:
        """One row per Inductor pass or phase per piece compile, with seconds."""
        from compile_lens.views import tables

        return tables.passes_frame(self._record)

    @property
    def lowerings(self) -> pd.DataFrame:
        """One row per kernel, extern call or fallback per piece compile."""
        from compile_lens.views import tables

        return tables.lowerings_frame(self._record)

    @property
    def captures(self) -> pd.DataFrame:
        """One row per CUDA-graph capture (piece × size): seconds, memory, replays."""
        from compile_lens.views import tables

        return tables.captures_frame(self._record)

    @property
    def compiles(self) -> pd.DataFrame:
        """The compile ledger: every Dynamo frame compile and piece compile in time order, with
        its cause (recompile and the failed guard, graph break, cache hit/miss/bypass …).

        The piece compiles alone, with their keys, are ``pieces``; the records behind both are
        ``record.frame_compiles``, ``record.compiles`` and ``record.cache_decisions``.
        """
        from compile_lens.views.why_view import compiles_frame

        return compiles_frame(self._record)

    def summary(self) -> Summary:
        """The headline numbers (graphs, pieces, outcomes, keys, seconds, tracer overhead)."""
        from compile_lens.analysis.summary import summarize

        return summarize(self._record)

    @property
    def ranks(self) -> list[int]:
        """The ranks of a multi-rank trace (a directory of per-rank TORCH_TRACE logs); ``[]`` else."""
        from compile_lens.analysis.ranks import ranks

        return ranks(self._record)

    def rank(self, rank: int) -> Trace:
        """The part of the trace one rank recorded (graph ids as in a single-rank trace), e.g. to
        ``compile_lens.diff(t.rank(0), t.rank(1))``."""
        from compile_lens.analysis.ranks import rank_record

        return Trace(rank_record(self._record, rank))

    def divergence(self) -> Any:
        """Ranks grouped by compile ids, graphs, cache hit/miss sequence and piece keys; an aspect
        with more than one group is a divergence (``.diverged``, ``str()``)."""
        from compile_lens.analysis.ranks import divergence

        return divergence(self._record)

    def cross_check(self) -> CrossCheck:
        """Legacy vs standalone key per piece compile, with the differing factor lines."""
        from compile_lens.analysis.cross_check import cross_check

        return cross_check(self._record)

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the trace as JSON (deterministic); returns the path written."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(trace_to_json(self._record), encoding="utf-8")
        return p

    def to_json(self) -> str:
        """The trace as a JSON string (what ``save`` writes)."""
        return trace_to_json(self._record)

    def to_html(self, path: str | Path | None = None, *, title: str | None = None,
                redact: bool = True, use_dot: bool = True) -> str:
        """The one-file HTML report (offline, deterministic); also written to ``path`` if given.

        Args:
            path: where to write it (nothing is written when ``None``).
            title: the page title (default ``compile_lens report``).
            redact: replace secret-looking values by keyed fingerprints (``False`` shows them).
            use_dot: draw graphs with Graphviz when installed (``False``: the plain layout).
        """
        from compile_lens.views.report import write_html

        return write_html(self._record, path, title=title, redact=redact, use_dot=use_dot)

    def explorer(self) -> Any:
        """An ipywidgets explorer (tabs: overview, graph, pieces & keys, passes, lowering …)."""
        from compile_lens.views.widgets import explorer

        return explorer(self._record)

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "complete" if self.complete else "recording"
        r = self._record
        return f"<compile_lens.Trace {state}: {len(r.graphs)} graphs, {len(r.compiles)} compiles>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        from compile_lens.views import display

        return display.trace_mimebundle(self, include=include, exclude=exclude)


def load(path: str | Path) -> Trace:
    """Open any run: a trace saved with ``Trace.save``, a TORCH_TRACE log (plain or gzip) or a
    directory of them (one per rank or process), told apart by content.

    A log with corrupt, cut or unreadable records still opens: what was skipped is in
    ``trace.record.run.notes`` (file and line). A path that is none of these, or a directory
    without a log, raises ``TraceFormatError``.
    """
    from compile_lens.record.open import read_any

    return Trace(read_any(path))
