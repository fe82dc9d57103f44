"""Compile a graph's unique pieces concurrently: worker processes plus this one.

Why: a split graph has a few *unique* pieces (after the up-front key dedup), and each is a
separate Inductor compile of a few seconds; one after the other they are most of a cold start.

How, in two phases (``compile_pieces``):

1. **Plan.** The split interpreter has run every piece on fake inputs and handed over each
   piece with the fake arguments it really got. For every piece × size the up-front standalone
   key is computed (the same function the serial path calls). A *job* is the first piece × size
   of a key that is neither deduplicated nor already in the artifact cache.
2. **Compile.** Each job is serialized with torch's ``GraphPickler`` (the graph module with its
   node metadata and fake tensors, and the fake arguments, into a fresh ``FakeTensorMode`` on the
   other side) and queued. Worker processes (``python -m compile_lens.backend.parallel``, started
   here, never forked: the parent may hold CUDA, and a fork would also re-run nothing of the
   user's ``__main__``) take jobs as soon as they have imported torch, run the real
   ``torch._inductor.standalone_compile`` and store the artifact in the artifact cache under the
   parent's key (``ArtifactCache.store`` refuses an artifact whose own key differs, so a job that
   would not give the serial path's artifact fails and is compiled here instead). Meanwhile this
   process takes jobs from the back of the queue and compiles them the serial way, in their
   own piece scope. Then every piece × size is resolved in order through the serial path: the
   workers' artifacts load from the cache and are reported as ``compiled`` (with the worker's
   legacy key and a note), later identical pieces as ``deduplicated``.

Anything that does not fit falls back to the serial path, with a note saying why: 1–2 CPU cores
(unless forced), no artifact cache, ``dedup=False``, ``trace(cross_check=True)``, a torch
without ``GraphPickler``, a piece calling a custom op or a function a fresh process cannot
import, a piece ``GraphPickler`` cannot serialize, a worker that dies or fails. Each worker
compile is reported as a ``worker_compile`` event (a span on the trace timeline).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import logging
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from compile_lens import _events, _session

if TYPE_CHECKING:
    import torch

    from compile_lens.backend.piecewise import PiecewiseBackend
    from compile_lens.backend.split import SplitItem

MAX_WORKERS = 8
"""Never more worker processes than this (each holds a torch import: ~0.5–1 GB)."""
PRESTART = 3
"""Workers started with an automatic-mode backend (a split graph has three unique pieces per
size when its layers repeat; more are started if a graph has more jobs)."""
MAX_PAYLOAD = 256 * 2**20
"""A piece that serializes to more than this (real tensors inside) is compiled here."""
_ENV_PREFIXES = ("TORCHINDUCTOR_", "TORCH_", "TRITON_", "CUDA_", "PYTORCH_", "INDUCTOR_")
"""Environment a worker takes from the parent at each graph (a pre-started worker's copy is
older: e.g. ``TORCHINDUCTOR_CACHE_DIR`` set after the backend was made)."""
_AOT_LOGGER = "torch._functorch._aot_autograd.autograd_cache"
_BUILTIN_NAMESPACES = frozenset({"aten", "prims", "_c10d_functional", "c10d", "quantized",
                                 "_quantized", "rngprims", "higher_order", "inductor"})
_IMPORTABLE_MODULES = ("torch", "operator", "_operator", "math", "builtins")


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class WorkerResult:
    """What a worker process reported for one job (``error`` set when it did not store it)."""

    pid: int = 0
    start: float = 0.0
    end: float = 0.0
    legacy_key: str | None = None
    legacy_lines: list[str] = field(default_factory=list)
    cache_hit: bool = False
    error: str = ""
    events: list[tuple[str, Any, str | None]] = field(default_factory=list)


@dataclass
class Prepared:
    """The up-front key of one piece × size, computed in the plan phase (not again later)."""

    key: str | None
    lines: list[str]
    note: str
    key_seconds: float
    worker: WorkerResult | None = None


@dataclass
class SizeJob:
    """One piece × size to resolve: its arguments, torch's ``dynamic_shapes`` name, its key."""

    item: SplitItem
    gm: torch.fx.GraphModule
    args: list[Any]
    size: str
    dynamic_shapes: str
    prepared: Prepared | None = None
    payload: bytes | None = None
    runnable: Any = None
    done: bool = False


