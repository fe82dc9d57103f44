"""The artifact cache never breaks or falsifies a compile (issue 9, items 6 and 7).

A bad file under a key (empty, truncated, random bytes, written by another torch build, or the
artifact of *another* key) is a miss with a note: the piece compiles, the output is right, and the
file is replaced by a good one. The key inside the file is checked against the key it was looked
up by on every load, without ``assert`` (a ``python -O`` run proves it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from _runs import inductor_cache

import compile_lens
from compile_lens.backend.artifact_cache import (
    ArtifactCache,
    ArtifactFileError,
    stored_key,
    verify,
)
from compile_lens.model import CACHE_HIT, COMPILED, LOADED

KEY = "a" + "b" * 51  # the shape of an AOTAutograd key; these unit tests never compile


def _framed(*fields: bytes | str) -> bytes:
    """Bytes in torch's artifact framing (CRC32 + length-prefixed fields), as ``save`` writes."""
    from torch.utils._appending_byte_serializer import BytesWriter

    writer = BytesWriter()
    for value in fields:
        if isinstance(value, str):
            writer.write_str(value)
        else:
            writer.write_bytes(value)
    return writer.to_bytes()


def _torch_key() -> bytes:
    from torch._inductor.codecache import torch_key

    return torch_key()


def _damaged(kind: str, good: bytes, key: str) -> bytes:
    """A bad version of the artifact file ``good`` (filed under ``key``)."""
    if kind == "empty":
        return b""
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "random":
        return os.urandom(max(64, len(good)))
    if kind == "foreign":  # the same layout, written by another torch build
        return _framed(b"CacheCompiledArtifact", b"0" * 32, key, b"payload")
    raise AssertionError(kind)


# -- the file checks, without compiling -----------------------------------------------------------
@pytest.mark.parametrize(("kind", "why"), [
    ("empty", "empty"),
    ("truncated", "unreadable"),
    ("random", "unreadable"),
    ("foreign", "another torch build"),
])
def test_bad_files_are_misses_with_a_note_and_are_removed(tmp_path, kind, why):
    cache = ArtifactCache(tmp_path)
    good = _framed(b"CacheCompiledArtifact", _torch_key(), KEY, b"payload")
    cache.path_for(KEY).write_bytes(_damaged(kind, good, KEY))
    found = cache.load(KEY)
    assert found.artifact is None
    assert why in found.note and cache.path_for(KEY).name in found.note, found.note
    assert not cache.path_for(KEY).exists(), "the bad file is removed"


def test_an_artifact_filed_under_another_key_is_refused_before_torch_reads_it(tmp_path):
    other = "a" + "c" * 51
    data = _framed(b"CacheCompiledArtifact", _torch_key(), other, b"not even a payload")
    with pytest.raises(ArtifactFileError, match=f"key {other}"):
        verify(data, KEY)
    assert stored_key(data) == other
    cache = ArtifactCache(tmp_path)
    cache.path_for(KEY).write_bytes(data)
    found = cache.load(KEY)
    assert found.artifact is None and f"key {other}" in found.note


def test_a_well_framed_file_whose_payload_torch_cannot_load_is_a_miss(tmp_path):
    cache = ArtifactCache(tmp_path)
    cache.path_for(KEY).write_bytes(
        _framed(b"CacheCompiledArtifact", _torch_key(), KEY, b"\x80not a cache artifact"))
    found = cache.load(KEY)
    assert found.artifact is None and "torch could not load it" in found.note


def test_absent_file_is_a_plain_miss(tmp_path):
    assert ArtifactCache(tmp_path).load(KEY).note == ""


