"""Python's cyclic GC is paused while torch builds and hands a record to us (issue 12).

A full collection of the compile's objects (0.1-0.3 s on a cold CPU compile) that happens to
start in one of our allocations would otherwise count as the tracer's own time. Observed from
inside real records of a real ``torch.compile`` (``backend="eager"``): a ``logging.Filter`` on
``torch.__trace`` runs inside ``trace_structured`` for every record, before every handler, and
is not a listener.
"""

from __future__ import annotations

import gc
import logging

import torch

import compile_lens


class GcState(logging.Filter):
    """Notes ``gc.isenabled()`` for every record that reaches the handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[bool] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen.append(gc.isenabled())
        return True


def _compile() -> None:
    torch._dynamo.reset()
    torch.compile(lambda x: torch.relu(x) + 1, backend="eager")(torch.randn(4))


def _records_seen(gc_on: bool, **trace_kw: object) -> tuple[list[bool], bool]:
    """``(gc state per record, gc state after the block)`` with the GC on or off before it."""
    state = GcState()
    logger = logging.getLogger("torch.__trace")
    logger.addFilter(state)
    was = gc.isenabled()
    if not gc_on:
        gc.disable()
    try:
        with compile_lens.trace(strict=True, factors=False, bytecode=False, **trace_kw):
            _compile()
        after = gc.isenabled()
    finally:
        logger.removeFilter(state)
        if was:
            gc.enable()
    return state.seen, after


def test_gc_is_paused_inside_each_record_and_on_again_after():
    seen, after = _records_seen(gc_on=True)
    # the chromium intervals the trace reads skip torch's logging (payloads._direct_chromium)
    assert len(seen) >= 3, "the compile's records went through the filter"
    assert not any(seen), "no collection can start inside a record built for us"
    assert after, "the GC is on again after the block"


def test_a_gc_paused_by_the_caller_stays_paused():
    seen, after = _records_seen(gc_on=False)
    assert seen and not any(seen)
    assert not after


def test_payloads_all_leaves_the_gc_alone():
    seen, _ = _records_seen(gc_on=True, payloads="all")
    assert seen and all(seen), "with the filter off, torch's calls are not wrapped"
