"""The split-graph drawing: membership, edges, dedup groups, Graphviz output and the fallback."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from compile_lens.views.graph_render import NO_DOT_HINT, dot_source, has_dot, render_svg
from compile_lens.views.graphs import assignments, dedup_groups, split_drawing


def test_middle_layers_form_one_dedup_group(synthetic: Any) -> None:
    record = synthetic.synthetic_trace(layers=6, sizes=2, passes=1, capture_sizes=0)
    groups = dedup_groups(record, "g0")
    labels = {g.label for g in groups.values()}
    assert labels == {"A"}, "first and last pieces are unique, the 5 middle ones share a key"
    assert sorted(groups["submod_2"].members) == sorted(
        p.submod for p in record.pieces if not p.is_split_op and 0 < p.compiled_index < 6)


def test_membership_and_edges_come_from_the_recorded_code(small_trace: Any) -> None:
    d = split_drawing(small_trace, small_trace.graphs[0])
    assert d.members["submod_1"] == ["l0_sdpa"]
    assert "embed" in d.members["submod_0"]
    assert ("l0_rope", "l0_sdpa") in d.edges
    assert ("l0_k_proj", "l0_sdpa") in d.edges
    assert d.piece_edges[0] == ("submod_0", "submod_1")
    assert d.node_level


def test_assignments_reads_annotated_fx_code() -> None:
    code = 'def forward(self, x):\n    add: "f32[s0]" = torch.add(x, 1)\n    y = add * 2\n'
    assert assignments(code) == {"add": "torch.add(x, 1)", "y": "add * 2"}


def test_big_graphs_are_drawn_one_box_per_piece(synthetic: Any) -> None:
    record = synthetic.synthetic_trace(layers=40, sizes=1, passes=1, capture_sizes=0)
    d = split_drawing(record, record.graphs[0])
    assert not d.node_level
    src = dot_source(d)
    assert src.count("[id=") == len(record.pieces)


def test_dot_source_escapes_quotes_and_backslashes(small_trace: Any) -> None:
    import dataclasses

    g = small_trace.graphs[0]
    nodes = [dataclasses.replace(n, target='a"b\\c') if i == 1 else n
             for i, n in enumerate(g.nodes)]
    d = split_drawing(small_trace, dataclasses.replace(g, nodes=nodes))
    assert 'a\\"b\\\\c' in dot_source(d)


@pytest.mark.skipif(not has_dot(), reason="Graphviz's dot is not installed")
def test_dot_svg_tags_every_piece_and_escapes(hostile_trace: Any) -> None:
    d = split_drawing(hostile_trace, hostile_trace.graphs[0])
    svg, why = render_svg(d)
    assert why == ""
    assert svg.startswith("<svg")
    for p in hostile_trace.pieces:
        assert f'data-piece="{p.submod}"' in svg
    nodes_tagged = svg.count('class="node" data-piece=')
    assert nodes_tagged == sum(len(m) for m in d.members.values()), "nodes select their piece"
    assert "<script>" not in svg
    assert "<!--" not in svg


def test_fallback_without_dot(small_trace: Any) -> None:
    d = split_drawing(small_trace, small_trace.graphs[0])
    svg, why = render_svg(d, use_dot=False)
    assert why == NO_DOT_HINT
    assert svg.startswith("<svg")
    assert svg.count("data-piece=") == len(small_trace.pieces)


def test_a_failing_dot_falls_back_with_its_error(small_trace: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "dot"
    fake.write_text("#!/bin/sh\necho 'Error: broken layout' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    svg, why = render_svg(split_drawing(small_trace, small_trace.graphs[0]))
    assert "Error: broken layout" in why
    assert svg.startswith("<svg")
