"""Build only the structured-trace records the trace reads (issue 12).

torch's ``trace_structured(name, metadata_fn, payload_fn=...)`` builds a record whenever *any*
handler listens on ``torch.__trace``: graph prints, the guard dump, ``fx_graph_runnable`` repro
scripts, post-AOT and pass-boundary graphs, symbol provenance with captured stacks, chromium
instants that carry whole factor lists. Our handler alone makes torch build all of them, and most
are never read: that was most of the tracer's own cost. The parser reads the payloads of the
names in ``recorder.HANDLERS`` that are not ``known_unused`` (the same rule a TORCH_TRACE import
uses to decode payloads), and of chromium events only the intervals it turns into timings.

So while compile_lens is the only listener, ``PayloadFilter`` sends what is read unchanged, does
not send what is never read, and sends records of names it does not know without their payload
(its docstring has the rules). Dynamo's print of the graph it hands the backend
(``dynamo_output_graph``) is also kept for ``_fx.readable_code``, so the embedded backend does
not print the same graph a second time for its own graph event. The moment anything else
listens (a ``TORCH_TRACE`` file, tlparse, a user's own handler) every call passes through
unchanged, and ``trace(payloads="all")`` turns the filter off. Not calling a
``metadata_fn``/``payload_fn`` is what an untraced run does anyway, so the filter moves a traced
compile closer to an untraced one; it never changes a key, a config or a compile input.

``trace_structured`` is imported by name into many torch modules (``from torch._logging import
trace_structured``), so the interception point is every module attribute bound to the function
object: found by identity in ``sys.modules`` (a few thousand dict look-ups, about a millisecond)
and replaced through ``_torch.patching.patched``. Calls through ``torch._logging.trace_structured``
and ``trace_structured_artifact`` (a global of ``torch._logging._internal``) go through the same
bindings. Modules imported during the block bind the wrapper through ``torch._logging``; on exit
every binding of the wrapper, wherever it is, gets the original back.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from compile_lens import _fx
from compile_lens._torch.patching import Patch, patched, resolve
from compile_lens.record import timing

INTERNAL = "torch._logging._internal"
TARGET = f"{INTERNAL}:trace_structured"
ATTR = "trace_structured"
READ, ALL = "read", "all"
MODES = (READ, ALL)
"""``trace(payloads=...)``: ``"read"`` builds the payloads the trace reads; ``"all"`` every one."""
OWN_PREFIX = "artifact:compile_lens_"


def read_names() -> tuple[frozenset[str], frozenset[str]]:
    """``(read, unused)``: event names whose payload a parser rule reads, and names the parser
    knows but reads nothing of (``known_unused``); ``artifact:<name>`` for artifacts."""
    from compile_lens.record.recorder import HANDLERS, known_unused

    read = frozenset(name for name, rule in HANDLERS.items() if rule is not known_unused)
    unused = frozenset(name for name, rule in HANDLERS.items()
                       if rule is known_unused and not name.startswith(OWN_PREFIX))
    return read, unused - METADATA_READ


METADATA_READ = frozenset({"str"})
"""Known-unused names whose *metadata* the session still reads (``str``: the file names Dynamo
traced, for the factors' source hashes): sent, without a payload."""
CHROMIUM = "chromium_event"
DYNAMO_GRAPH = "dynamo_output_graph"
"""Dynamo's print of the graph it hands the backend: read, and kept for ``_fx.readable_code``."""
FRAME_INTERVAL = "entire_frame_compile"
"""The one chromium interval the recorder reads besides ``timing.classify``'s (the frame compile
span, ``recorder._on_chromium``)."""


def chromium_read(name: str) -> bool:
    """Whether the recorder reads the chromium interval ``name`` (pass and phase timings, the
    frame compile span); the others (cache instants with their factor lists, ``inductor_compile``
    with its metrics, …) are never read."""
    return name == FRAME_INTERVAL or timing.classify(name) is not None


def _no_payload() -> None:
    return None


def compact(body: Any) -> Any:
    """A dict payload as one line of JSON, by the C encoder; anything else unchanged.

    torch turns a dict payload into text with ``json.dumps(..., indent=0)``, which runs Python's
    pure-Python encoder: most of the cost of each of the hundreds of chromium timing events. Only
    compile_lens reads these (they pass here only while it is the only listener) and it parses
    them as JSON, so the same object as compact text reads the same. A body the C encoder refuses
    goes to torch unchanged (it then fails or succeeds as before).
    """
    if not isinstance(body, dict):
        return body
    try:
        return json.dumps(body, default=_set_as_list)
    except (TypeError, ValueError):
        return body


def _set_as_list(value: Any) -> Any:
    """torch's own ``default`` for payload JSON: sets become lists, anything else is an error."""
    if isinstance(value, set):
        return list(value)
    msg = f"Object of type {type(value)} is not JSON serializable"
    raise TypeError(msg)


class PayloadFilter:
    """The wrapper's policy and what it saved, while compile_lens is the only listener:

    * an event a rule reads is sent, a dict payload as compact JSON (``compact``), the same object;
      a ``chromium_event`` only if its interval is read;
    * an event the parser knows and reads nothing of (guard dumps, post-AOT and pass-boundary
      graphs, ``fx_graph_runnable``, symbol and tensor descriptions, …) is not sent at all, so
      neither its metadata nor its payload is built;
    * an event of a name the parser does not know is sent without its payload (it still counts
      as unknown in ``run.extra["parser"]``, where a newer torch's new records show up).
    """

    def __init__(self, names: tuple[frozenset[str], frozenset[str]],
                 others_listen: Callable[[], bool], listening: Callable[[], bool],
                 on_error: Callable[[Exception], None] | None = None,
                 deliver: Callable[[dict[str, Any], str], None] | None = None) -> None:
        self.read, self.unused = names
        self.others_listen = others_listen
        self.listening = listening
        self.on_error = on_error
        """Told about a failure of the policy itself (the session records an issue, or raises
        when strict); the call then goes to torch unchanged."""
        self.deliver = deliver
        """Hands ``(metadata, payload)`` straight to compile_lens' handler: how a chromium
        interval the trace reads reaches it while nobody else listens (``_direct_chromium``)."""
        self.delivered = 0
        self.skipped: dict[str, int] = {}
        self.seconds = 0.0
        self._lock = threading.Lock()

    def _count(self, key: str) -> None:
        with self._lock:
            self.skipped[key] = self.skipped.get(key, 0) + 1

    def wrap(self, original: Any) -> Any:
        """``trace_structured`` with this policy (same signature; ``original`` does the rest).

        Python's cyclic GC is paused while a record is built and handled. A cold compile runs
        several full collections of its own objects (six of 0.08-0.27 s for the 4-layer demo on
        CPU); each starts in whichever allocation crosses the threshold, and when that one is
        ours (the handler's event, a payload built for it) the compile's collection counts as
        the tracer's time: 0.27 s in the handler in three of six cold runs of the benchmark
        (issue 12). Paused, the allocations still count and the collection runs at the
        compile's next allocation, where an untraced compile runs it too (as
        ``session._gc_deferred`` does for building the trace). A GC paused by the caller stays
        paused.
        """

        def trace_structured(name: str, *args: Any, **kwargs: Any) -> Any:
            if not self.listening():
                return original(name, *args, **kwargs)  # nothing is built anyway
            paused = gc.isenabled()  # see the docstring
            if paused:
                gc.disable()
            try:
                start = time.perf_counter()
                try:
                    send, new_args, new_kwargs = self._decide(name, args, kwargs)
                except Exception as exc:  # fail open: torch gets the call as it was made
                    if self.on_error is not None:
                        self.on_error(exc)
                    return original(name, *args, **kwargs)
                finally:
                    self.seconds += time.perf_counter() - start
                if send:
                    return original(name, *new_args, **new_kwargs)
                return None
            finally:
                if paused:
                    gc.enable()

        _WRAPPER_CODES.add(trace_structured.__code__)  # CallerFilter looks for its frames
        trace_structured.__compile_lens_payload_filter__ = True  # type: ignore[attr-defined]
        return functools.update_wrapper(trace_structured, original)

    def _decide(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
                ) -> tuple[bool, tuple[Any, ...], dict[str, Any]]:
        """``(send, args, kwargs)`` for one call; builds the metadata or payload it must look
        at once, and hands the built value on."""
        key = name
        if name == "artifact":  # the artifact's name is in its metadata
            metadata_fn = args[0] if args else kwargs.get("metadata_fn", dict)
            try:
                metadata = metadata_fn()
            except Exception:
                return True, args, kwargs  # torch calls it again and fails as it would have
            if args:
                args = (lambda: metadata, *args[1:])
            else:
                kwargs = {**kwargs, "metadata_fn": lambda: metadata}
            if isinstance(metadata, dict):
                key = f"artifact:{metadata.get('name', '')}"
        if key.startswith(OWN_PREFIX):
            return True, args, kwargs  # built by _events.emit: already a compact JSON string
        payload_fn = kwargs.get("payload_fn")
        if key == CHROMIUM and payload_fn is not None:
            try:
                event = payload_fn()
            except Exception:
                return True, args, kwargs
            alone = not self.others_listen()
            if alone and isinstance(event, dict) and not chromium_read(str(event.get("name", ""))):
                self._count(CHROMIUM)
                return False, args, kwargs
            if alone and not args and self._direct_chromium(event, kwargs):
                return False, args, kwargs
            kwargs = {**kwargs, "payload_fn": (lambda: compact(event)) if alone else lambda: event}
            return True, args, kwargs
        if key == DYNAMO_GRAPH and payload_fn is not None and not self.others_listen():
            kwargs = {**kwargs, "payload_fn": lambda: self._shared_print(payload_fn)}
            return True, args, kwargs
        if key in self.read:
            if payload_fn is not None and not self.others_listen():
                kwargs = {**kwargs, "payload_fn": lambda: compact(payload_fn())}
            return True, args, kwargs
        if self.others_listen():
            return True, args, kwargs
        if key in self.unused:
            self._count(key)
            return False, args, kwargs
        if payload_fn is not None:
            self._count(key)
            kwargs = {**kwargs, "payload_fn": _no_payload}
        return True, args, kwargs

    def _direct_chromium(self, event: Any, kwargs: dict[str, Any]) -> bool:
        """Deliver a chromium interval the trace reads to our handler without torch's logging.

        Hundreds of these pass per compile (every pass and phase opens and closes one), and
        torch's path costs each of them a ``LogRecord`` with a caller lookup, handler dispatch
        and a hash of the payload: about 0.1 ms, some 0.1 s of a cold 4-layer compile on the
        H100, where the event itself is a small dict. Only compile_lens listens here (the
        caller checked), so the record goes straight into its sink with the metadata torch
        would have given it (``torch_context``) and the compact payload; torch's own bookkeeping
        of that call (its logging-overhead figure, an internal hook that is a no-op outside
        Meta) is skipped, as in an untraced compile. Only calls made the way Dynamo's chromium
        logger makes them for intervals qualify; anything else goes through torch.
        """
        if (self.deliver is None or kwargs.keys() != _CHROMIUM_CALL
                or kwargs["suppress_context"] or kwargs["expect_trace_id"]
                or not isinstance(event, dict) or event.get("ph") not in ("B", "E")):
            return False
        text = compact(event)
        if not isinstance(text, str):
            return False
        metadata = torch_context(CHROMIUM)
        metadata["has_payload"] = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()
        self.deliver(metadata, text)
        self.delivered += 1
        return True

    def _shared_print(self, payload_fn: Callable[[], Any]) -> Any:
        """Build Dynamo's print of its output graph (as torch would) and leave it, with the graph
        it printed, for ``_fx.readable_code``: the embedded backend and the vLLM observers print
        the same graph with the same arguments right after, and take this string instead
        (``_fx.remember_print`` checks the graph did not change in between). The payload
        torch gets is the one ``payload_fn`` built, unchanged."""
        text = payload_fn()
        try:
            graph_module = printed_module(payload_fn)
            if graph_module is not None and isinstance(text, str):
                _fx.remember_print(graph_module, text)
        except Exception as exc:  # fail open: the backend prints the graph itself
            if self.on_error is not None:
                self.on_error(exc)
        return text


_CHROMIUM_CALL = frozenset({"payload_fn", "suppress_context", "expect_trace_id"})
"""The keyword arguments of Dynamo's chromium logger's ``trace_structured`` call."""


def torch_context(name: str) -> dict[str, Any]:
    """The metadata ``trace_structured(name, suppress_context=False, expect_trace_id=False)``
    gives a record with no metadata of its own: the rank when distributed is up, the compile id
    of the current trace (frame, frame compile, compiled autograd), its attempt, and the
    regional-Inductor subgraph name, in torch's order. ``tests/test_payloads.py`` checks it
    against the records torch itself builds in a real compile."""
    import torch
    import torch._guards
    import torch.fx.traceback

    metadata: dict[str, Any] = {name: {}}
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        metadata["rank"] = dist.get_rank()
    trace_id = torch._guards.CompileContext.current_trace_id()
    if trace_id is not None:
        cid = trace_id.compile_id
        if cid is not None:
            for key in ("compiled_autograd_id", "frame_id", "frame_compile_id"):
                value = getattr(cid, key, None)
                if value is not None:
                    metadata[key] = value
        metadata["attempt"] = trace_id.attempt
    subgraph = getattr(torch.fx.traceback, "_get_regional_inductor_subgraph_name", None)
    name_now = subgraph() if subgraph is not None else None
    if name_now is not None:
        metadata["subgraph_name"] = name_now
    return metadata


def printed_module(payload_fn: Callable[[], Any]) -> Any:
    """The graph module Dynamo's ``dynamo_output_graph`` payload prints: the one
    ``torch.fx.GraphModule`` its ``payload_fn`` closes over (``lambda: gm.print_readable(...)``
    in ``OutputGraph.compile_and_call_fx_graph``); ``None`` if there is not exactly one (a torch
    that builds it otherwise: no reuse, the backend prints)."""
    from torch.fx import GraphModule

    found = []
    for cell in getattr(payload_fn, "__closure__", None) or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, GraphModule):
            found.append(value)
    return found[0] if len(found) == 1 else None


