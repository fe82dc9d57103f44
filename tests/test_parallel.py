"""Unique pieces compiled in worker processes (``backend/parallel.py``): same outputs and keys as
the serial path, the worker compile on the timeline, the fallbacks with their reasons, and no
worker process or thread left behind."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import _runs
import pytest
import torch
import torch.nn.functional as F

import compile_lens
from compile_lens import demo_model
from compile_lens.backend import parallel
from compile_lens.backend.piecewise import PiecewiseBackend
from compile_lens.model import COMPILED, GENERAL_SIZE, WHOLE_GRAPH

SIZES = (1, 5, 8)
WORKER_NOTE = "compiled in worker process"


def _run(root: Path, **backend_kw: Any) -> tuple[Any, dict[int, torch.Tensor], PiecewiseBackend]:
    """The 1-layer demo model (two unique pieces, each general and at size 4: four jobs)
    compiled cold under ``trace()`` in ``root``."""
    with _runs.inductor_cache(root / "inductor"):
        model = demo_model.build(layers=1)
        backend = compile_lens.piecewise(cache_dir=str(root / "artifacts"), compile_sizes=[4],
                                         **backend_kw)
        compiled = torch.compile(model, backend=backend)
        with torch.no_grad():
            with compile_lens.trace(strict=True) as t:
                compiled(*demo_model.example_inputs(8))
            outputs = {n: compiled(*demo_model.example_inputs(n, mark_dynamic=False))
                       for n in SIZES}
    return t, outputs, backend


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    roots = {mode: tmp_path_factory.mktemp(mode) for mode in ("serial", "parallel")}
    serial = _run(roots["serial"], parallel=False)
    par = _run(roots["parallel"], parallel=1)
    return {"serial": serial, "parallel": par, "roots": roots}


def _general(trace: Any) -> dict[str, Any]:
    return {c.submod: c for c in trace.record.compiles if c.size == GENERAL_SIZE}


@pytest.mark.inductor
def test_parallel_outputs_equal_the_serial_ones(runs):
    _, serial, _ = runs["serial"]
    _, par, _ = runs["parallel"]
    for n in SIZES:
        assert torch.equal(par[n], serial[n]), f"outputs differ at {n} tokens"


@pytest.mark.inductor
def test_parallel_keys_and_outcomes_equal_the_serial_ones(runs):
    def rows(trace: Any) -> dict[tuple[str, str], Any]:
        return {(c.submod, c.size): c for c in trace.record.compiles}

    serial, par = rows(runs["serial"][0]), rows(runs["parallel"][0])
    assert sorted(par) == sorted(serial) == [("submod_0", "4"), ("submod_0", GENERAL_SIZE),
                                             ("submod_2", "4"), ("submod_2", GENERAL_SIZE)]
    for where, compile_ in par.items():
        assert compile_.standalone_key == serial[where].standalone_key
        assert compile_.legacy_key == serial[where].legacy_key, "the worker's legacy key is known"
        assert compile_.key_match is True
        assert compile_.outcome == COMPILED
        assert "worker compile failed" not in compile_.note, "exact-size jobs too"
    # The first job is kept for the worker; this process takes jobs from the back meanwhile.
    assert WORKER_NOTE in par[("submod_0", GENERAL_SIZE)].note
    assert WORKER_NOTE not in par[("submod_2", "4")].note
    assert all(WORKER_NOTE not in c.note for c in serial.values())


@pytest.mark.inductor
def test_worker_compile_is_a_span_on_the_timeline(runs):
    trace, _, backend = runs["parallel"]
    spans = {(s.submod, s.size): s for s in trace.record.spans if s.category == "worker"}
    worker_compiled = {(c.submod, c.size) for c in trace.record.compiles if WORKER_NOTE in c.note}
    assert set(spans) == worker_compiled
    span = spans[("submod_0", GENERAL_SIZE)]
    assert 0 <= span.start_s < span.end_s
    assert str(backend.worker_pids[0]) in span.name
    assert not any(s.category == "worker" for s in runs["serial"][0].record.spans)


@pytest.mark.inductor
def test_worker_compile_events_are_in_the_trace(runs):
    """The worker's passes, cache answers and output code are replayed into the piece's scope."""
    serial, par = runs["serial"][0].record, runs["parallel"][0].record

    def lowered(record: Any, submod: str) -> list[tuple[str, str]]:
        return sorted((lo.kind, lo.name) for lo in record.lowerings if lo.submod == submod)

    assert lowered(par, "submod_0"), "the worker's output code reached the trace"
    assert lowered(par, "submod_0") == lowered(serial, "submod_0")
    # The worker may compile its kernels in-process (its share of cores), which adds timings
    # (compile_file) that the parent's compile pool does not report; none may be missing.
    assert {p.name for p in serial.passes if p.submod == "submod_0"} <= {
        p.name for p in par.passes if p.submod == "submod_0"}
    assert _general(runs["parallel"][0])["submod_0"].cache_state == "miss"


@pytest.mark.inductor
def test_no_whole_graph_piece_from_the_up_front_keys(runs):
    """The plan phase computes keys outside any piece scope: nothing may land on ``<graph>``."""
    record = runs["parallel"][0].record
    assert not any(c.submod == WHOLE_GRAPH for c in record.compiles)
    assert not any(p.submod == WHOLE_GRAPH for p in record.passes)


@pytest.mark.inductor
def test_artifacts_stored_under_the_same_keys(runs):
    """Both runs (the traced first call and the untraced recompiles after it) store the same."""
    stored = {mode: {p.stem for p in (root / "artifacts").glob("*.bin")}
              for mode, root in runs["roots"].items()}
    assert stored["parallel"] == stored["serial"]
    assert {c.standalone_key for c in runs["parallel"][0].record.compiles} <= stored["parallel"]


@pytest.mark.inductor
def test_no_worker_process_or_thread_is_left(runs):
    _, _, backend = runs["parallel"]
    assert backend.worker_pids, "the parallel run started workers"
    for pid in backend.worker_pids:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} is still there"
    assert not [t for t in threading.enumerate() if t.name.startswith("compile_lens-worker")]
    assert runs["serial"][2].worker_pids == []
    assert backend.prepared == {}, "the plan's keys are dropped after the graph"
    handlers = logging.getLogger("torch.__trace").handlers
    assert not [h for h in handlers if type(h).__module__ == parallel.__name__]
    assert not torch.cuda.is_initialized(), "the parent must stay CUDA-clean"


def _tiny(x: torch.Tensor) -> torch.Tensor:
    q = (x * 2).view(1, 1, -1, 8)
    a = F.scaled_dot_product_attention(q, q, q)
    return torch.relu(a.view(-1, 8)) + 1


@pytest.mark.inductor
def test_a_failed_worker_compile_is_compiled_here_with_its_reason(tmp_path, monkeypatch):
    """A worker that cannot rebuild its job: the parent compiles that piece, the note says why."""

    def garbage(job: parallel.SizeJob) -> str:
        job.payload = b"not a pickle"
        return ""

    monkeypatch.setattr(parallel, "_serialize", garbage)
    x = torch.randn(6, 8)
    with _runs.inductor_cache(tmp_path / "inductor"):
        backend = compile_lens.piecewise(cache_dir=str(tmp_path / "artifacts"), parallel=1)
        compiled = torch.compile(_tiny, backend=backend)
        with compile_lens.trace(strict=True) as t:
            out = compiled(x)
    torch.testing.assert_close(out, _tiny(x))
    general = _general(t)
    assert {c.outcome for c in general.values()} == {COMPILED}
    assert "worker compile failed" in general["submod_0"].note
    assert WORKER_NOTE not in general["submod_0"].note
    failed = [s for s in t.record.spans if s.category == "worker"]
    assert len(failed) == 1 and "(failed)" in failed[0].name
    assert backend.worker_pids and not Path(f"/proc/{backend.worker_pids[0]}").exists()


# -- the decision, without compiles --------------------------------------------------------------
def test_serial_reasons(tmp_path, monkeypatch):
    cache = str(tmp_path)
    assert parallel.serial_reason(PiecewiseBackend(cache_dir=cache, parallel=False)) == "off"
    assert "no artifact cache" in parallel.serial_reason(
        PiecewiseBackend(use_artifact_cache=False, parallel=True))
    assert "dedup=False" in parallel.serial_reason(
        PiecewiseBackend(cache_dir=cache, dedup=False, parallel=True))
    assert "force_disable_caches" in parallel.serial_reason(PiecewiseBackend(
        cache_dir=cache, parallel=True, inductor_config={"force_disable_caches": True}))
    with torch._inductor.config.patch(fx_graph_cache=False):
        assert "FX graph cache is off" in parallel.serial_reason(
            PiecewiseBackend(cache_dir=cache, parallel=True))

    class OwnCompile(PiecewiseBackend):
        def _compile_artifact(self, gm: Any, args: list[Any], dynamic_shapes: str) -> Any:
            return gm

    assert "_compile_artifact overridden" in parallel.serial_reason(
        OwnCompile(cache_dir=cache, parallel=True))
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    assert parallel.serial_reason(PiecewiseBackend(cache_dir=cache)) == "off", "off by default"
    assert "2 CPU core(s)" in parallel.serial_reason(PiecewiseBackend(cache_dir=cache,
                                                                      parallel="auto"))
    assert parallel.serial_reason(PiecewiseBackend(cache_dir=cache, parallel=True)) == ""
    assert parallel.serial_reason(PiecewiseBackend(cache_dir=cache, parallel=3)) == ""
    with compile_lens.trace(cross_check=True):
        assert "cross_check" in parallel.serial_reason(
            PiecewiseBackend(cache_dir=cache, parallel=True))


def test_worker_count(tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "usable_cores", lambda: 16)
    auto: Any = SimpleNamespace(parallel=None)
    assert parallel.worker_count(auto, 1) == 0, "one job: this process compiles it"
    assert parallel.worker_count(auto, 4) == 3, "this process takes a job too"
    assert parallel.worker_count(auto, 100) == parallel.MAX_WORKERS
    assert parallel.worker_count(SimpleNamespace(parallel=2), 10) == 2  # type: ignore[arg-type]


def test_serial_note_in_the_trace(tmp_path):
    """Serial for a reason: the trace says so, once per graph (eager pieces, no Inductor)."""

    class EagerPieces(PiecewiseBackend):
        def _compile_artifact(self, gm: Any, args: list[Any], dynamic_shapes: str) -> Any:
            return gm

    torch._dynamo.reset()
    try:
        backend = EagerPieces(use_artifact_cache=False, parallel=True)
        with compile_lens.trace(strict=True) as t:
            torch.compile(_tiny, backend=backend)(torch.randn(6, 8))
    finally:
        torch._dynamo.reset()
    notes = [n for n in t.record.run.notes if "compiled one after the other" in n]
    assert len(notes) == 1 and "no artifact cache" in notes[0]
    assert backend.worker_pids == []


def test_unsendable_pieces():
    lib = torch.library.Library("cl_parallel_test", "FRAGMENT")
    lib.define("twice(Tensor x) -> Tensor")
    lib.impl("twice", lambda x: x * 2, "CompositeExplicitAutograd")

    def custom(x: torch.Tensor) -> torch.Tensor:
        return torch.ops.cl_parallel_test.twice(x) + 1

    def local_function(x: torch.Tensor) -> torch.Tensor:
        return x + 1

    gm = torch.fx.symbolic_trace(custom)
    assert "custom op cl_parallel_test.twice" in parallel.unsendable(gm)
    graph = torch.fx.Graph()
    x = graph.placeholder("x")
    graph.output(graph.call_function(local_function, (x,)))
    assert "may not import it" in parallel.unsendable(torch.fx.GraphModule({}, graph))
    assert parallel.unsendable(torch.fx.symbolic_trace(lambda x: torch.relu(x) * 2)) == ""


def test_environment_setting(monkeypatch):
    monkeypatch.setenv(parallel.ENV, "off")
    assert PiecewiseBackend(use_artifact_cache=False).parallel is False
    assert PiecewiseBackend(use_artifact_cache=False, parallel=2).parallel == 2, "argument wins"
    monkeypatch.setenv(parallel.ENV, "on")
    assert PiecewiseBackend(use_artifact_cache=False).parallel is True
    monkeypatch.setenv(parallel.ENV, "4")
    assert PiecewiseBackend(use_artifact_cache=False).parallel == 4
    monkeypatch.setenv(parallel.ENV, "sometimes")
    with pytest.raises(ValueError, match="COMPILE_LENS_PARALLEL='sometimes'"):
        PiecewiseBackend(use_artifact_cache=False)
    monkeypatch.setenv(parallel.ENV, "auto")
    assert PiecewiseBackend(use_artifact_cache=False).parallel is None
    monkeypatch.delenv(parallel.ENV)
    assert PiecewiseBackend(use_artifact_cache=False).parallel is False, "off by default"
    assert PiecewiseBackend(use_artifact_cache=False, parallel="auto").parallel is None
    with pytest.raises(ValueError, match="parallel='sometimes'"):
        PiecewiseBackend(use_artifact_cache=False, parallel="sometimes")


def test_usable_cores_is_positive():
    assert parallel.usable_cores() >= 1
    assert parallel.usable_cores() <= (os.cpu_count() or 1)


@pytest.mark.inductor
def test_workers_that_cannot_start_leave_a_serial_compile(tmp_path, monkeypatch):
    """No Python to start (a real failed exec): every piece compiles here, the note says why."""
    monkeypatch.setattr(parallel.sys, "executable", str(tmp_path / "no-python"))
    x = torch.randn(6, 8)
    with _runs.inductor_cache(tmp_path / "inductor"):
        backend = compile_lens.piecewise(cache_dir=str(tmp_path / "artifacts"), parallel=1)
        with compile_lens.trace(strict=True) as t:
            out = torch.compile(_tiny, backend=backend)(x)
    torch.testing.assert_close(out, _tiny(x))
    assert {c.outcome for c in _general(t).values()} == {COMPILED}
    assert any("worker processes could not start" in n for n in t.record.run.notes)
    assert not any(WORKER_NOTE in c.note for c in t.record.compiles)
    assert backend.worker_pids == []


def _gone(pids: list[int]) -> bool:
    return all(not Path(f"/proc/{pid}").exists() for pid in pids)


@pytest.mark.inductor
def test_prestarted_workers_serve_the_first_graph(tmp_path, monkeypatch):
    """Automatic mode with cores to spare: workers start with the backend (before Dynamo
    traces), the first graph uses them, and all of them end with it."""
    monkeypatch.setattr(parallel, "usable_cores", lambda: 4)
    x = torch.randn(6, 8)
    with _runs.inductor_cache(tmp_path / "inductor"):
        backend = compile_lens.piecewise(cache_dir=str(tmp_path / "artifacts"), parallel="auto")
        warm = backend._warm_pool
        assert warm is not None and warm.size == parallel.PRESTART
        with compile_lens.trace(strict=True) as t:
            out = torch.compile(_tiny, backend=backend)(x)
    torch.testing.assert_close(out, _tiny(x))
    assert backend._warm_pool is None
    assert sorted(backend.worker_pids) == sorted(warm.pids)
    assert _gone(backend.worker_pids)
    assert WORKER_NOTE in _general(t)["submod_0"].note


def test_prestarted_workers_of_an_unused_backend_end(tmp_path, monkeypatch):
    """A backend made and dropped without compiling: its pre-started workers are ended."""
    import gc

    monkeypatch.setattr(parallel, "usable_cores", lambda: 3)
    backend = PiecewiseBackend(cache_dir=str(tmp_path), parallel="auto")
    pool = backend._warm_pool
    assert pool is not None and pool.size == 2
    pids = list(pool.pids)
    del backend, pool
    gc.collect()
    assert _gone(pids)
    assert not [t for t in threading.enumerate() if t.name.startswith("compile_lens-worker")]
    assert PiecewiseBackend(cache_dir=str(tmp_path), parallel=True)._warm_pool is None, (
        "only the automatic mode pre-starts")


@pytest.mark.inductor
def test_a_piece_with_a_custom_op_compiles_here_the_others_in_a_worker(tmp_path):
    lib = torch.library.Library("cl_par_e2e", "FRAGMENT")
    lib.define("twice(Tensor x) -> Tensor")
    lib.impl("twice", lambda x: x * 2, "CompositeExplicitAutograd")

    def f(x: torch.Tensor) -> torch.Tensor:
        q = torch.ops.cl_par_e2e.twice(x + 1).view(1, 1, -1, 8)
        a = F.scaled_dot_product_attention(q, q, q)
        return torch.relu(a.view(-1, 8)) + 1

    x = torch.randn(6, 8)
    with _runs.inductor_cache(tmp_path / "inductor"):
        backend = compile_lens.piecewise(cache_dir=str(tmp_path / "artifacts"), parallel=1)
        with compile_lens.trace(strict=True) as t:
            out = torch.compile(f, backend=backend)(x)
    torch.testing.assert_close(out, f(x))
    general = _general(t)
    assert WORKER_NOTE not in general["submod_0"].note
    assert WORKER_NOTE in general["submod_2"].note
    assert any("submod_0 [general]: compiled in this process: it calls the custom op "
               "cl_par_e2e.twice" in n for n in t.record.run.notes), t.record.run.notes
    assert _gone(backend.worker_pids)
