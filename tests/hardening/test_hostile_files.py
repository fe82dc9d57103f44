"""Hostile or broken trace files: one line, exit 2, never a traceback, a hang or an OOM
(issue 9, items 10-12).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import compile_lens
from compile_lens.cli import main
from compile_lens.errors import TraceFormatError
from compile_lens.model import read_trace, trace_to_json

HEAD = '{"format": "compile_lens.trace", "schema_version": 1, '
HOSTILE = {
    "deep nesting": HEAD + '"extra_field": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "medium nesting": HEAD + '"extra_field": ' + "[" * 900 + "]" * 900 + "}",
    "huge int": HEAD + '"counters": {"x": ' + "9" * 5000 + "}}",
    "big int in a field": HEAD + '"captures": [{"graph_id": "g", "submod": "s", "size": '
    + "9" * 400 + ', "seconds": 1}]}',
    "NaN": HEAD + '"compiles": [{"graph_id": "g", "submod": "s", "start_s": NaN}]}',
    "Infinity": HEAD + '"run": {"wall_s": Infinity}}',
    "overflowing float": HEAD + '"run": {"wall_s": 1e999}}',
    "schema_version true": '{"format": "compile_lens.trace", "schema_version": true}',
    "string seconds": HEAD + '"compiles": [{"graph_id": "g", "submod": "s", "seconds": "1"}]}',
    "string index": HEAD + '"pieces": [{"graph_id": "g", "submod": "s", "index": "0"}]}',
    "int node name": HEAD + '"graphs": [{"id": "g", "compile_id": "0/0", "nodes": '
    '[{"name": 5, "op": "placeholder"}]}]}',
    "bool as int": HEAD + '"pieces": [{"graph_id": "g", "submod": "s", "index": true}]}',
}


@pytest.fixture(params=sorted(HOSTILE))
def hostile_file(request: Any, tmp_path: Path) -> Path:
    path = tmp_path / "hostile.json"
    path.write_text(HOSTILE[request.param])
    return path


def test_load_raises_trace_format_error(hostile_file: Path) -> None:
    with pytest.raises(TraceFormatError) as info:
        compile_lens.load(hostile_file)
    assert str(hostile_file) in str(info.value)


@pytest.mark.parametrize("command", ["summary", "report", "diff"])
def test_cli_exits_2_with_one_line(hostile_file: Path, command: str, tmp_path: Path,
                                   capsys: Any) -> None:
    args = {"summary": ["summary", str(hostile_file)],
            "report": ["report", str(hostile_file), "-o", str(tmp_path / "r.html")],
            "diff": ["diff", str(hostile_file), str(hostile_file)]}[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_report_crash_exits_2_not_1(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    """Exit 1 means "keys differ" for diff and "issues" for report --strict, never a crash."""
    from compile_lens.views import report

    good = tmp_path / "t.json"
    good.write_text(trace_to_json(compile_lens.model.TraceRecord()))

    def boom(*args: Any, **kwargs: Any) -> str:
        msg = "a bug in a view"
        raise ZeroDivisionError(msg)

    monkeypatch.setattr(report, "render", boom)
    assert main(["report", str(good), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "ZeroDivisionError: a bug in a view" in err and len(err.strip().splitlines()) == 1


def test_diff_crash_exits_2_not_1(tmp_path: Path, capsys: Any, monkeypatch: Any) -> None:
    from compile_lens.analysis import factor_diff

    good = tmp_path / "t.json"
    good.write_text(trace_to_json(compile_lens.model.TraceRecord()))

    def boom(*args: Any, **kwargs: Any) -> Any:
        msg = "a bug in the analysis"
        raise KeyError(msg)

    monkeypatch.setattr(factor_diff, "compare", boom)
    assert main(["diff", str(good), str(good)]) == 2
    assert "KeyError" in capsys.readouterr().err


# -- item 12: bounded reads, one-line I/O errors ------------------------------------------------

def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI in a child with a 1 GiB address-space cap, so a reader that never stops fails."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)); "
    code = limit + "import sys; from compile_lens.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("command", ["summary", "report", "diff"])
def test_device_file_is_refused(command: str, tmp_path: Path) -> None:
    args = {"summary": ["summary", "/dev/zero"],
            "report": ["report", "/dev/zero", "-o", str(tmp_path / "r.html")],
            "diff": ["diff", "/dev/zero", "/dev/zero"]}[command]
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr[-500:]
    assert "/dev/zero" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_fifo_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    proc = _cli("summary", str(fifo), timeout=60)  # a hang fails here instead of hanging CI
    assert proc.returncode == 2 and str(fifo) in proc.stderr


def test_oversized_file_is_refused(tmp_path: Path, monkeypatch: Any, capsys: Any) -> None:
    path = tmp_path / "big.json"
    path.write_text(trace_to_json(compile_lens.model.TraceRecord()) + " " * 4096)
    monkeypatch.setenv("COMPILE_LENS_MAX_READ_BYTES", "1024")
    with pytest.raises(TraceFormatError, match="larger than"):
        compile_lens.load(path)
    assert main(["diff", str(path), str(path)]) == 2
    assert "COMPILE_LENS_MAX_READ_BYTES" in capsys.readouterr().err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("command", ["report", "diff", "factors"])
def test_write_errors_are_one_line(command: str, tmp_path: Path, capsys: Any) -> None:
    good = tmp_path / "t.json"
    good.write_text(trace_to_json(compile_lens.model.TraceRecord()))
    args = {"report": ["report", str(good), "-o", "/dev/full"],
            "diff": ["diff", str(good), str(good), "--html", "/dev/full"],
            "factors": ["factors", "--out", "/dev/full"]}[command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "/dev/full" in err and len(err.strip().splitlines()) == 1


def test_unreadable_output_directory(tmp_path: Path, capsys: Any) -> None:
    good = tmp_path / "t.json"
    good.write_text(json.dumps({"format": "compile_lens.trace", "schema_version": 1}))
    assert main(["report", str(good), "-o", str(tmp_path)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _hang(signum: int, frame: Any) -> None:
    msg = "blocked on a special file (a FIFO without writer)"
    raise TimeoutError(msg)


def test_special_files_are_refused_before_reading(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    previous = signal.signal(signal.SIGALRM, _hang)
    signal.alarm(60)  # a regression fails here instead of hanging the run
    try:
        with pytest.raises(TraceFormatError, match="not a regular file"):
            read_trace(fifo)
        with pytest.raises(TraceFormatError, match="not a regular file"):
            compile_lens.diff(fifo, fifo)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    # /dev/zero in a child with a 1 GiB address-space cap: a reader that never stops fails there
    # instead of eating this machine's memory.
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))\n"
            "from compile_lens.model import read_trace\n"
            "from compile_lens.errors import TraceFormatError\n"
            "try:\n    read_trace('/dev/zero')\nexcept TraceFormatError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert "not a regular file" in proc.stdout, proc.stderr[-500:]
