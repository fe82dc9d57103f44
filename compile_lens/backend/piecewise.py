"""``PiecewiseBackend``: vLLM's piecewise compilation for any model, as a ``torch.compile`` backend.

For each Dynamo graph it (1) splits at the splitting ops, (2) computes each piece's standalone
cache key up front, (3) compiles each *unique* key once with real Inductor
(``standalone_compile``), symbolic in the dynamic dimension plus exact-size compiles for
``compile_sizes``, reusing the artifact for identical pieces (with ``parallel=``, the unique ones
compile concurrently in worker processes: ``backend/parallel.py``; off by default), and (4) keeps a
persistent artifact cache so a second process loads instead of compiling. With ``cudagraph_sizes``
(5) it captures CUDA graphs per size in vLLM's modes (``cudagraph_mode``; ``backend/dispatch.py``):
each compiled piece (PIECEWISE, ``backend/cudagraphs.py``), the whole graph with its splitting ops
(FULL, ``backend/full_graph.py``), or full graphs at the decode sizes and piecewise graphs at the
others (FULL_AND_PIECEWISE). It reports every step through ``compile_lens._events``; it never reads
the recorder, except to honour ``trace(cross_check=True)`` (compile every piece through the legacy
path, no dedup, so both keys exist for every piece).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch

from compile_lens import _events, _session
from compile_lens._events import Outcome
from compile_lens._fx import describe_nodes, readable_code
from compile_lens._torch import keys
from compile_lens.backend import dispatch
from compile_lens.backend import parallel as parallel_compile
from compile_lens.backend.artifact_cache import ArtifactCache, ArtifactFileError
from compile_lens.backend.full_graph import check_ops
from compile_lens.backend.graph_memory import GraphContext
from compile_lens.backend.graph_plan import GraphPlan, plan_graph, wrap_model, wrap_piece
from compile_lens.backend.runner import PieceRunner, concrete_args, first_symbolic_index
from compile_lens.backend.split import SplitItem, as_tuple_returning, returns_tuple, split_graph
from compile_lens.model.events import GENERAL_SIZE

_GRAPH_COUNTER = itertools.count()
DEFAULT_SPLITTING_OPS: tuple[Any, ...] = (torch.nn.functional.scaled_dot_product_attention,)


class PiecewiseBackend:
    """A ``torch.compile`` backend that compiles a graph piece by piece.

    Args:
        splitting_ops: ops to split at; custom ops as ``"ns::op"`` strings, torch functions as
            objects (default: ``scaled_dot_product_attention``). They run eagerly.
        compile_sizes: exact sizes of the dynamic dimension to compile specialised code for.
        dedup: compile each unique standalone key once (torch ≥ 2.12 computes the key with its
            API; older torch with a probe of ``standalone_compile``, see ``keys``).
        cache_dir: the persistent artifact cache (default: ``$COMPILE_LENS_CACHE_DIR`` or the user
            cache dir); ``use_artifact_cache=False`` turns it off.
        inductor_config: Inductor config patches applied to both the key and the compile.
        cudagraph_sizes: the sizes of the dynamic dimension CUDA graphs are captured at
            (graphs on CUDA only); a call pads to the next size, larger calls run without graphs.
        cudagraph_mode: vLLM's modes: ``"piecewise"`` (each compiled piece captured, the
            splitting ops eager between; the default when ``cudagraph_sizes`` are given),
            ``"full"`` (the whole graph, splitting ops included, captured per size; they must be
            capturable), ``"full_and_piecewise"`` (full graphs at ``cudagraph_full_sizes``,
            piecewise graphs at the other sizes) or ``"none"``.
        cudagraph_full_sizes: the decode sizes captured as full graphs in
            ``"full_and_piecewise"`` mode (added to the capture sizes).
        parallel: compile the unique pieces concurrently in worker processes
            (``backend/parallel.py``): ``None`` (default) as ``$COMPILE_LENS_PARALLEL`` says
            (unset: off), ``"auto"`` where there are 3+ CPU cores, ``True`` always, ``False``
            never, or a number of worker processes.

    Raises:
        CudaGraphModeError: a mode or sizes that do not fit together, or a full-graph mode with
            a splitting op tagged ``torch.Tag.cudagraph_unsafe``.
    """

    compiler_name = "compile_lens.piecewise"

    def __init__(
        self,
        *,
        splitting_ops: Sequence[Any] = DEFAULT_SPLITTING_OPS,
        compile_sizes: Sequence[int] = (),
        dedup: bool = True,
        cache_dir: str | None = None,
        use_artifact_cache: bool = True,
        inductor_config: dict[str, Any] | None = None,
        cudagraph_sizes: Sequence[int] = (),
        cudagraph_mode: str | None = None,
        cudagraph_full_sizes: Sequence[int] | None = None,
        parallel: bool | int | str | None = None,
    ) -> None:
        self.splitting_ops = list(splitting_ops)
        self.compile_sizes = sorted({int(s) for s in compile_sizes})
        self.dedup = dedup
        self.inductor_config = dict(inductor_config or {})
        self.key_api = keys.standalone_key_api() is not None
        self.cache = ArtifactCache(cache_dir) if use_artifact_cache else None
        self.cudagraph_sizes = sorted({int(s) for s in cudagraph_sizes})
        self.cudagraphs = dispatch.settings(cudagraph_mode, self.cudagraph_sizes,
                                            cudagraph_full_sizes)
        self._report_cudagraphs = cudagraph_mode is not None or bool(self.cudagraph_sizes)
        if self.cudagraphs.has_full:
            check_ops(self.splitting_ops, str(cudagraph_mode))
        self.graph_context = GraphContext()
        self._by_key: dict[str, tuple[Any, str]] = {}
        self.parallel = parallel_compile.setting(parallel)
        self.prepared: dict[tuple[str, str], parallel_compile.Prepared] = {}
        self.worker_pids: list[int] = []  # every worker process started (all ended and reaped)
        self._warm_pool = parallel_compile.prestart(self)
        self.key_seconds: list[float] = []  # cost of each up-front key (benchmarks read it)
        self._lines_session: _session.SessionOptions | None = None
        self._lines_sent: set[str] = set()  # keys whose lines went out in that trace() block

    def __call__(self, gm: torch.fx.GraphModule, example_inputs: Sequence[Any]) -> Callable[..., Any]:
        """Dynamo entry point: split, key, compile or reuse every piece; return the stitched graph."""
        from torch._dispatch.python import enable_python_dispatcher
        from torch._guards import detect_fake_mode

        graph_key = f"pw{next(_GRAPH_COUNTER)}"
        split_gm, items = split_graph(gm, self.splitting_ops)
        _events.emit(_events.GRAPH, lambda: {
            "graph_key": graph_key, "backend": self.compiler_name, "code": readable_code(gm),
            "nodes": describe_nodes(gm, {n: i.submod for i in items for n in i.nodes}),
            "split_ops": [str(i.split_op) for i in items if i.is_split_op],
        })
        _events.emit(_events.SPLIT, lambda: {"graph_key": graph_key, "pieces": _piece_rows(items)})
        split_ops = [str(i.split_op) for i in items if i.is_split_op]
        if self.cudagraphs.has_full:
            check_ops(_split_targets(items), self.cudagraphs.mode.lower())
        if self._report_cudagraphs:
            _events.emit(_events.CUDAGRAPHS, self.cudagraphs.payload())
        if not self.key_api:
            _events.emit(_events.NOTE, {"message": keys.NO_STANDALONE_KEY_NOTE})
        plan = self._graph_plan(graph_key, split_gm, example_inputs)
        fake_mode = detect_fake_mode(example_inputs)
        fake_args = [
            fake_mode.from_tensor(t) if fake_mode and isinstance(t, torch.Tensor) else t
            for t in example_inputs
        ]
        interpreter = _PieceInterpreter(split_gm, self, graph_key, items, plan)
        # The python dispatcher is on while Dynamo propagates fake tensors too: without it some
        # ops (SDPA on CUDA) fall back to real kernels and specialise the dynamic size.
        with fake_mode or contextlib.nullcontext(), enable_python_dispatcher():
            output = interpreter.run(*fake_args)
        forward = _fast_forward(split_gm, items)
        if plan is None:
            return forward
        return wrap_model(plan, forward, fake_args, output, split_ops)

    # -- one piece ------------------------------------------------------------------------
    def compile_piece(self, graph_key: str, item: SplitItem, args: Sequence[Any]) -> PieceRunner:
        """Compile (or reuse) ``item`` for the general shape and every compile size."""
        plan = self.plan_piece(item, args)
        for job in plan.jobs:
            job.runnable = self.resolve_size(graph_key, job)
        sized = {int(j.size): j.runnable for j in plan.jobs[1:]}
        return PieceRunner(plan.jobs[0].runnable, sized, plan.sym_index, plan.unwrap)

    def take_warm_pool(self) -> parallel_compile.WorkerPool | None:
        """The workers started with this backend, once (the first graph with jobs uses them)."""
        pool, self._warm_pool = self._warm_pool, None
        return pool

    def plan_piece(self, item: SplitItem, args: Sequence[Any]) -> parallel_compile.PiecePlan:
        """The sizes ``item`` is compiled at: the general one, then each compile size."""
        unwrap = not returns_tuple(item.graph)
        gm = as_tuple_returning(item.graph) if unwrap else item.graph
        sym_index = first_symbolic_index(args)
        jobs = [parallel_compile.SizeJob(item, gm, list(args), GENERAL_SIZE, "from_graph")]
        if sym_index is not None:
            for size in self.compile_sizes:
                concrete = concrete_args(args, args[sym_index], size)
                if concrete is not None:
                    jobs.append(parallel_compile.SizeJob(
                        item, gm, concrete, str(size), "from_example_inputs"))
        return parallel_compile.PiecePlan(item, unwrap, sym_index, jobs)

    def resolve_size(self, graph_key: str, job: parallel_compile.SizeJob) -> Any:
        """One piece × size through the serial path (``_compile_size``)."""
        return self._compile_size(graph_key, job.item, job.gm, job.args, job.size,
                                  job.dynamic_shapes)

    def _compile_size(
        self, graph_key: str, item: SplitItem, gm: torch.fx.GraphModule, args: list[Any],
        size: str, dynamic_shapes: str,
    ) -> Any:
        """One piece at one size: key, then reuse, load or compile; always closes its scope.

        ``piece_end`` goes out in ``finally``: a compile that raises still closes the piece scope
        the recorder opened at ``piece_start`` (``outcome="failed"``), so the events after it are
        not filed under the failed piece; the exception propagates unchanged.
        """
        where = _events.where(graph_key, item.submod, size)
        _events.emit(_events.PIECE_START, where)
        start = time.perf_counter()
        result = _PieceResult()
        try:
            runnable = self._resolve(item, gm, args, dynamic_shapes, result, start,
                                     self.prepared.get((item.submod, size)))
            result.finished = True
        except BaseException as exc:
            result.outcome = Outcome.FAILED
            first_line = (str(exc).strip().splitlines() or [""])[0][:300]
            result.notes.append(f"the piece compile raised {type(exc).__name__}: {first_line}")
            raise
        finally:
            self._report(where, result, time.perf_counter() - start)
        return runnable

    def _resolve(self, item: SplitItem, gm: torch.fx.GraphModule, args: list[Any],
                 dynamic_shapes: str, result: _PieceResult, start: float,
                 prepared: parallel_compile.Prepared | None = None) -> Any:
        """The runnable for this piece and size: deduplicated, loaded, or compiled (and stored).

        ``prepared``: the key the parallel plan already computed (and, if a worker process
        compiled this key, what it reported: the cache load below is then that compile).
        """
        options = _session.current()
        cross_check = bool(options and options.cross_check)
        if prepared is not None:
            key, result.key_lines, note = prepared.key, prepared.lines, prepared.note
            result.key, result.key_seconds = key, prepared.key_seconds
        else:
            key, result.key_lines, note = self._standalone_key(gm, args, dynamic_shapes)
            result.key, result.key_seconds = key, time.perf_counter() - start
            if key is not None:
                self.key_seconds.append(result.key_seconds)
        result.notes.append(note)
        worker = prepared.worker if prepared is not None else None
        if worker is not None and worker.error:
            result.notes.append(worker.error)
        runnable = None
        if key is not None and not cross_check:
            if self.dedup and key in self._by_key:
                runnable, result.dedup_of = self._by_key[key]
                result.outcome = Outcome.DEDUPLICATED
            elif self.cache is not None:
                with parallel_compile.seen_events(worker) as seen:
                    found = self.cache.load(key)
                runnable = found.artifact
                if runnable is not None:
                    result.outcome, result.path = Outcome.LOADED, str(self.cache.path_for(key))
                    if worker is not None and not worker.error:
                        parallel_compile.adopt(result, worker, seen)
                elif found.note:
                    result.notes.append(found.note)
                    _events.emit(_events.NOTE, {"message": found.note})
        if runnable is None:
            hits_before = _aot_cache_hits()
            with keys.capture_legacy_key() as result.legacy:
                runnable = self._compile_artifact(gm, args, dynamic_shapes)
            result.outcome = Outcome.CACHE_HIT if _aot_cache_hits() > hits_before else Outcome.COMPILED
            if key is not None and self.cache is not None and not cross_check:
                result.path, store_note = self._store(key, runnable)
                result.notes.append(store_note)
        if key is not None and key not in self._by_key:
            self._by_key[key] = (runnable, item.submod)
        return runnable

    def _report(self, where: _events.PieceStart, result: _PieceResult, seconds: float) -> None:
        """Emit ``piece_end`` and the factor lines of both keys (the failed path never raises)."""
        try:
            _events.emit(_events.PIECE_END, _events.piece_end(
                where, result.outcome, seconds, standalone_key=result.key,
                legacy_key=result.legacy.key, dedup_of=result.dedup_of,
                key_seconds=result.key_seconds, artifact_path=result.path,
                note="; ".join(n for n in result.notes if n)))
            for k, lines in ((result.key, result.key_lines),
                             (result.legacy.key, result.legacy.lines)):
                if k and lines and self._lines_first_time(k):
                    _events.emit(_events.KEY_LINES,
                                 lambda k=k, lines=lines: {"key": k, "lines": lines})
        except Exception:
            if result.finished:
                raise
            # never mask the compile's own exception with the report's

    def _lines_first_time(self, key: str) -> bool:
        """Whether ``key``'s factor lines go out: once per key and ``trace()`` block (the parser
        keeps a key's first lines; a deduplicated piece, and a legacy key equal to the
        standalone one, would send the same lines again: 15 of 24 records, 1.2 M of 1.9 M
        characters, for the 4-layer demo). Outside a block every report sends them."""
        sent = self._lines_sent_in_block()
        if sent is None:
            return True
        if key in sent:
            return False
        sent.add(key)
        return True

    def _lines_unsent(self, key: str) -> bool:
        """Whether ``key``'s factor lines are still to go out in this ``trace()`` block (asked
        before they are computed: a key's lines cost as much as the key, ``keys._factor_lines``)."""
        sent = self._lines_sent_in_block()
        return sent is None or key not in sent

    def _lines_sent_in_block(self) -> set[str] | None:
        """The keys whose lines went out in the current ``trace()`` block (``None`` outside one)."""
        session = _session.current()
        if session is None:
            return None
        if session is not self._lines_session:
            self._lines_session, self._lines_sent = session, set()
        return self._lines_sent

    def _store(self, key: str, runnable: Any) -> tuple[str | None, str]:
        """Save to the artifact cache; a save that fails (e.g. with Inductor's caches disabled,
        ``CompiledArtifact`` has nothing to save) costs the warm start, never the compile."""
        if self.cache is None:
            return None, ""
        try:
            return str(self.cache.store(key, runnable)), ""
        except (RuntimeError, OSError, ArtifactFileError) as exc:
            return None, f"artifact not saved ({type(exc).__name__}: {exc})"

    def _standalone_key(
        self, gm: torch.fx.GraphModule, args: list[Any], dynamic_shapes: str
    ) -> tuple[str | None, list[str], str]:
        """The up-front key (or ``None`` with a note saying why not)."""
        from torch._inductor import config as inductor_config

        compute = keys.compute_standalone_key if self.key_api else keys.probe_standalone_key
        with inductor_config.patch(self.inductor_config):
            try:
                key, lines = compute(gm, args, dynamic_shapes, factor_lines=self._lines_unsent)
            except Exception as exc:  # an uncacheable piece: compile it, just without dedup
                return None, [], f"standalone key unavailable: {type(exc).__name__}: {exc}"
        return key, lines, "" if self.key_api else keys.PROBE_KEY_NOTE

    def _graph_plan(self, graph_key: str, split_gm: torch.fx.GraphModule,
                    example_inputs: Sequence[Any]) -> GraphPlan | None:
        """CUDA-graph settings for this graph, or ``None`` (tests substitute an eager replay)."""
        return plan_graph(graph_key, split_gm, example_inputs, self.cudagraphs,
                          self.graph_context)

    def _compile_artifact(
        self, gm: torch.fx.GraphModule, args: list[Any], dynamic_shapes: str
    ) -> Any:
        """The real Inductor compile of one piece (subclasses may add context, tests do)."""
        from torch._inductor import config as inductor_config

        with inductor_config.patch(self.inductor_config):
            # dynamic_shapes is one of torch's names: "from_graph" or "from_example_inputs".
            return torch._inductor.standalone_compile(
                gm, args, dynamic_shapes=cast(Any, dynamic_shapes))


