"""The bytes of a log file, plain or gzip, read in blocks; a damaged gzip yields what it can.

``gzip.GzipFile`` raises on a cut or corrupt stream and loses the block it was decompressing; a
log cut short by a dying process must still open up to the cut. So gzip is decompressed here
with ``zlib`` (members one after the other, as ``gzip`` writes them), and the damage is reported
in ``damaged`` instead of raised.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from types import TracebackType

GZIP_MAGIC = b"\x1f\x8b"
_COMPRESSED_BLOCK = 1 << 20


class LogStream:
    """``read(n)`` over a plain or gzip file (told by its magic number); a context manager."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("rb")
        self.gzip = self._fh.read(2) == GZIP_MAGIC
        self._fh.seek(0)
        self._zip = zlib.decompressobj(wbits=31) if self.gzip else None
        self._pending = b""
        self.damaged = ""
        """Why the gzip stream ended early (``""`` if it did not)."""

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; ``b""`` at the end (or where the damage starts)."""
        if self._zip is None:
            return self._fh.read(n)
        while len(self._pending) < n and self._more():
            pass
        out, self._pending = self._pending[:n], self._pending[n:]
        return out

    def _more(self) -> bool:
        assert self._zip is not None
        if self.damaged:
            return False
        chunk = self._zip.unused_data or self._fh.read(_COMPRESSED_BLOCK)
        if self._zip.eof:
            if not chunk:
                return False
            self._zip = zlib.decompressobj(wbits=31)  # the next gzip member
        if not chunk:
            self.damaged = "the gzip stream is cut short"
            return False
        backup = self._zip.copy()
        try:
            self._pending += self._zip.decompress(chunk)
        except zlib.error as exc:
            self._salvage(backup, chunk)  # keep what decompresses before the damage
            self.damaged = f"the gzip stream is corrupt ({exc})"
            return False
        return True

    def _salvage(self, zip_state: zlib._Decompress, chunk: bytes) -> None:
        for at in range(0, len(chunk), 512):
            try:
                self._pending += zip_state.decompress(chunk[at:at + 512])
            except zlib.error:
                return

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> LogStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
