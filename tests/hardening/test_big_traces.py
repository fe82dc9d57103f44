"""Bad shapes stay cheap: linear mismatch blocks, bounded pages (issue 9, items 13-14).

No timing thresholds here: the mismatch block is checked by counting how often it walks a key's
lines, the caps by the size of what is rendered. ``benchmarks/bench_views.py --hardening``
measures the seconds.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import compile_lens
from compile_lens.views import sections
from compile_lens.views.display import trace_html
from compile_lens.views.report import render


class CountingLines(list):
    """A list of factor lines that counts how often it is iterated."""

    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def mismatch_trace(synthetic: Any, n: int) -> Any:
    """One key mismatch whose two keys have ``n`` factor lines each (half of them differ)."""
    base = synthetic.synthetic_trace(layers=1, sizes=1, passes=1, capture_sizes=0, mismatch=True)
    bad = next(c for c in base.compiles if c.key_match is False)
    legacy = CountingLines(f"[{i:016x}] inductor_config[opt_{i}]: {i}" for i in range(n))
    standalone = CountingLines(f"[{i + (i % 2):016x}] inductor_config[opt_{i}]: {i + (i % 2)}"
                               for i in range(n))
    lines = {**base.key_lines, bad.legacy_key: legacy, bad.standalone_key: standalone}
    return dataclasses.replace(base, key_lines=lines), bad


def test_mismatch_block_walks_each_key_a_bounded_number_of_times(synthetic: Any) -> None:
    record, bad = mismatch_trace(synthetic, 2000)
    CountingLines.walks = 0
    html = sections.mismatch_block(record, bad)
    assert CountingLines.walks <= 8, f"walked the lines {CountingLines.walks} times (quadratic)"
    assert "opt_1]" in html and "opt_0]" not in html.split("only in the legacy key")[1]


def big_trace(synthetic: Any) -> Any:
    """The 80-layer trace with every repeated string blown up (about 60 MB of JSON)."""
    base = synthetic.synthetic_trace(layers=80, sizes=4, passes=10, capture_sizes=4)
    code = "\n".join(f"    x{i} = torch.ops.aten.mul(x{i - 1}, {i})" for i in range(4000))
    pieces = [dataclasses.replace(p, code=code) for p in base.pieces]
    graph = dataclasses.replace(base.graphs[0], code=code * 3, bytecode_source=code)
    keys = {k: [*v, f"[{'f' * 16}] gm: {code}"] for k, v in base.key_lines.items()}
    more = [dataclasses.replace(graph, id=f"g{i}", compile_id=f"{i}/0", nodes=graph.nodes[:4])
            for i in range(1, 40)]
    notes = [f"note {i}: " + "n" * 200 for i in range(3000)]
    issues = [dataclasses.replace(base.issues[0], message=f"issue {i} " + "m" * 300)
              for i in range(3000)]
    run = dataclasses.replace(base.run, notes=notes)
    return dataclasses.replace(base, pieces=pieces, graphs=[graph, *more], key_lines=keys,
                               run=run, issues=issues)


def test_report_of_a_huge_trace_is_capped(synthetic: Any) -> None:
    record = big_trace(synthetic)
    assert len(compile_lens.Trace(record).to_json()) > 50e6
    page = render(record, use_dot=False)
    assert len(page) < 10e6, f"the report carries {len(page) / 1e6:.1f} MB"
    assert "more characters" in page and "in the saved trace" in page, "a cut says so"


def test_notebook_display_of_a_huge_trace_is_capped(synthetic: Any) -> None:
    record = big_trace(synthetic)
    html = trace_html(compile_lens.Trace(record))
    assert len(html) < 3e6, f"the notebook display carries {len(html) / 1e6:.1f} MB"


def test_the_80_layer_report_keeps_every_row(synthetic: Any) -> None:
    """The caps never cut the 80-layer goal trace: every piece row and factor is there."""
    record = synthetic.synthetic_trace()
    page = render(record, use_dot=False)
    assert page.count('<tr><td>g0</td><td>submod_') >= len(record.compiles)
    assert "more characters" not in page and "rows are in the saved trace" not in page


def test_diff_of_a_32000_line_key_difference_is_capped() -> None:
    from compile_lens.model import FactorDump, PieceKeys

    def dump(key: str, salt: int) -> FactorDump:
        lines = [f"[{i * 7 + salt:016x}] inductor_config[opt_{i}]: {i + salt}" for i in range(32_000)]
        piece = PieceKeys(graph="g0", submod="submod_0", keys={"aot": key}, structure="x")
        return FactorDump(pieces=[piece], key_lines={key: lines})

    d = compile_lens.diff(dump("ka", 0), dump("kb", 1))
    assert len(str(d).splitlines()) < 300, "the text lists the first causes, not 32,000"
    page = d.to_html()
    assert len(page) < 1.5e6, f"the diff page carries {len(page) / 1e6:.1f} MB"
    assert "differing factor lines" in page, "the cut says so"