@dataclass
class _PieceResult:
    """What one piece compile found out so far (reported in ``finally``, also on failure)."""

    outcome: Outcome = Outcome.COMPILED
    key: str | None = None
    key_lines: list[str] = field(default_factory=list)
    key_seconds: float = 0.0
    legacy: keys.LegacyCapture = field(default_factory=keys.LegacyCapture)
    dedup_of: str | None = None
    path: str | None = None
    notes: list[str] = field(default_factory=list)
    finished: bool = False


class _PieceInterpreter(torch.fx.Interpreter):
    """Runs the split graph on fake inputs, then compiles each piece with the inputs it really
    got (all pieces known first, so the unique ones can compile concurrently)."""

    def __init__(self, split_gm: torch.fx.GraphModule, backend: PiecewiseBackend,
                 graph_key: str, items: list[SplitItem], plan: GraphPlan | None) -> None:
        super().__init__(split_gm)
        self.backend = backend
        self.graph_key = graph_key
        self.items = {i.submod: i for i in items}
        self.plan = plan
        self.pieces: list[tuple[SplitItem, Any, Any]] = []

    def call_module(self, target: Any, args: Any, kwargs: Any) -> Any:
        output = super().call_module(target, args, kwargs)
        item = self.items.get(str(target))
        if item is not None and not item.is_split_op:
            self.pieces.append((item, args, output))
        return output

    def run(self, *args: Any, **kwargs: Any) -> Any:
        """Run on fake inputs collecting every piece, then compile them all (``parallel``)."""
        self.pieces = []
        output = super().run(*args, **kwargs)
        runners = parallel_compile.compile_pieces(
            self.backend, self.graph_key, [(item, a) for item, a, _ in self.pieces])
        for (item, piece_args, piece_output), runner in zip(self.pieces, runners, strict=True):
            installed: Any = runner
            if self.plan is not None:
                installed = wrap_piece(self.plan, item.submod, runner, piece_args, piece_output)
            # A plain callable cannot replace a child module in place: remove the module first.
            delattr(self.module, item.submod)
            setattr(self.module, item.submod, installed)
        return output


