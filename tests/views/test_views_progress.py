"""The live progress line: silent outside notebooks, one line updated in place, throttled."""

from __future__ import annotations

from typing import Any

from compile_lens.views.progress import NotebookProgress, make_progress, progress_text


class Handle:
    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def update(self, bundle: dict[str, str], raw: bool) -> None:
        self.log.append(("update", bundle["text/plain"]))


def _progress(times: list[float]) -> tuple[NotebookProgress, list[tuple[str, str]]]:
    log: list[tuple[str, str]] = []

    def display(bundle: dict[str, str], raw: bool, display_id: bool) -> Handle:
        assert raw
        assert display_id
        log.append(("display", bundle["text/plain"]))
        return Handle(log)

    clock = iter(times)
    return NotebookProgress(display_fn=display, clock=lambda: next(clock)), log


def test_outside_a_kernel_there_is_no_progress(capsys: Any) -> None:
    assert make_progress() is None
    assert capsys.readouterr().out == ""


def test_updates_are_throttled_and_the_end_always_shows() -> None:
    p, log = _progress([0.0, 0.05, 0.1, 0.5, 0.55])
    p.update(0, 4, "submod_0 [general]", 0.0)
    p.update(1, 4, "submod_2 [general]", 1.0)  # 0.05 s later: skipped
    p.update(2, 4, "submod_4 [general]", 2.0)  # 0.1 s later: skipped
    p.update(3, 4, "submod_6 [general]", 3.0)  # 0.5 s: shown
    p.update(4, 4, "submod_6 [8]", 4.0)  # finished: shown although soon after
    p.close()
    p.update(5, 4, "late", 9.0)  # after close: ignored
    assert [kind for kind, _ in log] == ["display", "update", "update", "update"]
    assert log[1][1] == "compile_lens: 3/4 pieces · submod_6 [general] · 3.0 s"
    assert log[-1][1] == "compile_lens: 4/4 pieces · done · 4.0 s"


def test_text_with_unknown_total() -> None:
    assert progress_text(2, 0, "", 1.25) == "compile_lens: 2 pieces · 1.2 s"