@dataclass
class PiecePlan:
    """One compiled piece: its tuple-returning graph, dispatch index, and one job per size."""

    item: SplitItem
    unwrap: bool
    sym_index: int | None
    jobs: list[SizeJob]


# -- when to run in parallel ------------------------------------------------------------------
ENV = "COMPILE_LENS_PARALLEL"
"""Sets ``parallel`` for every backend made without the argument: ``auto`` (3+ CPU cores),
``0``/``off`` never (the default), ``on`` always, or a number of workers."""
AUTO = "auto"


def setting(parallel: bool | int | str | None) -> bool | int | None:
    """The backend's effective ``parallel``: ``None`` is the automatic mode, ``False`` serial.

    Off unless asked: on the H100 host (16 cores, torch 2.11, 16 layers) the parallel cold
    compile took 37.8 s against 16.1 s serial (benchmarks/RESULTS.md, issue 12): a worker's torch
    import and CUDA context cost more than the few unique pieces of a transformer save.
    ``parallel=None`` defers to ``$COMPILE_LENS_PARALLEL``; ``"auto"`` means 3+ cores.

    Raises:
        ValueError: the variable or argument holds something else (a clear one-line message).
    """
    if parallel == AUTO:
        return None
    if isinstance(parallel, str):
        msg = f"parallel={parallel!r}: expected 'auto', True, False or a number of workers"
        raise ValueError(msg)
    if parallel is not None:
        return parallel
    raw = os.environ.get(ENV, "").strip().lower()
    if raw == AUTO:
        return None
    if raw in ("", "0", "off", "false", "no"):
        return False
    if raw in ("on", "true", "yes"):
        return True
    if raw.isdigit():
        return int(raw)
    msg = f"{ENV}={raw!r}: expected auto, on, off or a number of worker processes"
    raise ValueError(msg)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def serial_reason(backend: PiecewiseBackend) -> str:
    """Why this backend compiles serially whatever the graph (``""``: it may go parallel)."""
    setting = backend.parallel
    if setting is False or setting == 0:
        return "off"
    options = _session.current()
    if options is not None and options.cross_check:
        return ("trace(cross_check=True) compiles every piece in this process, through the "
                "legacy path")
    if backend.cache is None:
        return "no artifact cache (the workers hand their artifacts back through it)"
    if not backend.dedup:
        return "dedup=False (the jobs are the unique keys)"
    caches = _caches_off(backend)
    if caches:
        return f"{caches} (a worker hands its artifact back through them)"
    if _overrides(backend, "_compile_artifact"):
        return (f"{type(backend).__name__} compiles pieces its own way (_compile_artifact "
                f"overridden), which a worker process would not")
    if setting is None and usable_cores() <= 2:
        return (f"{usable_cores()} CPU core(s) (needs 3 or more; parallel=True or a number of "
                f"workers forces it)")
    missing = _missing_torch_feature()
    if missing:
        return missing
    return ""


def _caches_off(backend: PiecewiseBackend) -> str:
    """Which of Inductor's/AOTAutograd's caches are off for this backend's compiles, if any."""
    from torch._functorch import config as functorch_config
    from torch._inductor import config as inductor_config

    patch = backend.inductor_config
    if patch.get("force_disable_caches", getattr(inductor_config, "force_disable_caches", False)):
        return "Inductor's caches are disabled (force_disable_caches)"
    if not patch.get("fx_graph_cache", getattr(inductor_config, "fx_graph_cache", True)):
        return "Inductor's FX graph cache is off"
    if not getattr(functorch_config, "enable_autograd_cache", True):
        return "AOTAutograd's cache is off"
    return ""


def _overrides(backend: PiecewiseBackend, name: str) -> bool:
    from compile_lens.backend.piecewise import PiecewiseBackend

    return getattr(type(backend), name) is not getattr(PiecewiseBackend, name)


def worker_count(backend: PiecewiseBackend, jobs: int) -> int:
    """How many worker processes for ``jobs`` jobs (this process takes jobs too)."""
    setting = backend.parallel
    if isinstance(setting, int) and not isinstance(setting, bool):
        wanted = setting
    else:
        wanted = max(1, usable_cores() - 1)
    return max(0, min(wanted, jobs - 1, MAX_WORKERS))


