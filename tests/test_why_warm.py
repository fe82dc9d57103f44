"""Warm starts: every piece loads; one piece's code changed and only it compiles; the diff.

A fresh process (``_why_warm.py``) reuses the cold demo run's caches twice: unchanged (every
piece loads from the artifact cache or reuses a loaded one), then with the model's code changed
after its last attention (only the last piece compiles). The causes are checked against torch's
own records of each step: no AOTAutograd/FX cache activity at all for the warm start, and for
the edited run exactly the keys torch logged in its ``aotautograd_cache_miss`` and
``fx_graph_cache_*`` records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import compile_lens
from compile_lens.analysis.ledger import BYPASS, MISS, ledger
from compile_lens.analysis.why import why

pytestmark = pytest.mark.inductor
HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def warm(demo_traced: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("why_warm")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(HERE / "_why_warm.py"), str(demo_traced.root), str(out)],
                   check=True, env=env, timeout=900)
    return out


def _torch(out: Path, name: str) -> dict[str, Any]:
    return json.loads((out / f"{name}.torch.json").read_text())


def _keys(said: dict[str, Any], name: str) -> list[str]:
    return [x["key"] for x in said["caches"].get(name, [])]


def test_warm_start_every_piece_loads(warm: Path) -> None:
    record = compile_lens.load(warm / "warm.json").record
    pieces = [r for r in ledger(record) if r.kind == "piece"]
    assert pieces and {r.cause for r in pieces} <= {"loaded", "deduplicated"}
    said = _torch(warm, "warm")
    # Loading a saved artifact goes through the FX graph cache (a hit); nothing else was asked.
    assert set(said["caches"]) == {"fx_graph_cache_hit"}
    assert "fxgraph_cache_miss" not in said["counters"].get("inductor", {})
    loaded = [r for r in pieces if r.cause == "loaded"]
    assert [[(d.layer, d.answer) for d in r.decisions] for r in loaded] == [
        [("artifact_cache", "hit"), ("fx_graph", "hit")]] * len(loaded)
    assert [r.decisions[1].key for r in loaded] == _keys(said, "fx_graph_cache_hit")
    keys = {(c.submod, c.size): c.standalone_key for c in record.compiles}
    assert all(r.decisions[0].key == keys[(r.submod, r.size)] for r in loaded)
    assert not [i for i in why(record) if i.cause in (MISS, BYPASS)]


def test_changed_piece_alone_recompiles_with_torch_keys(warm: Path) -> None:
    record = compile_lens.load(warm / "edited.json").record
    pieces = [r for r in ledger(record) if r.kind == "piece"]
    compiled = [r for r in pieces if r.cause == MISS]
    last = max(c.submod for c in record.compiles)
    assert {(r.submod, r.size) for r in compiled} == {(last, "general"), (last, "4")}
    assert {r.cause for r in pieces if r.submod != last} <= {"loaded", "deduplicated"}
    said = _torch(warm, "edited")
    assert [[(d.layer, d.answer, d.key) for d in r.decisions[1:]] for r in compiled] == [
        [("aotautograd", "miss", aot), ("fx_graph", "miss", fx)] for aot, fx in
        zip(_keys(said, "aotautograd_cache_miss"), _keys(said, "fx_graph_cache_miss"),
            strict=True)]
    assert all(r.decisions[0].layer == "artifact_cache" and r.decisions[0].answer == "miss"
               for r in compiled)
    (item,) = [i for i in why(record) if i.cause == MISS]
    assert item.text == ("2 compiles after cache misses: artifact cache, AOTAutograd cache, "
                         "FX graph cache")
    assert sorted(item.rows) == sorted(r.index for r in compiled)


def test_diff_lists_what_compiled_that_came_from_a_cache(warm: Path) -> None:
    d = compile_lens.diff(warm / "warm.json", warm / "edited.json")
    a = compile_lens.load(warm / "warm.json").record
    b = compile_lens.load(warm / "edited.json").record
    last = max(c.submod for c in b.compiles)
    assert [(x.submod, x.size) for x in d.from_cache] == [(last, "general"), (last, "4")]
    before = {(c.submod, c.size): c.outcome for c in a.compiles}
    for x in d.from_cache:
        assert x.a_cause == before[(x.submod, x.size)] == "loaded"
        assert x.b_cause == MISS and "AOTAutograd cache miss" in x.why
        assert x.a_key != x.b_key
    text = str(d)
    assert "Compiled in B, from a cache in A:" in text
    assert f"{last} [general]" in text
    page = d.to_html()
    assert "<h2>Compiled in B, from a cache in A</h2>" in page and d.from_cache[0].why in page
