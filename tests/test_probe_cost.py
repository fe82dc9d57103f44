"""The torch 2.11 key probe (``keys.probe_standalone_key``), forced on this torch (issue 12).

torch 2.13 still has ``standalone_compile``, so the probe runs here on the real pieces of a real
compile. What it stopped paying for must change no key: the extra deep copy (``standalone_compile``
copies the graph itself) and the factor lines nobody reads (torch < 2.12 computes them on every
key; with the AOTAutograd cache logger at DEBUG torch 2.13 does too, so that is how the skip is
exercised here).
"""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from _runs import SIZES, inductor_cache
from torch._inductor import config as inductor_config

import compile_lens
from compile_lens import demo_model
from compile_lens._torch import keys, patching
from compile_lens.backend.piecewise import PiecewiseBackend
from compile_lens.instrument import hooks

pytestmark = pytest.mark.inductor


class _CountCopies:
    """A deep-copy hook that counts: copies of the module share it (a copy of a copy counts
    here too), and it pickles (the key pickles the module's hooks)."""

    def __init__(self) -> None:
        self.n = 0

    def __deepcopy__(self, _memo: dict[int, Any]) -> _CountCopies:
        return self

    def __call__(self, _copy: Any) -> None:
        self.n += 1


class _Probing(PiecewiseBackend):
    """Takes its up-front keys from the probe, as on torch 2.11, and at every piece first runs
    the probe's variants on that very piece (inside the real compile, under its config)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key_api = False
        self.rows: list[dict[str, Any]] = []
        self.unsent: list[tuple[str, bool]] = []  # what the backend's own probe asked

    def _standalone_key(self, gm: Any, args: list[Any], dynamic_shapes: str) -> Any:
        graph, attributes = str(gm.graph), list(gm.__dict__)
        with inductor_config.patch(self.inductor_config):
            row: dict[str, Any] = {
                # The probe as it was: a copy of its own, and the lines torch computes.
                "reference": keys.probe_standalone_key(copy.deepcopy(gm), args, dynamic_shapes,
                                                       factor_lines=True),
                "with_lines": keys.probe_standalone_key(gm, args, dynamic_shapes,
                                                        factor_lines=True),
                "without_lines": keys.probe_standalone_key(gm, args, dynamic_shapes,
                                                           factor_lines=False),
            }
            asked: list[str] = []
            row["asked_none"] = keys.probe_standalone_key(
                gm, args, dynamic_shapes, factor_lines=lambda k: asked.append(k) or False)
            row["asked"] = asked
            row["asked_all"] = keys.probe_standalone_key(gm, args, dynamic_shapes,
                                                         factor_lines=lambda _k: True)
            if keys.standalone_key_api() is not None:  # the same choice on the key API's path
                row["api_none"] = keys.compute_standalone_key(gm, args, dynamic_shapes,
                                                              factor_lines=lambda _k: False)
                row["api_all"] = keys.compute_standalone_key(gm, args, dynamic_shapes,
                                                             factor_lines=lambda _k: True)
            counted, copies = copy.deepcopy(gm), _CountCopies()
            counted._register_deepcopy_hook(copies)
            keys.probe_standalone_key(counted, args, dynamic_shapes)
            row["copies"] = copies.n
        row["untouched"] = str(gm.graph) == graph and list(gm.__dict__) == attributes
        self.rows.append(row)
        return super()._standalone_key(gm, args, dynamic_shapes)

    def _lines_unsent(self, key: str) -> bool:
        unsent = super()._lines_unsent(key)
        self.unsent.append((key, unsent))
        return unsent


@pytest.fixture(scope="module")
def probed(demo_traced, tmp_path_factory: pytest.TempPathFactory) -> tuple[_Probing, Any]:
    """The demo model through the probing backend under ``trace(cross_check=True)``, over the
    warm Inductor cache of ``demo_traced`` (every piece compiled, none for long)."""
    backend = _Probing(compile_sizes=SIZES, parallel=False,
                       cache_dir=str(tmp_path_factory.mktemp("probe_art")))
    with inductor_cache(demo_traced.root / "inductor"):
        compiled = torch.compile(demo_model.build(layers=3), backend=backend)
        with torch.no_grad(), compile_lens.trace(strict=True, cross_check=True) as t:
            compiled(*demo_model.example_inputs(8))
    return backend, t


def test_probe_keys_are_the_real_compiles_legacy_keys(probed) -> None:
    """Faithful by construction: every probe key equals the key the real compile looked up."""
    backend, t = probed
    check = t.cross_check()
    assert len(check.checks) == 8
    assert [c.status for c in check.checks] == ["match"] * 8, str(check)
    assert all(keys.PROBE_KEY_NOTE in (c.note or "") for c in t.record.compiles)
    assert len(backend.rows) == 8


def test_one_deep_copy_and_the_same_key(probed) -> None:
    """``standalone_compile`` copies the graph itself: the probe adds no copy of its own, keys
    the same as the probe with its own copy did, and leaves the caller's graph as it was."""
    backend, _ = probed
    for row in backend.rows:
        assert row["copies"] == 1, "one deep copy per probe (standalone_compile's own)"
        assert row["untouched"]
        assert row["with_lines"] == row["reference"]