def _missing_torch_feature() -> str:
    """What this torch lacks for worker compiles (feature probes, never version strings)."""
    try:
        from torch.fx._graph_pickler import GraphPickler
    except ImportError as exc:
        return f"this torch has no GraphPickler to send a piece to a worker ({exc})"
    if not hasattr(GraphPickler, "loads") or not hasattr(GraphPickler, "reducer_override"):
        return "this torch's GraphPickler lacks loads/reducer_override"
    try:
        from torch._inductor import CompiledArtifact  # noqa: F401
    except ImportError:
        return "this torch has no CompiledArtifact (nothing a worker could hand back)"
    return ""


def unsendable(gm: torch.fx.GraphModule) -> str:
    """Why a fresh worker process could not rebuild ``gm`` (``""`` when it can).

    A custom op lives in whatever module registered it, and a plain function in its module; a
    worker imports only torch, so both stay in this process.
    """
    import torch

    for node in gm.graph.nodes:
        if node.op != "call_function":
            continue
        target = node.target
        if isinstance(target, torch._ops.OpOverload | torch._ops.OpOverloadPacket):
            namespace = str(target).split(".", 1)[0]  # "ns.op" or "ns.op.overload"
            if namespace not in _BUILTIN_NAMESPACES:
                return f"it calls the custom op {target} (a worker process cannot import it)"
            continue
        if isinstance(target, torch._ops.HigherOrderOperator):
            continue
        module = str(getattr(target, "__module__", "") or "")
        if not module.startswith(_IMPORTABLE_MODULES):
            name = getattr(target, "__qualname__", repr(target))
            return f"it calls {module}.{name} (a worker process may not import it)"
    return ""


# -- the two phases ---------------------------------------------------------------------------
def compile_pieces(backend: PiecewiseBackend, graph_key: str,
                   pieces: Sequence[tuple[SplitItem, Sequence[Any]]]) -> list[Any]:
    """A ``PieceRunner`` per piece, in order; unique pieces compiled concurrently where allowed."""
    from compile_lens.backend.runner import PieceRunner

    plans = [backend.plan_piece(item, args) for item, args in pieces]
    jobs = [job for plan in plans for job in plan.jobs]
    reason = serial_reason(backend)
    if reason == "off" or not jobs:
        pass
    elif reason:
        _note(f"{graph_key}: pieces compiled one after the other: {reason}")
    else:
        _run_parallel(backend, graph_key, jobs)
    unused = backend.take_warm_pool()  # pre-started for the first graph; it did not need them
    if unused is not None:
        unused.close(quick=True)
        backend.worker_pids.extend(unused.pids)
    backend.prepared.clear()
    for job in jobs:
        if job.prepared is not None:
            backend.prepared[(job.item.submod, job.size)] = job.prepared
    try:
        for job in jobs:
            if not job.done:
                job.runnable = backend.resolve_size(graph_key, job)
                job.done = True
    finally:
        backend.prepared.clear()
    runners = []
    for plan in plans:
        general = plan.jobs[0].runnable
        sized = {int(j.size): j.runnable for j in plan.jobs[1:]}
        runners.append(PieceRunner(general, sized, plan.sym_index, plan.unwrap))
    return runners


