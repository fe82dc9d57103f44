"""The compile events compilers report for compile_lens to observe: one typed contract.

This module is the contract between *compilers* (the embedded piecewise backend in ``backend/``,
and compile_lens' wrappers around vLLM's backend in ``instrument/vllm/``) and the *parser*
(``record/``). Events go out through torch's structured trace stream
(``torch._logging.trace_structured``) as artifacts named ``compile_lens_<event>``, the same stream
vLLM's own ``vllm_piecewise_compile_start`` uses:

* with no handler on ``torch.__trace`` nothing is built, so an untraced compile pays nothing;
* ``TORCH_TRACE``/tlparse users see the events too;
* a recorder in another process (vLLM workers) captures them with the same handler.

Each event has a name constant (``PIECE_END = "piece_end"``) and one ``TypedDict`` of its payload
(``total=False``; the keys every producer must send are ``Required``). ``SCHEMAS`` maps names to
them, ``validate`` checks a payload against its schema, and ``emit`` is the only way out. Payloads
built in more than one place have one builder here (``piece_end``, ``piece_rows``). Every payload
that names a graph carries ``graph_key``: a string unique in its process for one backend
invocation, so runtime events (CUDA-graph captures) attach to the right graph without a compile
context.

A new event: add its name constant, its ``TypedDict``, its ``SCHEMAS`` entry, and a parser rule
in ``record/recorder.HANDLERS`` (a test checks the table covers every name here).

This module imports torch only inside ``emit``: ``record/`` (torch-free) imports the names,
schemas and ``Outcome`` from it. (No ``from __future__ import annotations`` here: ``TypedDict``
reads ``Required`` from the evaluated annotations.)
"""

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Required, TypedDict

PREFIX = "compile_lens_"


class Outcome(StrEnum):
    """How one piece × size was obtained (``piece_end.outcome``); the JSON value is the string."""

    COMPILED = "compiled"
    DEDUPLICATED = "deduplicated"  # the artifact of an identical piece compiled earlier
    LOADED = "loaded"  # from a persistent artifact cache (ours or vLLM's)
    CACHE_HIT = "cache_hit"  # Inductor's own AOTAutograd cache
    FAILED = "failed"  # the compile raised; the exception reached the user, the scope was closed


# -- names ------------------------------------------------------------------------------------
GRAPH = "graph"
SPLIT = "split"
PIECE_START = "piece_start"
PIECE_END = "piece_end"
KEY_LINES = "key_lines"
CAPTURE = "capture"
REPLAYS = "replays"
NOTE = "note"
WORKER_COMPILE = "worker_compile"
KEY_SCOPE = "key_scope"
PLAIN_KEY = "plain_key"
AUTOTUNE = "autotune"
VLLM_PASS = "vllm_pass"
VLLM_LOWERING = "vllm_lowering"
VLLM_ARTIFACT = "vllm_artifact"
VLLM_COUNTERS = "vllm_counters"
ISSUE = "issue"
VLLM_HOOKS = "vllm_hooks"
VLLM_CUDAGRAPHS = "vllm_cudagraphs"
CUDAGRAPHS = "cudagraphs"

SHARED_EVENTS = (GRAPH, SPLIT, PIECE_START, PIECE_END, KEY_LINES, CAPTURE, REPLAYS, NOTE,
                 PLAIN_KEY, AUTOTUNE, CUDAGRAPHS, WORKER_COMPILE, KEY_SCOPE)
"""Events the parser's builder turns into graphs, pieces, compiles, captures (``recorder``)."""
VLLM_EVENTS = (VLLM_PASS, VLLM_LOWERING, VLLM_ARTIFACT, VLLM_COUNTERS, ISSUE, VLLM_HOOKS,
               VLLM_CUDAGRAPHS)
"""Events only the vLLM observers send (parsed by ``record/vllm_observer.collect``)."""
EVENT_NAMES = SHARED_EVENTS + VLLM_EVENTS


def artifact_name(event: str) -> str:
    """The name the parser sees for ``event``: ``artifact:compile_lens_<event>``."""
    return f"artifact:{PREFIX}{event}"