def binding_sites(function: Any) -> list[str]:
    """Patch targets (``"module:trace_structured"``) of every loaded module bound to ``function``.

    Reads each module's ``__dict__`` without attribute hooks, so a lazily loaded module is not
    loaded by looking.
    """
    sites = []
    for module_name, module in list(sys.modules.items()):
        try:
            namespace = object.__getattribute__(module, "__dict__")
        except Exception:  # not a module-like object: nothing bound there
            continue
        if isinstance(namespace, dict) and namespace.get(ATTR) is function:
            sites.append(f"{module_name}:{ATTR}")
    return sorted(sites)


def _unbind(wrapper: Any, original: Any) -> None:
    """Put ``original`` back wherever ``wrapper`` is still bound (modules imported in the block)."""
    for site in binding_sites(wrapper):
        owner, name, _ = resolve(site)
        setattr(owner, name, original)


@contextlib.contextmanager
def intercepted(make: Callable[[Any], Any]) -> Iterator[Any]:
    """Replace ``trace_structured`` everywhere it is bound with ``make(current)``; yield the
    wrapper; on exit restore every binding, also those made during the block."""
    current = resolve(TARGET)[2]
    wrapper = make(current)
    sites = binding_sites(current)
    try:
        with patched(*(Patch(site, lambda _original: wrapper,
                             "build only the structured-trace payloads the trace reads")
                       for site in sites)):
            yield wrapper
    finally:
        _unbind(wrapper, current)


