"""The device index in key factor lines: the one thing every rank of a multi-GPU job differs in.

Each rank compiles for its own GPU, so a key line that prints an input's tensor metadata reads
``device(type='cuda', index=0)`` on rank 0 and ``index=1`` on rank 1: the keys differ on every
rank of every multi-GPU job. Comparing ranks (``analysis.ranks``) and explaining a key diff
(``analysis.factor_links``) must tell that expected difference from a rank that really compiled
something else. Pure functions of strings.
"""

from __future__ import annotations

import re

_DEVICE_INDEX = re.compile(r"(device\(type='[A-Za-z_]+', index=)\d+\)|('(?:cuda|xpu|hpu):)\d+'")
_LINE_HASH = re.compile(r"^\[[0-9a-z]+\] ")


def _neutral(text: str) -> str:
    return _DEVICE_INDEX.sub(lambda m: f"{m.group(1)}*)" if m.group(1) else f"{m.group(2)}*'",
                             text)


def neutral_line(line: str) -> str:
    """A key factor line without its per-line hash and with every device index replaced by ``*``.

    The per-line hash goes too: it hashes the value, device index included.
    """
    return _neutral(_LINE_HASH.sub("", line))


def only_device_index_differs(old: str | None, new: str | None) -> bool:
    """Whether two values differ, and only in device indices (``cuda:0`` → ``cuda:1``)."""
    if old is None or new is None or old == new:
        return False
    return _neutral(old) == _neutral(new)