def _run_parallel(backend: PiecewiseBackend, graph_key: str, jobs: list[SizeJob]) -> None:
    """Plan keys, pick the jobs, compile them in workers and here; never raises for a worker."""
    seen: set[str] = set()
    todo: list[SizeJob] = []
    for job in jobs:
        where = _events.where(graph_key, job.item.submod, job.size)
        _events.emit(_events.KEY_SCOPE, {**where, "open": True})
        start = time.perf_counter()
        try:
            key, lines, note = backend._standalone_key(job.gm, job.args, job.dynamic_shapes)
        finally:
            _events.emit(_events.KEY_SCOPE, {**where, "open": False})
        job.prepared = Prepared(key, lines, note, time.perf_counter() - start)
        if key is None:
            continue
        backend.key_seconds.append(job.prepared.key_seconds)
        if key in seen or key in backend._by_key or _cached(backend, key):
            continue
        seen.add(key)
        todo.append(job)
    workers = worker_count(backend, len(todo))
    if workers == 0:
        return
    local: list[SizeJob] = []
    remote: list[SizeJob] = []
    for job in todo:
        why = unsendable(job.gm) or _serialize(job)
        if why:
            _note(f"{graph_key} {job.item.submod} [{job.size}]: compiled in this process: {why}")
            local.append(job)
        else:
            remote.append(job)
    if not remote:
        return
    workers = min(workers, len(remote))
    context = _job_context(backend)
    # Each worker's own Inductor compile pool (Triton / C++ kernels of one piece) gets its share
    # of the cores; this process keeps its pool.
    context["compile_threads"] = max(1, usable_cores() // (workers + 1))
    pool = backend.take_warm_pool() or WorkerPool()
    try:
        try:
            pool.spawn(max(0, workers - pool.size))
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            if pool.size == 0:
                _note(f"{graph_key}: pieces compiled one after the other: worker processes "
                      f"could not start ({type(exc).__name__}: {exc})")
                return
        pool.run(remote, context)
        for job in local:  # what only this process can compile comes first
            _compile_here(backend, graph_key, job)
        while (job := pool.steal()) is not None:
            _compile_here(backend, graph_key, job)
        results = pool.wait()
    finally:
        pool.close()
        backend.worker_pids.extend(pool.pids)
    for job in remote:
        result = results.get(id(job))
        if job.prepared is None or result is None:
            continue
        job.prepared.worker = result
        if not result.start:
            continue
        _events.emit(_events.WORKER_COMPILE, {
            "graph_key": graph_key, "submod": job.item.submod, "size": job.size,
            "pid": result.pid, "start": result.start, "end": result.end,
            "key": job.prepared.key, "ok": not result.error, "note": result.error})


def adopt(result: Any, worker: WorkerResult, seen: set[Any] | None = None) -> None:
    """Report a piece × size a worker compiled (and this process loaded) as that compile."""
    from compile_lens._events import Outcome

    result.outcome = Outcome.CACHE_HIT if worker.cache_hit else Outcome.COMPILED
    result.legacy.key, result.legacy.lines = worker.legacy_key, list(worker.legacy_lines)
    result.legacy.calls = 1 if worker.legacy_key else 0
    result.notes.append(
        f"compiled in worker process {worker.pid} in {worker.end - worker.start:.2f} s and "
        f"loaded here from the artifact cache")
    replay(worker.events, seen or set())


def _event_kind(name: str, metadata: Any) -> Any:
    """What makes two events "the same kind" for replay (chromium timings never are)."""
    if name == "chromium_event":
        return None
    if name == "artifact" and isinstance(metadata, dict):
        return (name, metadata.get("name"))
    return name


@contextlib.contextmanager
def seen_events(worker: WorkerResult | None) -> Iterator[set[Any]]:
    """The kinds of structured-trace events this process emits in the block (loading a worker's
    artifact emits e.g. its output code again): those are not replayed a second time."""
    seen: set[Any] = set()
    if worker is None or not worker.events:
        yield seen
        return

    class _Kinds(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            metadata = getattr(record, "metadata", None) or {}
            name = next(iter(metadata), "")
            seen.add(_event_kind(name, metadata.get(name)))

    handler = _Kinds(level=logging.DEBUG)
    trace_log = logging.getLogger("torch.__trace")
    trace_log.addHandler(handler)
    try:
        yield seen
    finally:
        trace_log.removeHandler(handler)


def replay(events: list[tuple[str, Any, str | None]], seen: set[Any]) -> None:
    """Re-emit a worker compile's structured-trace events here, inside the piece's scope.

    The trace then reads that compile's passes, cache answers and output code as if it had run
    in this process (chromium timings keep the worker's own timestamps). Kinds of events the
    load already emitted here (``seen``) are skipped, so nothing is counted twice. Nothing is
    built when no handler listens (an untraced run sends no events).
    """
    from torch._logging import trace_structured

    for name, metadata, payload in events:
        kind = _event_kind(name, metadata)
        if kind is not None and kind in seen:
            continue
        trace_structured(name, metadata_fn=lambda m=metadata: m,
                         payload_fn=lambda p=payload: p, expect_trace_id=False)


def prestart(backend: PiecewiseBackend) -> WorkerPool | None:
    """Workers started when the backend is made (automatic mode only), so their torch import
    overlaps Dynamo's tracing instead of following it. The backend's first graph uses them (and
    more if it has more jobs) or, with nothing to compile (a warm start), ends them; a backend
    that never compiles ends them when it is collected or at exit."""
    if backend.parallel is not None or serial_reason(backend):
        return None
    count = min(PRESTART, usable_cores() - 1, MAX_WORKERS)
    if count < 1:
        return None
    pool = WorkerPool()
    try:
        pool.spawn(count)
    except (OSError, ValueError, subprocess.SubprocessError):
        pool.close(quick=True)
        return None
    weakref.finalize(backend, pool.close, quick=True)
    return pool


def _compile_here(backend: PiecewiseBackend, graph_key: str, job: SizeJob) -> None:
    """A job this process takes: the serial path, in its own piece scope, key already known."""
    if job.prepared is not None:
        backend.prepared[(job.item.submod, job.size)] = job.prepared
    try:
        job.runnable = backend.resolve_size(graph_key, job)
    finally:
        backend.prepared.pop((job.item.submod, job.size), None)
    job.done = True


def _cached(backend: PiecewiseBackend, key: str) -> bool:
    cache = backend.cache
    return cache is not None and cache.path_for(key).exists()


def _note(message: str) -> None:
    _events.emit(_events.NOTE, {"message": message})


# -- what a worker needs ----------------------------------------------------------------------
def _no_fake_mode() -> None:
    """Unpickles a ``FakeTensorMode`` reference as ``None`` (the receiver sets its own)."""
    return None


def _pickler() -> Any:
    """torch's ``GraphPickler``, taught to leave ``FakeTensorMode`` objects out.

    torch clears the mode of a pickled fake tensor but not the mode of its view base; the
    unpickler puts its own mode on both, so dropping the reference loses nothing.
    """
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx._graph_pickler import GraphPickler

    class _Pickler(GraphPickler):
        def reducer_override(self, obj: object) -> Any:
            if isinstance(obj, FakeTensorMode):
                return (_no_fake_mode, ())
            return super().reducer_override(obj)

    return _Pickler


def _serialize(job: SizeJob) -> str:
    """Serialize the job's graph and fake arguments (``""``), or say why not."""
    import torch
    from torch._subclasses.fake_tensor import unset_fake_temporarily
    from torch.fx._graph_pickler import Options

    try:
        lazy = _is_lazy(job.gm)
        pickler = _pickler()
        fields = {f.name for f in dataclasses.fields(Options)}
        wanted = {"ops_filter": None, "node_metadata_key_filter": _keep_meta}
        options = Options(**{k: v for k, v in wanted.items() if k in fields})
        # An exact-size compile's arguments are plain static fake tensors in a mode of their
        # own, without a shape environment (``runner.concrete_args``), and AOTAutograd keys on
        # that ("dynamic" or not): the worker makes them the same way again.
        args_mode = _args_fake_mode(job.args)
        static_args = (args_mode is not None and args_mode is not _graph_fake_mode(job.gm)
                       and getattr(args_mode, "shape_env", None) is None)
        with unset_fake_temporarily():  # the backend runs inside Dynamo's fake mode
            data = pickler.dumps((job.gm, list(job.args)), options)
    except Exception as exc:  # whatever GraphPickler cannot carry stays here
        return f"GraphPickler cannot serialize it ({type(exc).__name__}: {str(exc)[:200]})"
    if len(data) > MAX_PAYLOAD:
        return f"it serializes to {len(data) / 2**20:.0f} MiB (real tensors in the graph)"
    # The module's attribute order and class decide its AOTAutograd key (the key hashes its
    # __dict__ in order), so the worker rebuilds both exactly.
    job.payload = pickle.dumps({
        "graph": data, "static_args": static_args, "lazy": lazy,
        "order": list(job.gm.__dict__), "dynamic_shapes": job.dynamic_shapes,
        "key": job.prepared.key if job.prepared else None, "grad": torch.is_grad_enabled(),
    })
    return ""


def _args_fake_mode(args: Sequence[Any]) -> Any:
    """The fake mode the arguments' own fake tensors belong to (not the ambient one)."""
    from torch._subclasses.fake_tensor import FakeTensor

    for value in args:
        if isinstance(value, FakeTensor):
            return value.fake_mode
    return None


def _graph_fake_mode(gm: Any) -> Any:
    """The fake mode of the graph's own metadata (``example_value``/``val``), if any."""
    from torch._subclasses.fake_tensor import FakeTensor

    for node in gm.graph.nodes:
        for key in ("example_value", "val"):
            value = node.meta.get(key)
            if isinstance(value, FakeTensor):
                return value.fake_mode
    return None


def _keep_meta(key: str) -> bool:
    """Node metadata sent to a worker: not the module/source stacks (unpicklable objects, as
    torch's own filter), not Dynamo's ``grapharg`` (it holds the *real* input, e.g. a weight;
    only Dynamo reads it, never AOTAutograd or Inductor, and no cache key hashes node meta)."""
    return key not in ("source_fn_stack", "nn_module_stack", "fwd_source_fn_stack", "grapharg")


def _is_lazy(gm: Any) -> bool:
    try:
        from torch.fx._lazy_graph_module import _LazyGraphModule
    except ImportError:
        return False
    return isinstance(gm, _LazyGraphModule)


def _job_context(backend: PiecewiseBackend) -> dict[str, Any]:
    """What every job of this call shares: configs, the cache, whether to keep factor lines."""
    import torch

    context: dict[str, Any] = {
        "cache_dir": str(backend.cache.directory) if backend.cache is not None else "",
        "inductor_patch": dict(backend.inductor_config),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "factor_lines": logging.getLogger(_AOT_LOGGER).isEnabledFor(logging.DEBUG),
        "record_events": _session.current() is not None,
        "environ": {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)},
    }
    for name, module in (("inductor", "torch._inductor.config"),
                         ("functorch", "torch._functorch.config")):
        context[name] = _config_values(importlib.import_module(module))
    return context


def _config_values(config: Any) -> dict[str, Any]:
    """Every config value a worker can receive (those that pickle: not custom pass objects,
    which a worker could not run anyway; a key that depends on one then differs, and the
    artifact cache refuses the worker's artifact, so the parent compiles that piece)."""
    copy = getattr(config, "get_config_copy", None) or getattr(config, "save_config_portable", None)
    if copy is None:
        return {}
    values: dict[str, Any] = {}
    for key, value in copy().items():
        try:
            pickle.dumps(value)
        except Exception:  # a callable, a class instance: stays here
            continue
        values[key] = value
    return values


# -- the pool ---------------------------------------------------------------------------------
def _send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (size,) = struct.unpack("<Q", head)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class WorkerPool:
    """Worker processes fed from one queue; this process steals from the queue's back.

    One thread per worker waits for it to be ready (torch imported), then hands it jobs from the
    front of the queue until the queue is empty. The main thread (which compiles too) takes
    from the back. ``close`` ends every worker and reaps it, whatever happened.
    """

    def __init__(self) -> None:
        self.context: dict[str, Any] = {}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.pids: list[int] = []
        self._queue: list[SizeJob] = []
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._results: dict[int, WorkerResult] = {}
        self._taken = 0
        self._go = threading.Event()
        self._closed = False

    @property
    def size(self) -> int:
        return len(self.processes)

    def spawn(self, count: int) -> None:
        """Start ``count`` more workers; each imports torch, then waits for ``run``."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        for _ in range(count):
            process = subprocess.Popen(
                [sys.executable, "-m", "compile_lens.backend.parallel"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
            self.processes.append(process)
            self.pids.append(process.pid)
            thread = threading.Thread(target=self._feed, args=(process,), daemon=True,
                                      name=f"compile_lens-worker-{process.pid}")
            self._threads.append(thread)
            thread.start()

    def run(self, jobs: list[SizeJob], context: dict[str, Any]) -> None:
        """Queue ``jobs``; every worker (started or still starting) begins taking them."""
        with self._lock:
            self._queue = list(jobs)
            self.context = context
        self._go.set()

    def steal(self) -> SizeJob | None:
        """The last queued job for this process to compile, or ``None`` when none is left.

        The first job is kept for the workers until one of them has taken a job: otherwise a
        slow worker start would leave everything to this process, and a job to wait for.
        """
        with self._lock:
            if len(self._queue) > (0 if self._taken else 1):
                return self._queue.pop()
            return None

    def _take(self) -> SizeJob | None:
        with self._lock:
            if not self._queue:
                return None
            self._taken += 1
            return self._queue.pop(0)

    def _feed(self, process: subprocess.Popen[bytes]) -> None:
        """Runs in a thread: hand jobs to one worker until the queue is empty or it fails."""
        if process.stdin is None or process.stdout is None:
            return
        job: SizeJob | None = None
        try:
            ready = _receive(process.stdout)
            if ready[0] != "ready":
                return
            self._go.wait()
            if self._closed:
                return
            _send(process.stdin, ("context", self.context))
            while (job := self._take()) is not None:
                _send(process.stdin, ("job", job.payload))
                reply = _receive(process.stdout)
                self._results[id(job)] = WorkerResult(**reply)
                job = None
        except Exception as exc:  # a thread: whatever happened, the parent compiles the job
            if job is not None:  # the job it held fails; the parent compiles it later
                self._results[id(job)] = WorkerResult(
                    pid=process.pid, error=f"worker process {process.pid} failed "
                    f"({type(exc).__name__}: {exc}; exit code {process.poll()})")

    def wait(self) -> dict[int, WorkerResult]:
        """Wait until every worker has finished its last job; results by ``id(job)``."""
        for thread in self._threads:
            thread.join()
        with self._lock:
            left, self._queue = self._queue, []
        for job in left:  # every worker failed before taking it: the parent compiles it later
            self._results[id(job)] = WorkerResult(error="no worker process took it (none started)")
        return dict(self._results)

    def close(self, quick: bool = False) -> None:
        """Stop and reap every worker (a polite ``stop``, then terminate, then kill).

        ``quick``: terminate at once (an unused pre-started pool, closed from a finalizer).
        """
        if self._closed:
            return  # already ended (a used pre-started pool, then its finalizer)
        self._closed = True
        self._go.set()
        if quick:
            for process in self.processes:
                if process.poll() is None:
                    process.terminate()
        for process in self.processes:
            try:
                if process.stdin is not None:
                    _send(process.stdin, ("stop",))
                    process.stdin.close()
            except (OSError, ValueError):  # a worker already gone, or its pipe closed
                pass
        deadline = time.monotonic() + 10
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if process.stdout is not None:
                process.stdout.close()
        for thread in self._threads:
            thread.join(timeout=5)


# -- the worker process -----------------------------------------------------------------------
def _compile_job(context: dict[str, Any], payload: bytes) -> dict[str, Any]:
    """Run in a worker: rebuild the piece, compile it for real, store it under the parent's key."""
    import torch
    from torch._dispatch.python import enable_python_dispatcher
    from torch._dynamo.utils import counters
    from torch._inductor import config as inductor_config
    from torch._subclasses.fake_tensor import FakeTensorMode
    from torch.fx.experimental.symbolic_shapes import ShapeEnv

    from compile_lens._torch import keys
    from compile_lens.backend.artifact_cache import ArtifactCache

    start = time.time()
    out: dict[str, Any] = {"pid": os.getpid(), "start": start}
    try:
        job = pickle.loads(payload)
        mode = FakeTensorMode(shape_env=ShapeEnv())
        gm, args = _pickler().loads(job["graph"], mode)
        if job.get("static_args"):
            args = _static_args(args)
        gm = _rebuild(gm, job["lazy"], job["order"])
        torch.set_grad_enabled(job["grad"])
        hits = int(counters["aot_autograd"]["autograd_cache_hit"])
        with (_recorded(context, out), inductor_config.patch(context.get("inductor_patch") or {}),
              mode, enable_python_dispatcher(), keys.capture_legacy_key() as legacy):
            artifact = torch._inductor.standalone_compile(
                gm, args, dynamic_shapes=job["dynamic_shapes"])
        out["cache_hit"] = int(counters["aot_autograd"]["autograd_cache_hit"]) > hits
        out["legacy_key"], out["legacy_lines"] = legacy.key, legacy.lines
        ArtifactCache(context["cache_dir"]).store(job["key"], artifact)
    except Exception as exc:  # reported to the parent, which compiles the piece itself
        out["error"] = f"worker compile failed: {type(exc).__name__}: {str(exc)[:300]}"
    out["end"] = time.time()
    return out


_NOT_REPLAYED = frozenset({"str", "dynamo_start", "compilation_metrics", "bwd_compilation_metrics",
                           "dynamo_output_graph", "dynamo_guards", "dynamo_cpp_guards_str"})
"""Worker events about the worker itself (its string table, frames, metrics), not the piece."""


class _Collect(logging.Handler):
    """Keeps a worker's structured-trace records as ``(name, metadata, payload)``."""

    def __init__(self, events: list[tuple[str, Any, str | None]]) -> None:
        super().__init__(level=logging.DEBUG)
        self.events = events

    def emit(self, record: logging.LogRecord) -> None:
        metadata = getattr(record, "metadata", None) or {}
        name = next(iter(metadata), "")
        if name and name not in _NOT_REPLAYED:
            payload = getattr(record, "payload", None)
            self.events.append((name, metadata[name], None if payload is None else str(payload)))


@contextlib.contextmanager
def _recorded(context: dict[str, Any], out: dict[str, Any]) -> Iterator[None]:
    """While the parent traces, keep this compile's structured-trace events for it to replay."""
    if not context.get("record_events"):
        yield
        return
    events: list[tuple[str, Any, str | None]] = []
    handler = _Collect(events)
    trace_log = logging.getLogger("torch.__trace")
    trace_log.addHandler(handler)
    try:
        yield
    finally:
        trace_log.removeHandler(handler)
        out["events"] = events


def _static_args(args: list[Any]) -> list[Any]:
    """Exact-size arguments made as the parent made them: ``empty_strided`` in a fresh
    ``FakeTensorMode()`` without a shape environment (``runner.concrete_args``)."""
    import torch
    from torch._subclasses.fake_tensor import FakeTensorMode

    out: list[Any] = []
    with FakeTensorMode():
        for arg in args:
            if isinstance(arg, torch.Tensor):
                out.append(torch.empty_strided(
                    [int(d) for d in arg.shape], [int(s) for s in arg.stride()],
                    dtype=arg.dtype, device=arg.device))
            else:
                out.append(arg)
    return out


def _rebuild(gm: Any, lazy: bool, order: list[str]) -> Any:
    """The unpickled module as the parent had it: same class (lazy or not), same attribute order."""
    import torch

    cls: Any = torch.fx.GraphModule
    if lazy:
        from torch.fx._lazy_graph_module import _LazyGraphModule

        cls = _LazyGraphModule
    new = cls.__new__(cls)
    state = gm.__dict__
    new.__dict__.update({k: state[k] for k in order if k in state})
    new.__dict__.update({k: v for k, v in state.items() if k not in order})
    new._graph.owning_module = new
    return new


def _apply_context(context: dict[str, Any]) -> None:
    """Set the parent's configs in this worker (what the cache key reads must match)."""
    import torch

    environ = context.get("environ")
    if isinstance(environ, dict):
        for key in [k for k in os.environ if k.startswith(_ENV_PREFIXES) and k not in environ]:
            del os.environ[key]
        os.environ.update({str(k): str(v) for k, v in environ.items()})

    for name, module in (("inductor", "torch._inductor.config"),
                         ("functorch", "torch._functorch.config")):
        saved = context.get(name)
        if saved:
            config = importlib.import_module(module)
            for key, value in saved.items():
                try:
                    setattr(config, key, value)
                except (AttributeError, TypeError, ValueError):
                    continue
    # The parent's share of cores for this worker's kernel compiles (compile_threads is not
    # part of any cache key); 1 compiles them in this process.
    from torch._inductor import config as inductor_config

    inductor_config.compile_threads = int(context.get("compile_threads") or 1)
    torch.use_deterministic_algorithms(bool(context.get("deterministic")),
                                       warn_only=bool(context.get("deterministic_warn_only")))
    if context.get("factor_lines"):
        logger = logging.getLogger(_AOT_LOGGER)
        logger.setLevel(logging.DEBUG)
        logger.addFilter(lambda record: False)  # compute the lines, print nothing


def worker_main(stdin: IO[bytes], stdout: IO[bytes]) -> int:
    """The worker loop: ``ready``, then a context, then one reply per job until ``stop``/EOF."""
    import torch._inductor.compile_fx  # noqa: F401  (the import is the start-up cost)

    _send(stdout, ("ready", os.getpid()))
    context: dict[str, Any] = {}
    while True:
        try:
            message = _receive(stdin)
        except EOFError:
            return 0
        if message[0] == "stop":
            return 0
        if message[0] == "context":
            context = message[1]
            _apply_context(context)
        elif message[0] == "job":
            _send(stdout, _compile_job(context, message[1]))


def _main() -> int:
    # The protocol owns the real stdout; anything the compile prints goes to stderr instead.
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    return worker_main(sys.stdin.buffer, protocol)


if __name__ == "__main__":
    sys.exit(_main())