# -- payloads ---------------------------------------------------------------------------------
class Graph(TypedDict, total=False):
    """One Dynamo graph a backend received (vLLM's split pass adds ``split_ops`` later)."""

    graph_key: Required[str]
    backend: str
    name: str
    code: str
    nodes: list[dict[str, Any]]  # GraphNode dicts (``_fx.describe_nodes``)
    split_ops: list[str]
    prefix: str
    # vLLM only
    splitting_ops: list[str]  # vLLM's configured ``splitting_ops``
    is_encoder: bool
    rank: int | None


class PieceRow(TypedDict, total=False):
    """One piece of a split graph (a ``model.Piece`` without ``graph_id``)."""

    submod: Required[str]
    index: Required[int]
    is_split_op: Required[bool]
    compiled_index: Required[int | None]
    split_op: str | None
    num_nodes: int
    code: str
    input_shapes: list[str]
    extra: dict[str, Any]


class Split(TypedDict, total=False):
    graph_key: Required[str]
    pieces: Required[list[PieceRow]]


class PieceStart(TypedDict, total=False):
    """Opens a piece scope: the torch records until ``piece_end`` belong to this piece × size."""

    graph_key: Required[str]
    submod: Required[str]
    size: Required[str]


class PieceEnd(TypedDict, total=False):
    """Closes the scope ``piece_start`` opened, always (``outcome="failed"`` when it raised)."""

    graph_key: Required[str]
    submod: Required[str]
    size: Required[str]
    outcome: Required[str]  # an ``Outcome`` value
    legacy_key: str | None
    standalone_key: str | None
    dedup_of: str | None
    seconds: float
    key_seconds: float
    artifact_path: str | None
    note: str
    # vLLM only
    handle: list[str] | None
    graph_index: int
    compile_range: list[int] | None
    compiler: str
    prefix: str
    artifact_sha256: str | None


class KeyLines(TypedDict, total=False):
    """The factor lines of a cache key, sent once per key."""

    key: Required[str]
    lines: Required[list[str]]


class Capture(TypedDict, total=False):
    """One CUDA-graph capture (GPU detail optional; vLLM adds its batch shape).

    ``mode`` is the runtime mode (``"FULL"``/``"PIECEWISE"``); ``submod`` is ``"<model>"``
    (``model.events.WHOLE_MODEL``) for a whole-graph capture. ``memory_bytes``: what the graph
    pool grew by during the capture; ``held_bytes``: ``torch.cuda.memory_reserved()`` right after.
    """

    graph_key: Required[str]
    submod: Required[str]
    size: Required[int]
    seconds: float
    memory_bytes: int
    capture_seconds: float
    warmup_seconds: float
    allocated_bytes: int
    reserved_bytes: int
    static_input_bytes: int
    copied: int
    adopted: int
    shared: int
    in_place: int
    first_tokens: int
    artifact: str
    mode: str
    uniform: bool
    num_reqs: int | None
    held_bytes: int


class Replays(TypedDict, total=False):
    """Cumulative run-time counters of one graph's CUDA graphs (never one event per step).

    ``rows``: one per graph, ``{"submod", "size", "mode", "uniform", "replays", "tokens",
    "padded_tokens"}`` (``tokens``: real tokens over the replays; ``padded_tokens``:
    ``replays * size - tokens``; vLLM's rows may lack both). ``fallbacks``: calls that ran
    without a graph, ``{"submod", "mode", "reason", "calls", "tokens"}`` (``reason`` one of
    ``model.events.FALLBACK_REASONS``). ``counts`` (``{"submod|size": n}``) is the embedded
    backend's shape before modes; still read from older traces.
    """

    graph_key: Required[str]
    counts: dict[str, int]
    rows: list[dict[str, Any]]
    fallbacks: list[dict[str, Any]]


class CudaGraphs(TypedDict, total=False):
    """The embedded backend's CUDA-graph settings (``run.extra["cudagraphs"]``), the keys of
    vLLM's ``vllm_cudagraphs``: ``cudagraph_mode`` (``"FULL_AND_PIECEWISE"``, ``"PIECEWISE"``,
    ``"FULL"``, ``"NONE"``), ``capture_sizes`` (every size a graph is captured at) and
    ``full_sizes`` (those captured as whole-graph FULL graphs)."""

    cudagraph_mode: Required[str]
    capture_sizes: list[int]
    full_sizes: list[int]