def test_skipped_factor_lines_leave_the_key(probed) -> None:
    """Inside ``trace()`` torch computes the key's factor lines; told not to, the probe returns
    none and the same key (torch computes the lines after the key)."""
    backend, _ = probed
    for row in backend.rows:
        key, lines = row["with_lines"]
        assert key is not None and key.startswith("a")
        assert len(lines) > 100, "the lines were computed"
        assert row["without_lines"] == (key, [])
    assert len({row["reference"][0] for row in backend.rows}) < len(backend.rows), (
        "the middle layers share keys (the keys are real, not unique per call)")


def test_lines_are_computed_for_the_keys_that_want_them(probed) -> None:
    """Given a callable, the probe (and the key API) asks it about the key before computing the
    lines; the backend says no for a key whose lines this ``trace()`` block already sent."""
    backend, t = probed
    for row in backend.rows:
        key, lines = row["with_lines"]
        assert row["asked"] == [key]
        assert row["asked_none"] == (key, [])
        assert row["asked_all"] == (key, lines)
        if "api_all" in row:
            api_key, api_lines = row["api_all"]
            assert api_lines and row["api_none"] == (api_key, [])
    asked = [key for key, _ in backend.unsent]
    assert asked == [row["reference"][0] for row in backend.rows]
    assert [unsent for _, unsent in backend.unsent] == [
        key not in asked[:i] for i, key in enumerate(asked)], "repeats are not asked for lines"
    assert len(set(asked)) < len(asked)
    assert set(asked) <= set(t.record.key_lines), "every key's lines are in the trace"
    assert all(t.record.key_lines[key] for key in asked)
    for target in (keys.FACTOR_LINES_TARGET, keys.HASH_TARGET):
        assert not hasattr(patching.current(target), "__wrapped__"), f"{target} restored"


def test_factor_lines_follow_the_aot_logger() -> None:
    """By default the probe computes the lines exactly where torch >= 2.12 would: with the
    AOTAutograd cache logger at DEBUG, as ``trace()`` sets it."""
    logger = logging.getLogger(keys.AOT_CACHE_LOGGER)
    assert keys.AOT_CACHE_LOGGER == hooks.AOT_CACHE_LOGGER
    if logger.isEnabledFor(logging.DEBUG):
        pytest.skip("the AOTAutograd cache logger is at DEBUG in this process")
    assert keys.factor_lines_wanted() is False
    undo = hooks.enable_aot_factor_lines()
    try:
        assert keys.factor_lines_wanted() is True
    finally:
        undo()
    assert keys.factor_lines_wanted() is False


