"""The CLI composes library calls and sets exit codes; it is tested on recorded traces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from compile_lens.cli import main

FIXTURES = Path(__file__).parent / "fixtures" / "traces"


def test_summary_prints_the_headline(capsys):
    assert main(["summary", str(FIXTURES / "demo.json")]) == 0
    out = capsys.readouterr().out
    assert "5 compiled pieces, 3 unique" in out
    assert "deduplicated" in out and "tracer overhead" in out


def test_summary_with_cross_check(capsys):
    assert main(["summary", "--cross-check", str(FIXTURES / "demo_cross_check.json")]) == 0
    assert "15 match, 0 mismatch" in capsys.readouterr().out


@pytest.mark.parametrize("content", [b"", b"{not json", b'{"format": "compile_lens.trace"}'])
def test_bad_trace_exits_2_with_a_clear_message(tmp_path, capsys, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    assert main(["summary", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("compile-lens: error:") and str(bad) in err
    assert "Traceback" not in err


def test_module_entry_point_and_help():
    proc = subprocess.run([sys.executable, "-m", "compile_lens", "--help"], capture_output=True,
                          text=True, check=True)
    for command in ("demo", "summary", "report", "diff"):
        assert command in proc.stdout


def test_factors_command_writes_a_redacted_dump(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCHINDUCTOR_REDIS_PASSWORD", "hunter2_super_secret")
    out = tmp_path / "f.json"
    assert main(["factors", "--out", str(out)]) == 0
    text = out.read_text()
    assert "TORCHINDUCTOR_REDIS_PASSWORD" in text, "the variable counts and is listed"
    assert "hunter2_super_secret" not in text
    assert "factors:" in capsys.readouterr().out
    import compile_lens

    assert compile_lens.diff(str(out), str(out)).equal