class WorkerCompile(TypedDict, total=False):
    """One piece × size compiled in a worker process (``backend/parallel.py``).

    ``start``/``end`` are the worker's wall clock (``time.time()``, as every event's time), so
    the span lines up with this process's events; ``ok`` is false when the worker failed and
    this process compiled the piece instead (``note`` says why).
    """

    graph_key: Required[str]
    submod: Required[str]
    size: Required[str]
    start: Required[float]
    end: Required[float]
    pid: int
    key: str | None
    ok: bool
    note: str


class KeyScope(TypedDict, total=False):
    """Opens (``open``) or closes the scope of a piece × size while only its up-front key is
    computed (the parallel plan, ``backend/parallel.py``): torch's events of the key belong to
    that piece, as when the key is computed inside ``piece_start``/``piece_end``. No compile row."""

    graph_key: Required[str]
    submod: Required[str]
    size: Required[str]
    open: Required[bool]


class Note(TypedDict, total=False):
    """A degraded capability, said in plain words."""

    message: Required[str]


class PlainKey(TypedDict, total=False):
    """The predicted key of a plain ``torch.compile`` graph (``cross_check``)."""

    key: Required[str]
    lines: list[str]
    seconds: float


class Autotune(TypedDict, total=False):
    op: Required[str]
    picked: str | None
    picked_ms: float | None
    choices: list[list[Any]]  # [name, ms or None], fastest first
    input_shapes: list[Any]
    num_choices: int
    failed: int
    precompile_s: float | None


class VllmPass(TypedDict, total=False):
    graph_key: str
    submod: str
    size: str
    name: Required[str]
    seconds: Required[float]
    ordinal: int | None


class VllmLowering(TypedDict, total=False):
    graph_key: str
    submod: str
    size: str
    impls: Required[dict[str, dict[str, str]]]  # op → node → provider


class VllmArtifact(TypedDict, total=False):
    name: Required[str]
    path: str
    graph_key: str
    prefix: str
    content: str
    sha256: str
    size: int
    hash_dir: str
    disabled: bool
    loaded: bool
    exists: bool


class VllmCounters(TypedDict, total=False):
    counters: Required[dict[str, int]]
    pid: int


class Issue(TypedDict, total=False):
    """A hook that failed in some process (``instrument.issues.Guard``)."""

    hook: Required[str]
    message: Required[str]
    error_type: Required[str]


class VllmHooks(TypedDict, total=False):
    vllm_version: str
    hooks: dict[str, str]
    missing: list[str]
    pid: int


class VllmCudagraphs(TypedDict, total=False):
    cudagraph_mode: str
    capture_sizes: list[int]
    vllm_seconds: float | None
    vllm_gib: float | None
    vllm_message: str


SCHEMAS: dict[str, Any] = {
    GRAPH: Graph, SPLIT: Split, PIECE_START: PieceStart, PIECE_END: PieceEnd,
    KEY_LINES: KeyLines, CAPTURE: Capture, REPLAYS: Replays, NOTE: Note, PLAIN_KEY: PlainKey,
    AUTOTUNE: Autotune, VLLM_PASS: VllmPass, VLLM_LOWERING: VllmLowering,
    VLLM_ARTIFACT: VllmArtifact, VLLM_COUNTERS: VllmCounters, ISSUE: Issue,
    VLLM_HOOKS: VllmHooks, VLLM_CUDAGRAPHS: VllmCudagraphs, CUDAGRAPHS: CudaGraphs,
    WORKER_COMPILE: WorkerCompile, KEY_SCOPE: KeyScope,
}
"""Event name → its payload ``TypedDict``."""


def validate(event: str, body: Any) -> list[str]:
    """What is wrong with ``body`` as a payload of ``event`` (empty: it fits the contract).

    Checks the name, that the body is an object, that required keys are present, that no key
    outside the schema is sent, and that outcomes are ``Outcome`` values.
    """
    schema = SCHEMAS.get(event)
    if schema is None:
        return [f"unknown event {event!r}"]
    if not isinstance(body, dict):
        return [f"{event}: payload is {type(body).__name__}, not an object"]
    problems = [f"{event}: missing {k!r}" for k in sorted(schema.__required_keys__ - set(body))]
    declared = schema.__required_keys__ | schema.__optional_keys__
    problems += [f"{event}: undeclared {k!r}" for k in sorted(set(body) - declared)]
    if "outcome" in body and body["outcome"] not in set(Outcome):
        problems.append(f"{event}: unknown outcome {body['outcome']!r}")
    if event == SPLIT and isinstance(body.get("pieces"), list):
        for row in body["pieces"]:
            missing = PieceRow.__required_keys__ - set(row if isinstance(row, dict) else ())
            problems += [f"split: piece row missing {k!r}" for k in sorted(missing)]
    return problems


