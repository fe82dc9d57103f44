"""Patches are undone in ``finally``; broken hooks fail open (or raise with ``strict=True``).

These use real ``torch.compile`` with ``backend="eager"`` (no Inductor), so they are fast.
"""

from __future__ import annotations

import functools
import logging
import warnings

import pytest
import torch

import compile_lens
from compile_lens._torch import patching
from compile_lens._torch.keys import LEGACY_TARGET, capture_legacy_key
from compile_lens._torch.patching import Patch, patched
from compile_lens.errors import InstrumentationError
from compile_lens.instrument import hooks
from compile_lens.instrument.structured_log import StructuredTraceHandler


def _compile_something() -> torch.Tensor:
    torch._dynamo.reset()
    fn = torch.compile(lambda x: torch.relu(x) * 2, backend="eager")
    return fn(torch.randn(4))


def _our_handlers() -> list[logging.Handler]:
    return [h for h in logging.getLogger("torch.__trace").handlers
            if isinstance(h, StructuredTraceHandler)]


class Boom(Exception):
    pass


class NotAnException(BaseException):
    pass


def test_patched_restores_on_exception():
    original = patching.current(LEGACY_TARGET)
    with pytest.raises(Boom), patched(Patch(LEGACY_TARGET, functools.partial)):
        assert patching.current(LEGACY_TARGET) is not original
        raise Boom
    assert patching.current(LEGACY_TARGET) is original


def test_missing_target_is_an_instrumentation_error():
    with pytest.raises(InstrumentationError, match=r"torch\._functorch\.nope.*torch 2"), \
            patched(Patch("torch._functorch.nope:thing", lambda o: o)):
        pass


def test_legacy_capture_is_transparent_and_restored():
    original = patching.current(LEGACY_TARGET)
    with capture_legacy_key():
        wrapper = patching.current(LEGACY_TARGET)
        assert wrapper.__wrapped__ is original
    assert patching.current(LEGACY_TARGET) is original


def test_trace_restores_everything_after_an_exception_in_the_block():
    aot_logger = logging.getLogger(hooks.AOT_CACHE_LOGGER)
    level, filters = aot_logger.level, list(aot_logger.filters)
    with pytest.raises(Boom), compile_lens.trace(strict=True) as t:
        _compile_something()
        assert _our_handlers(), "the trace handler is attached inside the block"
        raise Boom
    assert not _our_handlers()
    assert aot_logger.level == level and aot_logger.filters == filters
    assert t.complete and len(t.record.graphs) == 1, "a partial trace is still built"


def test_base_exceptions_pass_through_untouched():
    with pytest.raises(NotAnException), compile_lens.trace():
        raise NotAnException
    assert not _our_handlers()


def test_broken_hook_fails_open_and_warns_once(monkeypatch):
    def broken_install():
        msg = "renamed in a newer torch"
        raise AttributeError(msg)

    monkeypatch.setattr(hooks, "enable_aot_factor_lines", broken_install)
    with pytest.warns(RuntimeWarning, match="compile_lens: hook 'aot_factor_lines' failed"), \
            compile_lens.trace() as t:
        out = _compile_something()
    assert out.shape == (4,), "the user's compile went on"
    (issue,) = t.record.issues
    assert (issue.hook, issue.error_type) == ("aot_factor_lines", "AttributeError")
    assert len(t.record.graphs) == 1, "the other hooks still recorded"


def test_broken_parser_fails_open(monkeypatch):
    from compile_lens.record import recorder

    def broken(*args, **kwargs):
        msg = "odd graph"
        raise ValueError(msg)

    monkeypatch.setattr(recorder.graph_text, "parse_readable_graph", broken)
    with warnings.catch_warnings(record=True) as caught, compile_lens.trace() as t:
        warnings.simplefilter("always")
        _compile_something()
    assert [i.hook for i in t.record.issues] == ["parse"]
    assert sum("compile_lens:" in str(w.message) for w in caught) == 1


def test_strict_raises_and_still_restores(monkeypatch):
    def broken_install():
        msg = "renamed in a newer torch"
        raise AttributeError(msg)

    monkeypatch.setattr(hooks, "enable_aot_factor_lines", broken_install)
    with pytest.raises(InstrumentationError, match="aot_factor_lines"), compile_lens.trace(strict=True):
        pass
    assert not _our_handlers()


def test_traces_cannot_nest():
    with compile_lens.trace(), pytest.raises(compile_lens.CompileLensError, match="nested"), \
            compile_lens.trace():
        pass
