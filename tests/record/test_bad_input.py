"""Bad TORCH_TRACE input opens with notes naming file and line, or fails with one clear line.

Built from a real log (tlparse's comp_failure.log: one Dynamo frame, a backend failure): each
test breaks it one way and checks the break is counted where it is, and that the rest (the
compile id, its failure) still opens. Random bytes and random cuts are fuzzed.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compile_lens
from compile_lens.errors import TraceFormatError

from .conftest import LOGS

GOOD = (LOGS / "comp_failure.log").read_bytes()
LINES = GOOD.split(b"\n")  # LINES[i] is line i + 1
GRAPH_LINE = 38  # the dynamo_output_graph envelope, payload on lines 39-46


def _write(tmp_path: Path, data: bytes, name: str = "broken.log") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _lines(replace: dict[int, bytes | None]) -> bytes:
    out = []
    for i, line in enumerate(LINES, start=1):
        if i in replace:
            if replace[i] is not None:
                out.append(replace[i])
        else:
            out.append(line)
    return b"\n".join(out)


def _still_opens(trace: compile_lens.Trace) -> None:
    assert [g.compile_id for g in trace.record.graphs] == ["0/0"]
    assert [c.outcome for c in trace.record.compiles] == ["failed"]


def _problems(trace: compile_lens.Trace) -> dict[str, int]:
    return trace.record.run.extra["source"]["problems"]


def test_the_good_log_has_no_notes(tmp_path):
    trace = compile_lens.load(_write(tmp_path, GOOD))
    _still_opens(trace)
    assert _problems(trace) == {}
    assert trace.record.run.notes == []


def test_corrupt_json_line_is_counted_with_its_line(tmp_path):
    broken = LINES[GRAPH_LINE - 1 + 9].replace(b'{"chromium_event"', b'{"chromium_event" oops')
    trace = compile_lens.load(_write(tmp_path, _lines({GRAPH_LINE + 9: broken})))
    _still_opens(trace)
    assert _problems(trace) == {"fail_json": 1}
    assert any(n.startswith(f"broken.log:{GRAPH_LINE + 9}: a corrupt JSON envelope")
               for n in trace.record.run.notes)


def test_md5_mismatch_is_counted_and_the_payload_still_read(tmp_path):
    changed = LINES[GRAPH_LINE].replace(b"class", b"klass") if b"class" in LINES[GRAPH_LINE] \
        else LINES[GRAPH_LINE] + b" "
    trace = compile_lens.load(_write(tmp_path, _lines({GRAPH_LINE + 1: changed})))
    _still_opens(trace)
    assert _problems(trace) == {"fail_payload_md5": 1}
    assert f"broken.log:{GRAPH_LINE}: the payload does not match its md5" in trace.record.run.notes


def test_missing_payload_is_counted(tmp_path):
    gone = {i: None for i in range(GRAPH_LINE + 1, GRAPH_LINE + 9)}
    trace = compile_lens.load(_write(tmp_path, _lines(gone)))
    _still_opens(trace)
    assert _problems(trace) == {"missing_payload": 1}
    assert trace.record.graphs[0].nodes == []


def test_stray_payload_lines_are_counted(tmp_path):
    trace = compile_lens.load(_write(tmp_path, _lines({GRAPH_LINE: None})))
    assert _problems(trace)["stray_payload"] == 1
    assert [c.outcome for c in trace.record.compiles] == ["failed"]


def test_truncated_last_line_marks_the_process_partial(tmp_path):
    last_envelope = GOOD.rstrip(b"\n").rfind(b"\nV") + 1
    cut = GOOD[: last_envelope + 100]  # the last envelope line, cut in its JSON
    trace = compile_lens.load(_write(tmp_path, cut))
    _still_opens(trace)
    assert _problems(trace) == {"truncated": 1}
    assert trace.record.processes[0].complete is False


def test_a_line_without_prefix_is_counted(tmp_path):
    trace = compile_lens.load(_write(tmp_path, _lines({14: b"hello from print()"})))
    _still_opens(trace)
    assert _problems(trace) == {"fail_glog": 1}
    assert any(n.startswith("broken.log:14:") for n in trace.record.run.notes)


def test_directory_with_unrelated_and_empty_files(tmp_path):
    _write(tmp_path, GOOD, "dedicated_log_torch_trace_rank_0.log")
    _write(tmp_path, b"", "dedicated_log_torch_trace_rank_1.log")
    _write(tmp_path, b"some notes\n", "README.txt")
    trace = compile_lens.load(tmp_path)
    assert trace.ranks == [0]
    notes = trace.record.run.notes
    assert "dedicated_log_torch_trace_rank_1.log: the log is empty: skipped" in notes
    assert "README.txt: not a TORCH_TRACE log: skipped" in notes


def test_gzip_log_opens_like_the_plain_one(tmp_path):
    plain = compile_lens.load(_write(tmp_path, GOOD)).record
    zipped = compile_lens.load(_write(tmp_path, gzip.compress(GOOD), "any_name.bin")).record
    assert [c.compile_id for c in zipped.compiles] == [c.compile_id for c in plain.compiles]
    assert zipped.graphs[0].nodes == plain.graphs[0].nodes


@pytest.mark.parametrize(("data", "says"), [
    (b"", "an empty file"),
    (b"\x00\x01binary", "neither JSON nor structured-trace lines"),
    (b"just some text\nmore text\n", "neither JSON nor structured-trace lines"),
])
def test_unknown_files_fail_with_one_line(tmp_path, data, says):
    with pytest.raises(TraceFormatError, match=says) as err:
        compile_lens.load(_write(tmp_path, data, "x.log"))
    assert "\n" not in str(err.value)
    assert "TORCH_TRACE log" in str(err.value), "says what was expected"


def test_directory_without_logs_fails_with_one_line(tmp_path):
    _write(tmp_path, b"text\n", "a.txt")
    with pytest.raises(TraceFormatError, match="no TORCH_TRACE log found"):
        compile_lens.load(tmp_path)


def test_cli_reads_logs_and_rejects_unknown_files(tmp_path, capsys):
    from compile_lens.cli import main

    log = _write(tmp_path, GOOD)
    assert main(["summary", str(log)]) == 0
    assert "failed" in capsys.readouterr().out
    assert main(["report", str(log), "-o", str(tmp_path / "r.html")]) == 0
    assert (tmp_path / "r.html").stat().st_size > 0
    assert main(["report", str(log), "-o", str(tmp_path / "r.html"), "--strict"]) == 0
    md5 = _write(tmp_path, _lines({GRAPH_LINE + 1: LINES[GRAPH_LINE] + b" "}), "md5.log")
    assert main(["report", str(md5), "-o", str(tmp_path / "r2.html"), "--strict"]) == 1, \
        "like tlparse --strict: a log with problems fails the strict report"
    assert f"md5.log:{GRAPH_LINE}: the payload does not match its md5" in capsys.readouterr().err
    bad = _write(tmp_path, b"nope\n", "bad.log")
    assert main(["summary", str(bad)]) == 2
    assert "TORCH_TRACE log" in capsys.readouterr().err


def _load_or_format_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.log"
        path.write_bytes(data)
        try:
            trace = compile_lens.load(path)
        except TraceFormatError as exc:
            message = str(exc)
        else:
            json.loads(trace.to_json())  # whatever opened also saves
            return
    assert "\n" not in message


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_fuzz_random_bytes(data):
    _load_or_format_error(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(GOOD)), st.binary(max_size=40))
def test_fuzz_cut_and_garbled_real_log(cut, junk):
    _load_or_format_error(GOOD[:cut] + junk)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(GOOD) - 1), st.integers(min_value=0, max_value=255))
def test_fuzz_flipped_byte(at, value):
    data = bytearray(GOOD)
    data[at] = value
    _load_or_format_error(bytes(data))


def test_any_payload_is_read_again_on_demand_from_its_line(tmp_path):
    """Import keeps no payload it did not need; a graph (and every note) names its file:line."""
    from compile_lens.record.torch_trace import payload_at

    path = _write(tmp_path, gzip.compress(GOOD), "zipped.log")
    (graph,) = compile_lens.load(path).record.graphs
    assert graph.extra["origin"] == f"zipped.log:{GRAPH_LINE}"
    assert payload_at(path, GRAPH_LINE) == graph.code != ""
    assert payload_at(path, 14) is None, "a string-table record has no payload"
    assert payload_at(path, 39) is None, "no record starts on a payload line"


def test_cut_gzip_opens_up_to_the_cut(tmp_path):
    data = gzip.compress(GOOD)
    trace = compile_lens.load(_write(tmp_path, data[: len(data) * 2 // 3], "cut.log.gz"))
    assert [g.compile_id for g in trace.record.graphs] == ["0/0"], "what came before the cut"
    assert _problems(trace)["damaged_gzip"] == 1
    assert trace.record.processes[0].complete is False
    assert any("the gzip stream is cut short" in n for n in trace.record.run.notes)


def test_gzip_of_several_members_is_read_whole(tmp_path):
    """``cat a.log.gz b.log.gz``: gzip members one after the other, as gzip reads them."""
    log = GOOD + b"\n"
    trace = compile_lens.load(_write(tmp_path, gzip.compress(log) + gzip.compress(log), "two.gz"))
    assert len(trace.record.graphs) == 2
    assert _problems(trace) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(gzip.compress(GOOD)) - 1),
       st.integers(min_value=1, max_value=255))
def test_fuzz_damaged_gzip(at, flip):
    data = bytearray(gzip.compress(GOOD))
    data[at] ^= flip
    _load_or_format_error(bytes(data))