# -- builders ---------------------------------------------------------------------------------
def where(graph_key: str, submod: str, size: str) -> PieceStart:
    """The piece × size a ``piece_start``/``piece_end`` pair names."""
    return PieceStart(graph_key=graph_key, submod=submod, size=size)


def piece_end(scope: Mapping[str, Any], outcome: Outcome | str, seconds: float,
              **fields: Any) -> PieceEnd:
    """The one ``piece_end`` payload builder (embedded backend, vLLM compiles, vLLM warm starts).

    ``scope`` is the ``piece_start`` payload; ``fields`` are the optional ``PieceEnd`` keys
    (an unknown one raises ``TypeError``, so a new field is declared in ``PieceEnd`` first).
    """
    unknown = set(fields) - PieceEnd.__optional_keys__
    if unknown:
        msg = f"piece_end: undeclared fields {sorted(unknown)}"
        raise TypeError(msg)
    body: dict[str, Any] = {"graph_key": scope["graph_key"], "submod": scope["submod"],
                            "size": scope["size"], "outcome": Outcome(outcome).value,
                            "seconds": seconds, **fields}
    return PieceEnd(**body)  # type: ignore[typeddict-item]


@dataclass(frozen=True)
class PieceSource:
    """One item of a split graph, as a producer knows it (``piece_rows`` builds the payload)."""

    submod: str
    index: int
    is_split_op: bool
    split_op: str | None = None
    graph: Any = None  # the piece's fx.GraphModule (None: a warm start traced nothing)
    code: Callable[[Any], str] | None = None  # how to read its code (vLLM must not touch .code)
    extra: dict[str, Any] | None = None


def piece_rows(sources: Iterable[PieceSource]) -> list[PieceRow]:
    """The one ``split.pieces`` builder: numbers compiled pieces, reads node counts and shapes."""
    from compile_lens._fx import describe_value

    rows: list[PieceRow] = []
    compiled = 0
    for src in sources:
        row = PieceRow(submod=src.submod, index=src.index, is_split_op=src.is_split_op,
                       compiled_index=None if src.is_split_op else compiled)
        if src.graph is not None:
            nodes = list(src.graph.graph.nodes)
            inputs = [n for n in nodes if n.op == "placeholder"]
            row["split_op"] = src.split_op
            row["num_nodes"] = sum(1 for n in nodes if n.op not in ("placeholder", "output"))
            row["code"] = (src.code or _module_code)(src.graph)
            row["input_shapes"] = [
                str(describe_value(n.meta.get("example_value", n.meta.get("val")))[0])
                for n in inputs]
        if src.extra is not None:
            row["extra"] = src.extra
        rows.append(row)
        compiled += 0 if src.is_split_op else 1
    return rows


def _module_code(gm: Any) -> str:
    return str(gm.code).strip()


# -- the way out ------------------------------------------------------------------------------
Payload = Mapping[str, Any] | Callable[[], Mapping[str, Any]]


def emit(event: str, payload: Payload, *, compile_id: Any = None) -> None:
    """Report ``event`` on the structured trace stream; free when nobody listens.

    ``payload`` may be a callable so that expensive payloads (graph code, factor lines) are built
    only when a handler is attached. ``compile_id`` (a Dynamo ``CompileId``) tags an event sent
    outside Dynamo's compile context (vLLM's ``aot_compile`` calls the backend after it closed).
    """
    if event not in SCHEMAS:
        msg = f"compile_lens: undeclared event {event!r} (add it to _events.SCHEMAS)"
        raise ValueError(msg)
    from torch._logging import trace_structured

    def payload_fn() -> str:
        body = payload() if callable(payload) else payload
        return json.dumps(body, sort_keys=True, default=str)

    extra: dict[str, Any] = {} if compile_id is None else {"compile_id": compile_id}
    trace_structured(
        "artifact",
        metadata_fn=lambda: {"name": PREFIX + event, "encoding": "json"},
        payload_fn=payload_fn,
        expect_trace_id=False,
        **extra,
    )


def is_observed() -> bool:
    """True while a ``compile_lens.trace()`` session is active in this process."""
    from compile_lens import _session

    return _session.current() is not None