_WRAPPER_CODES: set[Any] = set()


class CallerFilter(logging.Filter):
    """Give each trace record the file and line of the code that called ``trace_structured``.

    torch logs with ``stacklevel=2``, so with our wrapper in between the record would name the
    wrapper (``payloads.py``): the prefix of every line of a ``TORCH_TRACE`` log written while
    compile_lens traces. A filter on the logger runs before every handler, so all of them see
    the caller torch meant. It looks for the wrapper's frame a few frames up, only while another
    handler listens.
    """

    def __init__(self, others_listen: Callable[[], bool]) -> None:
        super().__init__()
        self.others_listen = others_listen

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._fix(record)
        except Exception:  # fail open: the record goes on as torch logged it
            return True
        return True

    def _fix(self, record: logging.LogRecord) -> None:
        if record.pathname != _THIS_FILE or not self.others_listen():
            return  # compile_lens' own handlers never read where a record was logged
        frame = sys._getframe(1)
        while frame is not None and frame.f_code not in _WRAPPER_CODES:
            frame = frame.f_back
        caller = frame.f_back if frame is not None else None
        if caller is not None:
            code = caller.f_code
            record.pathname = code.co_filename
            record.filename = os.path.basename(code.co_filename)
            record.module = os.path.splitext(record.filename)[0]
            record.lineno = caller.f_lineno
            record.funcName = code.co_name


_THIS_FILE = os.path.normcase(__file__)


def install(payload_filter: PayloadFilter) -> Callable[[], None]:
    """Intercept ``trace_structured`` with ``payload_filter``; return the undo."""
    from compile_lens.instrument.structured_log import TRACE_LOGGER

    stack = contextlib.ExitStack()
    stack.callback(_fx.forget_prints)
    logger = logging.getLogger(TRACE_LOGGER)
    caller = CallerFilter(payload_filter.others_listen)
    logger.addFilter(caller)
    stack.callback(logger.removeFilter, caller)
    try:
        stack.enter_context(intercepted(payload_filter.wrap))
    except BaseException:
        stack.close()
        raise
    return stack.close