def _split_targets(items: list[SplitItem]) -> list[Any]:
    """The ops the splitting-op pieces call (what a FULL graph would capture)."""
    return [n.target for i in items if i.is_split_op
            for n in i.graph.graph.nodes if n.op == "call_function"]


def _fast_forward(split_gm: torch.fx.GraphModule, items: list[SplitItem]) -> Callable[..., Any]:
    """The split graph's forward, called without ``nn.Module.__call__`` (hooks, wrapped-call
    error handling): per step that is the Python overhead of one module call per splitting op
    and one for the graph. The splitting ops' submodules become their bound ``forward``."""
    for item in items:
        if item.is_split_op:
            module = getattr(split_gm, item.submod)
            if isinstance(module, torch.fx.GraphModule):
                delattr(split_gm, item.submod)
                setattr(split_gm, item.submod, module.forward)
    return split_gm.forward


def _piece_rows(items: list[SplitItem]) -> list[_events.PieceRow]:
    return _events.piece_rows(
        _events.PieceSource(submod=i.submod, index=i.index, is_split_op=i.is_split_op,
                            split_op=i.split_op, graph=i.graph)
        for i in items)


def _aot_cache_hits() -> int:
    from torch._dynamo.utils import counters

    return int(counters["aot_autograd"]["autograd_cache_hit"])
