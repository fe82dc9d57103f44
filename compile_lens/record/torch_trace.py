"""Read TORCH_TRACE logs (torch's structured trace, what tlparse reads) as a stream of ``RawEvent``s.

The format, as torch's ``TorchLogsFormatter`` writes it (``trace=True``): one record per envelope
line, ``<glog prefix> <JSON envelope>``, where the prefix is ``V1206 15:24:45.403000 1667746
torch/_dynamo/utils.py:1288]`` (level, month-day, local time to the microsecond, pid, source
file and line) and the envelope is the record's metadata: the event name as its first key, then
``frame_id``/``frame_compile_id``/``attempt``, ``rank`` under torch.distributed, and
``has_payload``: the md5 (hex) of the payload. The payload follows as lines that each start with
a tab; it is those lines without the tab, joined by newlines.

Reading streams the file in blocks (plain or gzip), so memory does not grow with the log: a
record's payload is checked against its md5 and decoded only when a parser rule reads that
event's name (``wanted``); all other payloads are skipped undecoded. Whatever cannot be read is
counted with its file and line (``Problems``), never fatal: corrupt or cut lines, md5 mismatches,
missing payloads, payload lines without an envelope, records of another rank.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compile_lens.record.log_stream import LogStream
from compile_lens.record.raw import RawEvent, event_name

BLOCK = 4 << 20
"""Bytes read at a time: memory is one block plus the largest record."""

GLOG = re.compile(
    rb"(?:\[rank\d+\]:)?[VIWEC](?P<mo>\d\d)(?P<d>\d\d) (?P<h>\d\d):(?P<mi>\d\d):(?P<s>\d\d)"
    rb"\.(?P<us>\d{6}) (?P<pid>\d+) ?(?P<path>[^\]\n]*?):(?P<line>\d+)\] ")
"""The glog prefix of a structured-trace line (``\\d+`` then the source path, as tlparse reads it)."""

_NEXT_RECORD = re.compile(rb"\n(?!\t)")
LISTED = 20
"""Problems listed one by one per kind and file (all are counted)."""


def open_log(path: Path) -> LogStream:
    """The log's bytes, decompressed if it is gzip (detected by its magic number, not its name)."""
    return LogStream(path)


def looks_like_log(path: Path, probe: int = 1 << 16) -> bool:
    """Whether ``path`` holds a TORCH_TRACE log: a glog-prefixed JSON line in its first bytes."""
    try:
        with open_log(path) as fh:
            head = fh.read(probe)
    except OSError:
        return False
    return any(GLOG.match(line) and b"] {" in line for line in head.split(b"\n")[:200])


@dataclass
class Problems:
    """What could not be read in one file, counted by kind; the first ``LISTED`` of each kept."""

    file: str
    counts: dict[str, int] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)
    _per_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, line: int, detail: str = "") -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self._per_kind.get(kind, 0) < LISTED:
            self._per_kind[kind] = self._per_kind.get(kind, 0) + 1
            text = f"{self.file}:{line}: {KINDS[kind]}"
            self.listed.append(f"{text} ({detail})" if detail else text)

    def notes(self) -> list[str]:
        """One note per listed problem, then one per kind with more than were listed."""
        more = [f"{self.file}: {n - LISTED} more: {KINDS[k]}" for k, n in sorted(self.counts.items())
                if n > LISTED]
        return [*self.listed, *more]


KINDS = {
    "fail_glog": "a line without the structured-trace prefix (not a TORCH_TRACE line)",
    "fail_json": "a corrupt JSON envelope",
    "fail_payload_md5": "the payload does not match its md5",
    "missing_payload": "the envelope announces a payload that is missing",
    "stray_payload": "payload lines with no envelope before them",
    "truncated": "the last line is cut short (the process stopped mid-write)",
    "other_rank": "a record of another rank, interleaved in this rank's log (skipped)",
    "empty": "the log is empty",
    "damaged_gzip": "the gzip stream ends early or is corrupt: the log is read up to there",
}


@dataclass
class FileInfo:
    """What the reader learned about one log file."""

    path: Path
    name: str
    pid: int = 0
    rank: int | None = None
    records: int = 0
    problems: Problems = field(default_factory=lambda: Problems(""))
    complete: bool = True


def read_events(path: Path, info: FileInfo, process: str,
                wanted: Callable[[str], bool], offset: float | None = None) -> Iterator[RawEvent]:
    """Stream the events of one log in file order; problems go to ``info.problems``.

    ``wanted(name)`` says whether the payload of an event of that name is decoded; other events
    come with ``payload=None`` (their md5 is still checked: the bytes are read anyway).
    """
    offset = epoch_offset(path) if offset is None else offset
    with open_log(path) as fh:
        for lineno, block, last in _records(fh, info):
            event = _event(block, lineno, last, info, process, offset, wanted)
            if event is not None:
                info.records += 1
                yield event


def payload_at(path: str | Path, line: int) -> str | None:
    """The payload of the record whose envelope is on ``line`` of the log at ``path`` (read on
    demand: import keeps no payload it did not need; notes and ``extra["origin"]`` name the
    file and line). ``None`` if no record starts there or it has no payload."""
    p = Path(path)
    info = FileInfo(path=p, name=p.name)
    with open_log(p) as fh:
        for lineno, block, _last in _records(fh, info):
            if lineno == line:
                body = block.replace(b"\r\n", b"\n").partition(b"\n")[2]
                if not body.startswith(b"\t"):
                    return None
                raw = body[1:].replace(b"\n\t", b"\n")
                return raw.removesuffix(b"\n").decode("utf-8", errors="replace")
            if lineno > line:
                return None
    return None


