"""Corrupt or wrong inputs give one clear ``TraceFormatError`` naming the file; fuzzed too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import compile_lens
from compile_lens.cli import cli_diff
from compile_lens.errors import CompileLensError, TraceFormatError
from compile_lens.model.factor_readers import load_factors, save_factors
from compile_lens.model.factors import FactorDump

FIX = Path(__file__).parents[1] / "fixtures" / "vllm_factors"
(LEGACY,) = (FIX / "legacy" / "base").rglob("cache_key_factors.json")
(FULL,) = (FIX / "full" / "base").rglob("cache_key_factors.json")
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (LEGACY.read_bytes()[:300], "truncated"),
        (b"\x00\x9f\x92\x96binary junk\xff", "binary"),
        (b"", "empty"),
        (b"   \n", "empty"),
        (b'{"hello": 1}', "not a compile_lens trace, factor dump or vLLM"),
        (b"[1, 2, 3]", "not a compile_lens trace"),
        (b'{"format": "compile_lens.trace", "schema_version": 99}', "schema 99"),
        (b'{"format": "compile_lens.factors", "schema_version": 99}', "schema 99"),
        (b'{"format": "compile_lens.factors", "schema_version": 1, "env": []}', "env"),
        (
            b'{"format": "compile_lens.factors", "schema_version": 1, "pieces": [{"x": 1}]}',
            "PieceKeys",
        ),
        (b'{"env": [], "config_hash": "a"}', "'env' must be an object"),
        (b'{"env": {}, "config_hash": 5}', "'config_hash' must be a string"),
        (b'{"env": {}, "config_hash": "a", "code": 3}', "'code' must be a list"),
        (b"[" * 100000, "nested too deeply"),
    ],
)
def test_bad_file_gives_clear_error(tmp_path, content, expected):
    path = _write(tmp_path, "bad.json", content)
    with pytest.raises(TraceFormatError) as info:
        compile_lens.diff(path, LEGACY)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "\n" not in message


def test_missing_path_empty_dir_and_wrong_object(tmp_path):
    with pytest.raises(TraceFormatError, match="no such file"):
        load_factors(tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TraceFormatError, match=r"no cache_key_factors\.json under this directory"):
        load_factors(tmp_path / "empty")
    with pytest.raises(TraceFormatError, match="cannot compare a int"):
        compile_lens.diff(3, LEGACY)


def test_cli_bad_input_exit_2_one_line(tmp_path, capsys):
    bad = _write(tmp_path, "bad.json", b'{"env": {')
    assert cli_diff(str(bad), str(LEGACY), None) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert str(bad) in err
    assert err.startswith("compile-lens diff: error:")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
_envelopes = st.sampled_from(
    [
        {},
        {"format": "compile_lens.factors", "schema_version": 1},
        {"format": "compile_lens.trace", "schema_version": 1},
        {"env": {}, "config_hash": "x"},
    ]
)
_fields = st.sampled_from(
    [
        "env",
        "config",
        "code",
        "system",
        "hashes",
        "pieces",
        "key_lines",
        "env_affects",
        "redacted",
        "compiles",
        "graphs",
        "factors",
        "run",
        "compiler",
        "config_hash",
        "code_hash",
        "compiler_hash",
    ]
)


def _read_or_clear_error(path: Path) -> None:
    try:
        side = load_factors(path)
    except TraceFormatError as exc:
        error = str(exc)
    else:
        compile_lens.diff(side, side)  # anything that loads must also diff
        return
    assert str(path) in error


@FUZZ
@given(data=st.binary(max_size=400))
def test_fuzz_random_bytes(tmp_path, data):
    _read_or_clear_error(_write(tmp_path, "fuzz.json", data))


@FUZZ
@given(envelope=_envelopes, fields=st.dictionaries(_fields, _json, max_size=5))
def test_fuzz_json_shapes(tmp_path, envelope, fields):
    _read_or_clear_error(_write(tmp_path, "fuzz.json", json.dumps({**fields, **envelope})))


@FUZZ
@given(source=st.sampled_from([LEGACY, FULL]), cut=st.floats(0, 1))
def test_fuzz_truncated_real_files(tmp_path, source, cut):
    raw = source.read_bytes()
    _read_or_clear_error(_write(tmp_path, "cut.json", raw[: int(len(raw) * cut)]))


def test_fuzz_errors_are_compile_lens_errors():
    assert issubclass(TraceFormatError, CompileLensError)


def test_saved_dump_with_tampered_piece_is_rejected(tmp_path):
    path = save_factors(FactorDump(), tmp_path / "d.json")
    data = json.loads(path.read_text())
    data["pieces"] = [{"graph": "g0", "submod": "s", "index": "zero"}]
    path.write_text(json.dumps(data))
    with pytest.raises(TraceFormatError, match="index"):
        load_factors(path)