def _pickler() -> Any:
    from torch._inductor.codecache import FxGraphCachePickler

    return FxGraphCachePickler(torch.fx.symbolic_trace(torch.nn.ReLU()))


def test_the_probe_patches_act_in_its_thread_only() -> None:
    """While a probe runs, a compile in another thread keeps torch's own key function and lines."""
    from torch._functorch._aot_autograd import autograd_cache
    from torch._inductor.codecache import FxGraphCachePickler

    details = SimpleNamespace(answer=42)
    other: dict[str, Any] = {}

    def elsewhere() -> None:
        other["lines"] = FxGraphCachePickler.debug_lines(_pickler(), details)
        try:
            autograd_cache.autograd_cache_key(None, [], None, None)
        except BaseException as exc:  # which class arrives is the point
            other["raised"] = exc

    with keys._factor_lines(False), keys._stop_at_key() as (seen, _refused):
        assert FxGraphCachePickler.debug_lines(_pickler(), details) == []
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        with pytest.raises(keys._KeyComputed):  # in the probing thread it stops
            autograd_cache.autograd_cache_key(None, [], None, None)
    assert other["lines"] and "answer" in other["lines"][0]
    assert not isinstance(other["raised"], keys._KeyComputed)
    assert seen.calls == 1, "only the probing thread's call counts"
    assert not hasattr(patching.current(keys.FACTOR_LINES_TARGET), "__wrapped__")
    assert not hasattr(patching.current(keys.LEGACY_TARGET), "__wrapped__")


def test_keycost_bench_times_the_probe_as_on_torch_211(tmp_path) -> None:
    """``bench_compile.py --parts keycost --emulate-211`` (one real cold compile of one layer):
    the probe, timed against the probe before issue 12 on the same pieces; torch 2.13 computes
    the factor lines on every key there, as 2.11 does, and only the earlier probe returns them."""
    bench = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_compile.py"
    out = tmp_path / "keycost.json"
    proc = subprocess.run(
        [sys.executable, str(bench), "--parts", "keycost", "--emulate-211", "--layers", "1",
         "--repeats", "1", "--out", str(out)],
        capture_output=True, text=True, check=False, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    k = json.loads(out.read_text())["keycost"]
    assert k["key"] == "probe (torch 2.11 emulated)"
    assert k["n"] == len(k["key_ms"]) == len(k["key_before_ms"]) > 0
    assert k["same_keys"][0] == k["same_keys"][1] == k["n"] + 1, "first key included"
    assert k["keys_with_factor_lines"] == {"key": 0, "key_before": k["n"] + 1}
    assert "paired after/before" in proc.stdout


def test_the_probe_copies_where_standalone_compile_would_not(monkeypatch) -> None:
    """On a torch whose ``standalone_compile`` has no ``donate_graph_module`` (not known to copy
    its graph), the probe makes the copy itself (two in all here, where torch copies too) and
    the caller's graph is left as it was either way. (The key then is a copy's copy's, which
    need not equal a single copy's: the graph-module hash sees the copy's attribute order.)"""
    gm = torch.fx.symbolic_trace(lambda x: torch.relu(x) * 2 + 1)
    args = [torch.randn(4, 3)]
    assert keys.copies_its_graph(), "torch 2.13 copies (it has donate_graph_module)"
    counts = {}
    for torch_copies in (True, False):
        monkeypatch.setattr(keys, "copies_its_graph", lambda c=torch_copies: c)
        counted, copies = copy.deepcopy(gm), _CountCopies()
        counted._register_deepcopy_hook(copies)
        code, attributes = counted.code, list(counted.__dict__)
        key, _ = keys.probe_standalone_key(counted, args, "from_example_inputs",
                                           factor_lines=False)
        assert key and key.startswith("a")
        assert counted.code == code and list(counted.__dict__) == attributes
        counts[torch_copies] = copies.n
    assert counts == {True: 1, False: 2}