def _records(fh: LogStream, info: FileInfo) -> Iterator[tuple[int, bytes, bool]]:
    """``(first line number, record bytes, is_last)``: envelope line plus its payload lines."""
    pending, lineno, seen = b"", 1, False
    while True:
        chunk = fh.read(BLOCK)
        seen = seen or bool(chunk)
        data = pending + chunk
        if not chunk:
            if fh.damaged:
                info.problems.add("damaged_gzip", lineno, fh.damaged)
                info.complete = False
            if data.strip(b"\n"):
                yield lineno, data, True
            elif not seen and not fh.damaged:
                info.problems.add("empty", 0)
            return
        start = 0
        for m in _NEXT_RECORD.finditer(data):
            end = m.start()
            if end + 1 >= len(data):
                break  # the record may go on in the next block
            yield lineno, data[start:end + 1], False
            lineno += data.count(b"\n", start, end + 1)
            start = end + 1
        pending = data[start:]


def _event(block: bytes, lineno: int, last: bool, info: FileInfo, process: str, offset: float,
           wanted: Callable[[str], bool]) -> RawEvent | None:
    problems = info.problems
    if b"\r\n" in block:  # a log that went through a CRLF checkout (tlparse reads it the same)
        block = block.replace(b"\r\n", b"\n")
    newline = block.find(b"\n")
    head = block if newline < 0 else block[:newline]
    body = b"" if newline < 0 else block[newline + 1:]
    if not head.strip():
        return None
    if head.startswith(b"\t"):
        problems.add("stray_payload", lineno)
        return None
    cut = last and not block.endswith(b"\n")
    m = GLOG.match(head)
    naive = _naive_time(m) if m is not None else None
    if m is None or naive is None:
        problems.add("truncated" if cut else "fail_glog", lineno, _show(head))
        info.complete = info.complete and not cut
        return None
    try:
        metadata = json.loads(head[m.end():])
    except ValueError as exc:
        problems.add("truncated" if cut and not body else "fail_json", lineno, str(exc)[:80])
        info.complete = info.complete and not cut
        return None
    if not isinstance(metadata, dict) or not metadata:
        problems.add("fail_json", lineno, "not a JSON object")
        return None
    rank = metadata.get("rank")
    if isinstance(rank, int):
        if info.rank is None:
            info.rank = rank
        elif rank != info.rank:
            problems.add("other_rank", lineno, f"rank {rank} in rank {info.rank}'s log")
            return None
    info.pid = info.pid or int(m["pid"])
    name = event_name(metadata)
    payload = _payload(metadata, body, lineno, last, info, wanted(name))
    t = naive + offset
    return RawEvent(t=t, name=name, metadata=metadata, payload=payload, process=process,
                    origin=f"{info.name}:{lineno}")


def _payload(metadata: dict[str, Any], body: bytes, lineno: int, last: bool, info: FileInfo,
             decode: bool) -> str | None:
    expect = metadata.pop("has_payload", None)
    if expect is None:
        if body:
            info.problems.add("stray_payload", lineno + 1)
        return None
    if not body:
        info.problems.add("missing_payload", lineno)
        return "" if decode else None
    raw = body[1:].replace(b"\n\t", b"\n")
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    if hashlib.md5(raw, usedforsecurity=False).hexdigest() != expect:
        cut = last and not body.endswith(b"\n")
        info.problems.add("truncated" if cut else "fail_payload_md5", lineno)
        info.complete = info.complete and not cut
    return raw.decode("utf-8", errors="replace") if decode else None


def _show(line: bytes) -> str:
    return repr(line[:40].decode("utf-8", errors="replace"))


def epoch_offset(path: Path) -> float:
    """Seconds to add to the glog time (local time, no year) to get epoch time.

    Found from the first chromium event, whose payload carries an epoch timestamp; ``0`` without
    one (times then stay consistent within the log, which is all the timeline needs).
    """
    try:
        with open_log(path) as fh:
            head = fh.read(1 << 20)
    except OSError:
        return 0.0
    at = head.find(b'{"chromium_event"')
    if at < 0:
        return 0.0
    line_start = head.rfind(b"\n", 0, at) + 1
    m = GLOG.match(head, line_start)
    ts = re.search(rb'"ts": ?([0-9.]+)', head[at:at + 4096])
    naive = _naive_time(m) if m is not None else None
    if naive is None or ts is None:
        return 0.0
    try:
        return float(ts.group(1)) / 1e6 - naive
    except ValueError:
        return 0.0


def _naive_time(m: re.Match[bytes]) -> float | None:
    """The glog time as seconds (a leap year stands in for the year it does not say); ``None``
    for a date that does not exist (a corrupt prefix)."""
    try:
        return calendar.timegm((1972, int(m["mo"]), int(m["d"]), int(m["h"]), int(m["mi"]),
                                int(m["s"]))) + int(m["us"]) / 1e6
    except ValueError:
        return None