class _Saves:
    """Writes given bytes where ``CompiledArtifact.save`` would write its file."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def save(self, *, path: str, format: str) -> None:
        Path(path).write_bytes(self.data)


def test_store_never_puts_in_place_a_file_a_load_would_refuse(tmp_path):
    """An artifact whose own AOTAutograd key is not the up-front key is not saved under it."""
    cache = ArtifactCache(tmp_path)
    other = "a" + "c" * 51
    with pytest.raises(ArtifactFileError, match="a load would refuse it"):
        cache.store(KEY, _Saves(_framed(b"CacheCompiledArtifact", _torch_key(), other, b"x")))
    assert not list(tmp_path.iterdir()), "nothing under the key, no temporary file left"
    path = cache.store(KEY, _Saves(_framed(b"CacheCompiledArtifact", _torch_key(), KEY, b"x")))
    assert stored_key(path.read_bytes()) == KEY


def test_key_check_holds_under_python_O(tmp_path):
    """``python -O`` strips ``assert``: the checks must not be asserts (torch's own loader's are)."""
    other = "a" + "c" * 51
    path = ArtifactCache(tmp_path).path_for(KEY)
    path.write_bytes(_framed(b"CacheCompiledArtifact", _torch_key(), other, b"x"))
    script = textwrap.dedent(f"""
        from compile_lens.backend.artifact_cache import ArtifactCache
        assert False, "this line is stripped under -O"
        print(ArtifactCache({str(tmp_path)!r}).load({KEY!r}).note)
    """)
    out = subprocess.run([sys.executable, "-O", "-c", script], check=True, capture_output=True,
                         text=True, timeout=300).stdout
    assert f"key {other}" in out


# -- real compiles ------------------------------------------------------------------------------------
def _fn(x: torch.Tensor) -> torch.Tensor:
    y = torch.relu(torch.sin(x) * 2)  # split at relu: two compiled pieces with different keys
    return torch.cos(y) + 1


INPUT = torch.linspace(-2.0, 2.0, 8)


def _run(root: Path, art: Path) -> tuple[torch.Tensor, object]:
    """Compile ``_fn`` with a fresh backend on ``art`` (Inductor's caches under ``root``)."""
    with inductor_cache(root / "inductor"):
        backend = compile_lens.piecewise(splitting_ops=[torch.relu], cache_dir=str(art))
        with compile_lens.trace(strict=True, factors=False, bytecode=False) as t:
            out = torch.compile(_fn, backend=backend)(INPUT)
    return out, t


@pytest.fixture(scope="module")
def cold(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("artifacts_robust")
    out, t = _run(root, root / "art")
    keys = {c.submod: c.standalone_key for c in t.record.compiles}
    assert len(set(keys.values())) == 2, keys
    return {"root": root, "out": out, "keys": keys}


def _files(art: Path, keys: dict[str, str]) -> dict[str, Path]:
    return {submod: art / f"{key}.bin" for submod, key in keys.items()}


@pytest.mark.inductor
@pytest.mark.parametrize("kinds", [("truncated", "foreign"), ("empty", "random")])
def test_damaged_artifacts_fall_back_to_compiling_and_are_replaced(cold, tmp_path, kinds):
    root, keys = cold["root"], cold["keys"]
    art = tmp_path / "art"
    shutil.copytree(root / "art", art)
    files = _files(art, keys)
    for kind, (submod, path) in zip(kinds, sorted(files.items()), strict=True):
        path.write_bytes(_damaged(kind, path.read_bytes(), keys[submod]))

    out, t = _run(root, art)

    torch.testing.assert_close(out, _fn(INPUT))
    assert {c.outcome for c in t.record.compiles} <= {COMPILED, CACHE_HIT}
    for c in t.record.compiles:
        assert "not used" in c.note and c.standalone_key in c.note, c.note
    assert sum("artifact cache:" in n for n in t.record.run.notes) == 2, t.record.run.notes
    for submod, path in files.items():
        assert stored_key(path.read_bytes()) == keys[submod], "the bad file was replaced"
    again, t2 = _run(root, art)
    assert {c.outcome for c in t2.record.compiles} == {LOADED}
    torch.testing.assert_close(again, _fn(INPUT))


@pytest.mark.inductor
def test_swapped_artifacts_never_give_wrong_outputs_even_under_python_O(cold, tmp_path):
    """Two files swapped on disk: each holds the other piece's artifact. Loading them would run
    ``cos(x) + 1`` where ``sin(x) * 2`` belongs; the stored key must refuse both."""
    root, keys = cold["root"], cold["keys"]
    art = tmp_path / "art"
    shutil.copytree(root / "art", art)
    (a, path_a), (b, path_b) = sorted(_files(art, keys).items())
    data_a, data_b = path_a.read_bytes(), path_b.read_bytes()
    path_a.write_bytes(data_b)
    path_b.write_bytes(data_a)
    script = textwrap.dedent(f"""
        import json, sys, torch
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from pathlib import Path
        import test_artifact_cache_robust as m
        out, t = m._run(Path({str(root)!r}), Path({str(art)!r}))
        print(json.dumps({{
            "error": (out - m._fn(m.INPUT)).abs().max().item(),
            "outcomes": sorted(c.outcome for c in t.record.compiles),
            "notes": [c.note for c in t.record.compiles],
        }}))
    """)
    done = subprocess.run([sys.executable, "-O", "-c", script], check=True, capture_output=True,
                          text=True, env={**os.environ}, timeout=600)
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["error"] < 1e-5, found
    assert LOADED not in found["outcomes"], found
    assert all("not of the key it is filed under" in n for n in found["notes"]), found
    assert stored_key(path_a.read_bytes()) == keys[a]
    assert stored_key(path_b.read_bytes()) == keys[b]
