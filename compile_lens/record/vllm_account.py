"""The parser's part for vLLM's own account of a compile (its ``vllm_*`` artifacts).

A mixin of ``recorder.TraceBuilder``: the rules in ``vllm_artifacts`` call ``vllm_split`` and
``vllm_compile_start``; ``finish`` turns what they collected into pieces and piece compiles for a
graph that only vLLM described, and drops vLLM's account of a graph compile_lens' wrappers also
reported (the same compile told twice). Kept apart so the builder stays about torch's records.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from compile_lens.model import CACHE_HIT, COMPILED, Piece, PieceCompile
from compile_lens.record.raw import RawEvent

if TYPE_CHECKING:
    from compile_lens.record.recorder import Parts, Where, _Graph


class VllmAccount:
    """State and steps of vLLM's account; the builder provides the graph and cache state."""

    t0: float
    parts: Parts
    _current: dict[str, _Graph]
    _vllm_scopes: dict[tuple[str, int], tuple[Where, float]]
    _vllm_compiles: list[PieceCompile]
    _cache_state: dict[Where, str]
    _aot_keys: dict[Where, str]
    _fx_keys: dict[Where, list[str]]

    def _graph(self, process: str, compile_id: str) -> _Graph:
        raise NotImplementedError

    def _vllm_graph(self, event: RawEvent) -> _Graph:
        """The graph a vLLM artifact belongs to: its compile id, else the graph Dynamo is
        compiling in that process (vLLM logs its piecewise artifacts outside Dynamo's compile
        context, so they carry a stack instead of a compile id)."""
        if event.compile_id:
            return self._graph(event.process, event.compile_id)
        return self._current.get(event.process) or self._graph(event.process, "?")


    def vllm_split(self, event: RawEvent, submods: list[str]) -> None:
        """vLLM's split graph named these submodules (used if compile_lens' events did not)."""
        self._vllm_graph(event).vllm_submods = submods

    def vllm_compile_start(self, event: RawEvent, submod: str, size: str, row: dict[str, Any]) -> None:
        """A piece compile vLLM reported: a piece scope until the next start or the frame's end."""
        self._close_vllm_scope(event)
        g = self._vllm_graph(event)
        where = (g.id, submod, size)
        self._vllm_scopes[(event.process, event.thread)] = (where, event.t)
        self._vllm_compiles.append(PieceCompile(
            graph_id=g.id, submod=submod, size=size, start_s=event.t - self.t0,
            compile_id=g.compile_id, extra={"source": "vllm",
                                            "cudagraph_size": row["cudagraph_size"]}))

    def _close_vllm_scope(self, event: RawEvent) -> None:
        scope = self._vllm_scopes.pop((event.process, event.thread), None)
        if scope is None or not self._vllm_compiles:
            return
        where, start = scope
        last = self._vllm_compiles[-1]
        if (last.graph_id, last.submod, last.size) != where:
            return
        state = self._cache_state.pop(where, "")
        self._vllm_compiles[-1] = dataclasses.replace(
            last, outcome=CACHE_HIT if state == "hit" else COMPILED, cache_state=state,
            legacy_key=self._aot_keys.pop(where, None), fx_keys=self._fx_keys.pop(where, []),
            seconds=round(max(0.0, event.t - start), 6))


    def _seen_twice(self, g: _Graph, observed: set[str]) -> bool:
        """A graph only vLLM's own artifacts describe, in a process whose compile compile_lens'
        wrappers reported too: the same compile told twice (vLLM's artifacts carry no compile
        id there), kept once, from the wrappers, which also have the keys and outcomes."""
        only_vllm = not g.split and not g.nodes and (
            g.vllm_submods or any(c.graph_id == g.id for c in self._vllm_compiles))
        return bool(only_vllm) and g.process in observed


    def _finish_vllm_graph(self, g: _Graph, compiles: list[PieceCompile]) -> None:
        """Pieces and compiles of a graph only vLLM's own artifacts described."""
        compiled = list(dict.fromkeys(c.submod for c in compiles))
        submods = g.vllm_submods or compiled
        for index, submod in enumerate(submods):
            self.parts.pieces.append(Piece(
                graph_id=g.id, submod=submod, index=index,
                compiled_index=compiled.index(submod) if submod in compiled else None,
                is_split_op=bool(compiled) and submod not in compiled,
                extra={"source": "vllm"}))
        self.parts.compiles.extend(compiles)
