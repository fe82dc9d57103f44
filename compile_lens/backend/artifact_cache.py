"""A persistent, key-addressed store of compiled piece artifacts (warm starts across processes).

One file per key: ``<dir>/<key>.bin`` in ``CompiledArtifact``'s binary format. The default
directory is ``$COMPILE_LENS_CACHE_DIR`` or ``<user cache dir>/compile_lens/artifacts``.
Writes go to a temporary name first and are renamed, so a crash never leaves half a file
under a key.

A file is a claim that the bytes in it are the compiled piece for the key in its name, and
nothing on disk enforces it: a truncated copy, a file written by another torch build, random
bytes, or two files swapped by hand. So every load checks, *before* torch reads the payload (a
load unpacks the payload into Inductor's own caches), that the file parses completely, that this
torch build wrote it (``torch_key``) and that the AOTAutograd key stored inside is the key it was
looked up by. These are explicit checks, never ``assert`` (``python -O`` strips those, and
torch's own loader relies on them). Any failure is a miss with a note; the bad file is removed,
and the compile that follows stores a good one under that key.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")
_CACHE_HEADER = b"CacheCompiledArtifact"  # torch's CacheCompiledArtifact.CACHE_HEADER


class ArtifactFileError(ValueError):
    """An artifact file that must not be loaded (why, in plain words)."""


@dataclass(frozen=True)
class Lookup:
    """What ``ArtifactCache.load`` found: the artifact, or ``None`` and (for a bad file) why."""

    artifact: Any | None = None
    note: str = ""


def default_cache_dir() -> Path:
    """``$COMPILE_LENS_CACHE_DIR``, else ``$XDG_CACHE_HOME``/``~/.cache`` + ``compile_lens/artifacts``."""
    env = os.environ.get("COMPILE_LENS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compile_lens" / "artifacts"


def stored_key(data: bytes) -> str:
    """The AOTAutograd key inside an artifact file written by *this* torch build.

    Accepts both layouts torch has written: ``[header, torch_key, key, payload]`` and the older
    ``[torch_key, key, payload]``, each framed by ``torch.utils._appending_byte_serializer`` (a
    CRC32 and length-prefixed fields; this torch's own reader, so the framing always matches).

    Raises:
        ArtifactFileError: empty, truncated, corrupt, another format, or another torch build.
    """
    if not data:
        msg = "the file is empty"
        raise ArtifactFileError(msg)
    try:
        from torch._inductor.codecache import torch_key
        from torch.utils._appending_byte_serializer import BytesReader

        ours = torch_key()
    except Exception as exc:  # a torch without these: nothing can be checked, so nothing loads
        msg = f"cannot be checked on this torch ({type(exc).__name__}: {exc})"
        raise ArtifactFileError(msg) from None
    try:
        reader = BytesReader(data)
        first = reader.read_bytes()
        if first == _CACHE_HEADER:
            first = reader.read_bytes()
        elif first != ours:
            msg = "not a CacheCompiledArtifact file (another format or another torch build)"
            raise ArtifactFileError(msg)
        if first != ours:
            msg = "written by another torch build (its torch_key differs from this one's)"
            raise ArtifactFileError(msg)
        key = reader.read_str()
        reader.read_bytes()
    except ArtifactFileError:
        raise
    except Exception as exc:  # the framing's own errors: checksum, base64, utf-8
        msg = f"unreadable ({type(exc).__name__}: {exc})"
        raise ArtifactFileError(msg) from None
    if not reader.is_finished():
        msg = "truncated or followed by extra bytes"
        raise ArtifactFileError(msg)
    return key


def verify(data: bytes, key: str) -> None:
    """Check that ``data`` is an artifact this torch wrote for ``key``.

    Raises:
        ArtifactFileError: see ``stored_key``; or the file holds another key's artifact.
    """
    inside = stored_key(data)
    if inside != key:
        msg = f"it holds the artifact of key {inside}, not of the key it is filed under"
        raise ArtifactFileError(msg)


class ArtifactCache:
    """Load and store ``CompiledArtifact`` objects by cache key."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def path_for(self, key: str) -> Path:
        """Where the artifact for ``key`` lives."""
        if not _SAFE_KEY.match(key):
            msg = f"compile_lens: refusing an unsafe cache key {key!r}"
            raise ValueError(msg)
        return self.directory / f"{key}.bin"

    def load(self, key: str) -> Lookup:
        """The artifact for ``key``; a miss when absent; a miss with a note when unusable.

        Never raises for a bad file: the caller compiles instead (and stores over it).
        """
        path = self.path_for(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return Lookup()
        except OSError as exc:
            return Lookup(note=_bad(path, f"cannot be read ({type(exc).__name__}: {exc})"))
        try:
            verify(data, key)
        except ArtifactFileError as exc:
            self._discard(path)
            return Lookup(note=_bad(path, str(exc)))
        from torch._inductor import CompiledArtifact

        try:
            return Lookup(CompiledArtifact.load(path=str(path), format="binary"))
        except Exception as exc:  # a payload torch cannot unpack: still only a miss
            self._discard(path)
            return Lookup(note=_bad(path, f"torch could not load it ({type(exc).__name__}: {exc})"))

    def store(self, key: str, artifact: Any) -> Path:
        """Save ``artifact`` under ``key`` atomically (replacing any file there); returns the path.

        The written file is read back and verified first, so a file that a later load would
        reject (an artifact whose AOTAutograd key is not ``key``) is never put in place.

        Raises:
            ArtifactFileError: the artifact's own key is not ``key``.
            RuntimeError, OSError: torch could not save it, or the disk refused.
        """
        path = self.path_for(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".bin")
        os.close(fd)
        try:
            artifact.save(path=tmp, format="binary")
            try:
                verify(Path(tmp).read_bytes(), key)
            except ArtifactFileError as exc:
                msg = f"a load would refuse it: {exc} (not the up-front key {key})"
                raise ArtifactFileError(msg) from None
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path

    @staticmethod
    def _discard(path: Path) -> None:
        """Remove a bad file so it is not tried again (the next compile stores a good one)."""
        try:
            path.unlink()
        except OSError:  # already gone, or read-only: the next load rejects it again
            return


def _bad(path: Path, why: str) -> str:
    return f"artifact cache: {path.name} not used: {why}; compiled instead"
