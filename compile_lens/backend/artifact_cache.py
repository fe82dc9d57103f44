"""A persistent, key-addressed store of compiled piece artifacts (warm starts across processes).

One file per key: ``<dir>/<key>.bin`` in ``CompiledArtifact``'s binary format. The default
directory is ``$COMPILE_LENS_CACHE_DIR`` or ``<user cache dir>/compile_lens/artifacts``.
Writes go to a temporary name first and are renamed, so a crash never leaves half a file
under a key.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

_SAFE_KEY = re.compile(r"^[A-Za-z0-9_\-]+$")


def default_cache_dir() -> Path:
    """``$COMPILE_LENS_CACHE_DIR``, else ``$XDG_CACHE_HOME``/``~/.cache`` + ``compile_lens/artifacts``."""
    env = os.environ.get("COMPILE_LENS_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "compile_lens" / "artifacts"


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

    def load(self, key: str) -> Any | None:
        """The artifact for ``key``, or ``None`` if absent."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        from torch._inductor import CompiledArtifact

        return CompiledArtifact.load(path=str(path), format="binary")

    def store(self, key: str, artifact: Any) -> Path:
        """Save ``artifact`` under ``key`` atomically; returns the path."""
        path = self.path_for(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".bin")
        os.close(fd)
        try:
            artifact.save(path=tmp, format="binary")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path
