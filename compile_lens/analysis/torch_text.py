"""Analysis: read the parts of torch's own messages (guard failures, graph breaks, limit hits).

Stage 3, pure. Torch logs these as text; the formats were read from torch 2.13's
``_dynamo/guards.py`` (``get_guard_fail_reason_helper``: ``"<compile id>: <reason>"``, several
reasons joined by ``"; "``, then ``"\\nUser stack trace:\\n"`` and the frames),
``_dynamo/convert_frame.py`` (the ``dynamo_graph_break_reason`` artifact and the
``Dynamo recompile limit exceeded`` failure). Every function returns ``""`` when its part is not
there: the full text is always kept next to what was picked out of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY = re.compile(r"^(\d+/\d+(?:_\d+)?): (.*)$", re.DOTALL)
_TENSOR = re.compile(r"^tensor '(?P<name>[^']*)' (?P<what>\w+) mismatch"
                     r"(?: at index (?P<index>\d+))?\. expected (?P<old>.+?), actual (?P<new>.+)$")
_FILE = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)')
_LIMIT = re.compile(r"Limit type: (\w+)")
_LIMIT_VALUE = re.compile(r"currently set to (\d+)")
_BREAK_AT = re.compile(r"^Graph break in user code at (.+)$", re.MULTILINE)
_BREAK_REASON = re.compile(r"^Graph Break Reason: (.*?)(?:\n\nUser code traceback:|\Z)",
                           re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class GuardFailure:
    """One guard-failure reason, taken apart.

    ``entry`` is the cache entry whose guards failed (``"0/0"``); ``guard`` the failing guard's
    text (the code part, or torch's sentence for a tensor check); ``changed`` what torch says
    changed (``"expected 8, actual 16"``; empty for value guards, where torch does not say);
    ``source`` the user line torch attached; ``location`` where it is.
    """

    entry: str
    guard: str
    changed: str = ""
    what: str = ""
    tensor: str = ""
    index: str = ""
    source: str = ""
    location: str = ""
    text: str = ""


def guard_failure(reason: str) -> GuardFailure:
    """Take one ``recompile_reasons`` entry apart (``text`` keeps it whole)."""
    head, _, stack = reason.partition("\nUser stack trace:\n")
    match = _ENTRY.match(head)
    entry, body = (match.group(1), match.group(2)) if match else ("", head)
    first = body.strip().splitlines()[0] if body.strip() else ""
    parts = [p.strip() for p in re.split(r"\s+# ", first)]
    guard = parts[0]
    source = parts[1] if len(parts) > 2 else ""
    location = parts[-1] if len(parts) > 1 else ""
    frames = list(_FILE.finditer(stack))
    if frames:
        last = frames[-1]
        location = f"{last['file']}:{last['line']} in {last['fn']}"
        code = stack[last.end():].strip().splitlines()
        source = code[0].strip() if code else source
    tensor = _TENSOR.match(guard)
    if tensor:
        short = guard[: guard.index(". expected")] if ". expected" in guard else guard
        return GuardFailure(entry=entry, guard=short, what=tensor["what"], tensor=tensor["name"],
                            index=tensor["index"] or "",
                            changed=f"expected {tensor['old']}, actual {tensor['new']}",
                            source=source, location=location, text=reason)
    return GuardFailure(entry=entry, guard=guard, source=source, location=location, text=reason)


def recompile_limit(fail_reason: str) -> tuple[str, str]:
    """``(limit name, value)`` when ``fail_reason`` is Dynamo's recompile-limit failure."""
    if "recompile limit exceeded" not in fail_reason.lower():
        return "", ""
    name = _LIMIT.search(fail_reason)
    value = _LIMIT_VALUE.search(fail_reason)
    return (name.group(1) if name else "recompile_limit"), (value.group(1) if value else "")


def hints(text: str) -> list[str]:
    """The ``Hint:`` lines torch wrote into a graph-break or failure message."""
    return [line.strip()[len("Hint: "):] for line in text.splitlines()
            if line.strip().startswith("Hint: ")]


def one_line(text: str) -> str:
    """``text`` with its whitespace runs (newlines included) folded to single spaces."""
    return " ".join(text.split())


def first_line(text: str) -> str:
    """The first non-empty line (torch's graph-break type, e.g. ``Failed to trace builtin …``)."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def graph_break(payload: str) -> tuple[str, str]:
    """``(where, reason)`` of a ``dynamo_graph_break_reason`` payload.

    ``where`` is ``file:line`` from ``Graph break in user code at …``; ``reason`` the message
    after ``Graph Break Reason:`` (torch's ``Unsupported`` text, without the traceback).
    """
    at = _BREAK_AT.search(payload)
    reason = _BREAK_REASON.search(payload)
    text = reason.group(1).strip() if reason else first_line(payload)
    return (at.group(1).strip() if at else ""), text


def break_type(reason: str) -> str:
    """The graph-break type line of a reason (the line after ``… graph break when …:``)."""
    lines = [line.strip() for line in reason.splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Encountered graph break"):
        return lines[1]
    return lines[0] if lines else ""
