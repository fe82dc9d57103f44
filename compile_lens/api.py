"""The user-facing objects: ``Trace`` and ``Diff``, and ``trace()``, ``load()``, ``diff()``.

Sits on top of the pipeline (model → record → analysis → views): it only composes them, and is
the one place where an analysis result meets its views. ``trace()`` wraps the recording handle of
``instrument.session`` (filled when the block exits); ``load(path)`` rebuilds a trace from a file.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from compile_lens.analysis.cross_check import CrossCheck as CrossCheckResult
from compile_lens.analysis.factor_diff import DiffResult
from compile_lens.model import TraceRecord, trace_to_json

if TYPE_CHECKING:
    import pandas as pd

    from compile_lens.analysis.summary import Summary


class _Recording(Protocol):
    """What ``Trace`` needs of a recording handle: its record, ``None`` until the block ends."""

    record: TraceRecord | None


class Trace:
    """A recorded compilation. Empty while its ``trace()`` block runs; complete after it exits."""

    def __init__(self, record: TraceRecord | None = None, *,
                 recording: _Recording | None = None) -> None:
        self._record = record
        self._recording = recording

    # -- data -------------------------------------------------------------------------------
    @property
    def record(self) -> TraceRecord:
        """The plain, JSON-serialisable record behind every view."""
        if self._record is None and self._recording is not None:
            self._record = self._recording.record  # set when the trace() block has exited
        return self._record if self._record is not None else TraceRecord()

    @property
    def complete(self) -> bool:
        """True once the record is there (a loaded trace, or a ``trace()`` block that exited)."""
        return self._record is not None or (
            self._recording is not None and self._recording.record is not None)

    @property
    def graphs(self) -> pd.DataFrame:
        """One row per Dynamo graph (compile id, backend, nodes, pieces)."""
        from compile_lens.views import tables

        return tables.graphs_frame(self.record)

    @property
    def nodes(self) -> pd.DataFrame:
        """One row per FX node of every Dynamo graph (op, target, shape, dtype, dynamic dims)."""
        from compile_lens.views import tables

        return tables.nodes_frame(self.record)

    @property
    def pieces(self) -> pd.DataFrame:
        """One row per piece × compile size: keys, cross-check, outcome, seconds."""
        from compile_lens.views import tables

        return tables.pieces_frame(self.record)

    @property
    def passes(self) -> pd.DataFrame:
        """One row per Inductor pass or phase per piece compile, with seconds."""
        from compile_lens.views import tables

        return tables.passes_frame(self.record)

    @property
    def lowerings(self) -> pd.DataFrame:
        """One row per kernel, extern call or fallback per piece compile."""
        from compile_lens.views import tables

        return tables.lowerings_frame(self.record)

    @property
    def captures(self) -> pd.DataFrame:
        """One row per CUDA-graph capture (piece × size): seconds, memory, replays."""
        from compile_lens.views import tables

        return tables.captures_frame(self.record)

    @property
    def cudagraphs(self) -> pd.DataFrame:
        """The CUDA-graphs view as a table: one row per runtime mode (FULL, PIECEWISE) and size
        with warm-up/capture seconds, pool growth, memory held after, replays, real and padded
        tokens and the padding share; then one row per reason calls ran without a graph (mode
        NONE). The same columns for a vLLM trace and an embedded-backend trace."""
        from compile_lens.views.cudagraphs_view import cudagraphs_frame

        return cudagraphs_frame(self.record)

    @property
    def compiles(self) -> pd.DataFrame:
        """The compile ledger: every Dynamo frame compile and piece compile in time order, with
        its cause (recompile and the failed guard, graph break, cache hit/miss/bypass …).

        The piece compiles alone, with their keys, are ``pieces``; the records behind both are
        ``record.frame_compiles``, ``record.compiles`` and ``record.cache_decisions``.
        """
        from compile_lens.views.why_view import compiles_frame

        return compiles_frame(self.record)

    def summary(self) -> Summary:
        """The headline numbers (graphs, pieces, outcomes, keys, seconds, tracer overhead)."""
        from compile_lens.analysis.summary import summarize

        return summarize(self.record)

    @property
    def ranks(self) -> list[int]:
        """The ranks of a multi-rank trace (a directory of per-rank TORCH_TRACE logs); ``[]`` else."""
        from compile_lens.analysis.ranks import ranks

        return ranks(self.record)

    def rank(self, rank: int) -> Trace:
        """The part of the trace one rank recorded (graph ids as in a single-rank trace), e.g. to
        ``compile_lens.diff(t.rank(0), t.rank(1))``."""
        from compile_lens.analysis.ranks import rank_record

        return Trace(rank_record(self.record, rank))

    def divergence(self) -> Any:
        """Ranks grouped by compile ids, graphs, cache hit/miss sequence and piece keys; an aspect
        with more than one group is a divergence (``.diverged``, ``str()``)."""
        from compile_lens.analysis.ranks import divergence

        return divergence(self.record)

    def cross_check(self) -> CrossCheck:
        """Legacy vs standalone key per piece compile, with the differing factor lines."""
        from compile_lens.analysis.cross_check import cross_check

        return CrossCheck.of(cross_check(self.record))

    # -- files ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the trace as JSON (deterministic); returns the path written."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(trace_to_json(self.record), encoding="utf-8")
        return p

    def to_json(self) -> str:
        """The trace as a JSON string (what ``save`` writes)."""
        return trace_to_json(self.record)

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

        return write_html(self.record, path, title=title, redact=redact, use_dot=use_dot)

    def explorer(self) -> Any:
        """An ipywidgets explorer (tabs: overview, graph, pieces & keys, passes, lowering …)."""
        from compile_lens.views.widgets import explorer

        return explorer(self.record)

    # -- display ----------------------------------------------------------------------------
    def __repr__(self) -> str:
        state = "complete" if self.complete else "recording"
        r = self.record
        return f"<compile_lens.Trace {state}: {len(r.graphs)} graphs, {len(r.compiles)} compiles>"

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        from compile_lens.views import display

        return display.trace_mimebundle(self, include=include, exclude=exclude)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CrossCheck(CrossCheckResult):
    """``analysis.cross_check.CrossCheck`` (``.checks``, ``.mismatches``, ``str()``) with its
    notebook display."""

    @classmethod
    def of(cls, result: CrossCheckResult) -> CrossCheck:
        """The displayable form of an analysis result."""
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        from compile_lens.views.mimebundle import text_mimebundle

        return text_mimebundle(str(self), include, exclude)


@dataclasses.dataclass(frozen=True, repr=False)
class Diff(DiffResult):
    """Why two runs' cache keys differ; ``str()``, ``.to_dataframe()``, ``.to_html()``.

    The data (``.equal``, ``.causes``, ``.entries``) is ``analysis.factor_diff.DiffResult``'s;
    this class adds its views.
    """

    @classmethod
    def of(cls, result: DiffResult) -> Diff:
        """The displayable form of an analysis result."""
        return cls(**{f.name: getattr(result, f.name) for f in dataclasses.fields(result)})

    def to_dataframe(self) -> pd.DataFrame:
        """One row per hash change, cause, noise item and differing piece key."""
        from compile_lens.views.diff import diff_frame

        return diff_frame(self)

    def to_html(self, path: str | None = None) -> str:
        """A self-contained HTML page (written to ``path`` too when given)."""
        from compile_lens.views.diff import diff_html

        return diff_html(self, path)

    def __str__(self) -> str:
        from compile_lens.views.diff import diff_text

        return diff_text(self)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None, **kwargs: Any
    ) -> dict[str, str]:
        from compile_lens.views.diff import diff_mimebundle

        return diff_mimebundle(self, include=include, exclude=exclude)


def diff(a: Any, b: Any, *, redact: bool = True) -> Diff:
    """``analysis.factor_diff.diff`` (same arguments), as a displayable ``Diff``."""
    from compile_lens.analysis.factor_diff import diff as _diff

    return Diff.of(_diff(a, b, redact=redact))


@contextlib.contextmanager
def trace(
    *,
    cross_check: bool = False,
    strict: bool = False,
    progress: bool | Literal["auto"] = "auto",
    factors: bool = True,
    bytecode: bool = True,
    payloads: Literal["read", "all"] = "read",
) -> Iterator[Trace]:
    """Record every compile inside the block into the yielded ``Trace`` (filled on exit).

    ``instrument.session.recording`` observes and parses; this wraps its handle (and passes
    the live progress line, a view, in as a factory). See ``compile_lens.trace``.
    """
    from compile_lens.instrument.session import recording
    from compile_lens.views.progress import make_progress

    with recording(cross_check=cross_check, strict=strict, progress=progress, factors=factors,
                   bytecode=bytecode, payloads=payloads, make_progress=make_progress) as handle:
        yield Trace(recording=handle)


def load(path: str | Path) -> Trace:
    """Open any run: a trace saved with ``Trace.save``, a TORCH_TRACE log (plain or gzip) or a
    directory of them (one per rank or process), told apart by content.

    A log with corrupt, cut or unreadable records still opens: what was skipped is in
    ``trace.record.run.notes`` (file and line). A path that is none of these, or a directory
    without a log, raises ``TraceFormatError``.
    """
    from compile_lens.record.open import read_any

    return Trace(read_any(path))
