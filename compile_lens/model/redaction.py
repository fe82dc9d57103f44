"""Model: redaction of secrets from every layer of a factor dump or trace, with keyed fingerprints.

Stage 2 (model): stdlib only, shared by the collector (our own dumps), the readers (vLLM's
``cache_key_factors.json`` lists raw env values), ``trace_to_json`` and the views. What counts as a
secret: an env var or config entry whose *name* says so (``HF_TOKEN``, ``*_PASSWORD``), a config
entry fed by such a variable (its copy), and any *value* of a known token shape (``TOKEN_SHAPES``:
GitHub, GitLab, Hugging Face, OpenAI, AWS, Slack, JWTs, bearer headers, URL userinfo, private
keys, ``password=…`` assignments), wherever it appears: env, configs, key factor lines, notes,
code. docs/security.md says what is redacted and what a fingerprint reveals.

A redacted value keeps a *fingerprint*, ``<redacted hmac:1a2b3c4d5e key:ab12>``: an HMAC-SHA256
keyed with a random 32-byte key kept in the user's key file (``COMPILE_LENS_REDACTION_KEY``, by
default ``~/.config/compile_lens/redaction.key``, mode 0600), never in a trace. Two runs made with
the same key show whether a secret changed; without the key a fingerprint cannot be brute-forced
back, even for a 6-digit PIN. ``key:`` names the key (a hash of it), so a diff of runs redacted
with different keys says it cannot compare rather than claiming a change.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REDACTED_PREFIX = "<redacted"
KEY_ENV = "COMPILE_LENS_REDACTION_KEY"

_SECRET_NAME = re.compile(
    r"((^|_)TOKEN$|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY"
    r"|AUTH|COOKIE|SESSION_?(KEY|ID)|SIGNATURE|(^|_)KEY$|(^|_)PAT$)",
    re.IGNORECASE,
)

_ASSIGNED = (
    r"(?:password|passwd|passphrase|secret[_-]?key|secret|token|api[_-]?key|access[_-]?key"
    r"|private[_-]?key|credentials?)"
)
_GITLAB = ("glpat", "gldt", "glrt", "glptt", "glft", "glimt", "gloas", "glcbt", "glsoat",
           "glffct", "glagent", "glwt", "glcf")
TOKEN_SHAPES: dict[str, tuple[str, tuple[str, ...]]] = {
    # name: (pattern, literal triggers). Each pattern's ``s`` group is the secret; the rest of
    # the match is kept. A pattern only runs on text whose lower-cased form holds a trigger, so
    # ordinary code and logs cost one substring scan per trigger, not a regex per position.
    "private key": (r"(?P<s>-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?"
                    r"(?:-----END [A-Z ]*PRIVATE KEY-----|\Z))", ("private key-----",)),
    "url userinfo": (r"(?<=://)(?P<s>[^\s/?#@\[\]]*:[^\s@]+|[^\s/?#@:\[\]]{16,})@", ("://",)),
    "slack webhook": (r"(?i:hooks\.slack\.com/services/)(?P<s>[A-Za-z0-9/_-]+)",
                      ("hooks.slack.com",)),
    "authorization header": (r"(?i:authorization[\"']?\s*[:=]\s*[\"']?(?:[a-z]+\s+)?)"
                             r"(?P<s>[^\s\"',;]+)", ("authorization",)),
    "bearer": (r"(?i:\bbearer\s+)(?P<s>[A-Za-z0-9._~+/=-]{8,})", ("bearer",)),
    "github": (r"\b(?P<s>gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
               ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    "gitlab": (r"\b(?P<s>(?:" + "|".join(_GITLAB) + r")-[A-Za-z0-9_-]{20,})",
               tuple(f"{p}-" for p in _GITLAB)),
    "hugging face": (r"\b(?P<s>hf_[A-Za-z0-9]{16,})", ("hf_",)),
    "openai": (r"\b(?P<s>sk-[A-Za-z0-9_-]{16,})", ("sk-",)),
    "stripe": (r"\b(?P<s>[rs]k_(?:live|test)_[A-Za-z0-9]{16,})", ("k_live_", "k_test_")),
    "google api key": (r"\b(?P<s>AIza[0-9A-Za-z_-]{35})", ("aiza",)),
    "aws key id": (r"\b(?P<s>(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16})\b",
                   ("akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "anpa", "anva",
                    "aipa")),
    "slack token": (r"\b(?P<s>xox[abposre]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})",
                    ("xox", "xapp-")),
    "jwt": (r"\b(?P<s>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*)?)", ("eyj",)),
    "assignment": (r"(?i:" + _ASSIGNED + r")(?![A-Za-z0-9_])[\"']?\s*[:=]\s*[\"']?"
                   r"(?!(?:None|True|False|null|true|false)\b)(?P<s>[^\s\"',;&)}\]]{3,})",
                   ("passw", "passphrase", "secret", "token", "key", "credential")),
}
_SHAPES = [(re.compile(p), triggers) for p, triggers in TOKEN_SHAPES.values()]
_TRIGGERS = tuple(sorted({t for _, ts in TOKEN_SHAPES.values() for t in ts}))
_LINE = re.compile(r"^\[(?P<hash>[a-z0-9]{16,})\] (?P<name>[^:\[]+?)(?:\[(?P<sub>[^\]]*)\])?: ?"
                   r"(?P<value>.*)$", re.S)
_FP = re.compile(r"<redacted (?:hmac:[0-9a-f]+ key:(?P<key>[0-9a-f]+)|sha256:[0-9a-f]+)>")
LINE_SECTIONS = {"inductor_config": "inductor", "inductor_config_comms": "inductor"}
"""Key-line factor names whose ``[sub]`` is an entry of a config section of the factor dump."""

# -- the key ------------------------------------------------------------------------------------

_KEYS: dict[str, bytes] = {}


def key_path() -> Path:
    """Where the redaction key lives: ``$COMPILE_LENS_REDACTION_KEY`` or the user's config dir."""
    explicit = os.environ.get(KEY_ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "compile_lens" / "redaction.key"


def _create_key(path: Path) -> None:
    """Write a new random key atomically (a racing process keeps whichever landed first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink()


def redaction_key() -> bytes:
    """The user's redaction key, created on first use; a per-process random key if it cannot be.

    A process-local key still hides every secret; only the comparison across runs is lost.
    """
    path = key_path()
    cached = _KEYS.get(str(path))
    if cached is not None:
        return cached
    try:
        if not path.exists():
            _create_key(path)
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
        if len(key) < 16:
            msg = "key too short"
            raise ValueError(msg)
    except (OSError, ValueError, UnicodeDecodeError):
        key = secrets.token_bytes(32)
    _KEYS[str(path)] = key
    return key


def key_id() -> str:
    """A short public name of the key (a hash of it): says which key made a fingerprint."""
    return hashlib.sha256(b"compile_lens key id\x00" + redaction_key()).hexdigest()[:4]


def _mac(*parts: str) -> bytes:
    text = "\x00".join(parts).encode("utf-8", "replace")
    return hmac.new(redaction_key(), text, hashlib.sha256).digest()


def fingerprint(*parts: str) -> str:
    """The placeholder for a secret: ``<redacted hmac:1a2b3c4d5e key:ab12>``."""
    return f"{REDACTED_PREFIX} hmac:{_mac(*parts).hex()[:10]} key:{key_id()}>"


def fingerprint_keys(a: str | None, b: str | None) -> bool:
    """True when ``a`` and ``b`` are fingerprints made with *different* keys (not comparable)."""
    ma, mb = _FP.search(a or ""), _FP.search(b or "")
    return bool(ma and mb and ma["key"] != mb["key"])


# -- what looks secret --------------------------------------------------------------------------

def is_secret_name(name: str) -> bool:
    """Whether an environment variable or config *name* looks like it holds a credential."""
    return bool(_SECRET_NAME.search(name))


def _is_redacted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(REDACTED_PREFIX)


def looks_secret(name: str, value: Any) -> bool:
    """True when an env var's name or value looks like a credential (token, key, password).

    Args:
        name: the variable's name (``HF_TOKEN`` looks secret whatever its value).
        value: its value (any shape in ``TOKEN_SHAPES``).
    """
    if value is None or value == "" or _is_redacted(value):
        return False
    if _SECRET_NAME.search(name):
        return True
    return isinstance(value, str) and redact_text(value) != value


def redact_text(text: str) -> str:
    """``text`` with every token-shaped substring replaced by its fingerprint; the rest is kept."""
    # Substring scans of the lower-cased text are ~10x faster than one regex alternation of
    # the triggers (Python's re tries every alternative at every position).
    low = text.lower()
    if not any(t in low for t in _TRIGGERS):
        return text
    for pattern, triggers in _SHAPES:
        if any(t in low for t in triggers):
            text = pattern.sub(_replace, text)
    return text


def _replace(match: re.Match[str]) -> str:
    secret = match.group("s")
    if secret.startswith(REDACTED_PREFIX):
        return match.group()
    start, end = match.span("s")
    whole = match.group()
    base = match.start()
    return whole[: start - base] + fingerprint(secret) + whole[end - base:]


def redacted_value(name: str, value: Any) -> str:
    """The placeholder stored instead of a secret env or config value (keyed on name and value)."""
    return fingerprint(name, str(value))


# -- layers -------------------------------------------------------------------------------------

def redact_env(env: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``env`` with secret-looking values replaced, and the names that were redacted."""
    out: dict[str, Any] = {}
    names: list[str] = []
    for name, value in env.items():
        if looks_secret(name, value):
            out[name] = redacted_value(name, value)
            names.append(name)
        else:
            out[name] = deep(value)
    return out, sorted(names)


def deep(value: Any, text: Callable[[str], str] = redact_text) -> Any:
    """``value`` with ``text`` applied to every string in it (lists, dicts, records).

    Unchanged parts are returned as the same objects, and equal short strings are checked once,
    so a big trace without secrets costs one pass and no copies (the report of the 80-layer
    trace pays about 0.1 s for it).
    """
    memo: dict[str, str] = {}
    fields: dict[type, tuple[str, ...]] = {}

    def string(item: str) -> str:
        if len(item) > 256:
            return text(item)
        done = memo.get(item)
        if done is None:
            done = memo[item] = text(item)
        return done

    scalars = (int, float, bool, type(None))

    def record(item: Any, names: tuple[str, ...]) -> Any:
        changes = {}
        for name in names:
            old = getattr(item, name)
            kind = type(old)
            if kind is str:
                new = string(old)
            elif kind in scalars or not old:
                continue
            else:
                new = one(old)
            if new is not old:
                changes[name] = new
        return dataclasses.replace(item, **changes) if changes else item

    def one(item: Any) -> Any:
        kind = type(item)
        if kind is str:
            return string(item)
        names = fields.get(kind)
        if names is not None:
            return record(item, names)
        if kind in scalars:
            return item
        if kind is list or kind is tuple:
            new = [one(v) for v in item]
            return item if all(a is b for a, b in zip(new, item, strict=True)) else new
        if kind is dict:
            pairs = [(one(k), one(v)) for k, v in item.items()]
            same = all(k is k0 and v is v0
                       for (k, v), (k0, v0) in zip(pairs, item.items(), strict=True))
            return item if same else dict(pairs)
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            fields[kind] = tuple(f.name for f in dataclasses.fields(item))
            return record(item, fields[kind])
        return string(item) if isinstance(item, str) else item

    return one(value)


def _secret_entry(value: Any) -> bool:
    """A value that can hold a secret: a non-empty string not already redacted."""
    return isinstance(value, str) and value != "" and not _is_redacted(value)


def redact_config(
    config: Mapping[str, Mapping[str, Any]], linked: set[str]
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Config sections with secrets replaced, and the ``section.key`` entries fully redacted.

    An entry is replaced whole when its name looks secret or an env var redacted as secret feeds
    it (``linked``: its copy of the secret); token shapes anywhere else are replaced in place.
    """
    out: dict[str, dict[str, Any]] = {}
    names: list[str] = []
    for section, values in config.items():
        clean: dict[str, Any] = {}
        for key, value in values.items():
            full = f"{section}.{key}"
            short = str(key).rsplit(".", 1)[-1]
            if (full in linked or is_secret_name(short)) and _secret_entry(value):
                clean[key] = redacted_value(full, value)
                names.append(full)
            else:
                clean[key] = deep(value)
        out[section] = clean
    return out, sorted(names)


def redact_line(line: str, entries: set[str]) -> str:
    """One key factor line with its value redacted when it is secret (``entries``: redacted
    ``section.key`` config entries). A changed line's torch hash is replaced by a keyed one, so
    lines still compare by hash but a short secret cannot be brute-forced from it.
    """
    m = _LINE.match(line)
    if m is None:
        return redact_text(line)
    name, sub, value = m["name"].strip(), m["sub"], m["value"]
    section = LINE_SECTIONS.get(name)
    entry = f"{section}.{sub}" if section and sub is not None else ""
    secret_name = is_secret_name((sub or name).rsplit(".", 1)[-1])
    if (entry in entries or secret_name) and value not in ("", "None") and not _is_redacted(value):
        new = redacted_value(entry or name, value)
    else:
        new = redact_text(value)
    if new == value:
        return line
    keyed = base64.b32encode(_mac("line hash", m["hash"])).decode().lower().rstrip("=")
    head = f"[{keyed[: len(m['hash'])]}] {name}" + (f"[{sub}]" if sub is not None else "")
    return f"{head}: {new}"


def redact_lines(key_lines: Mapping[str, list[str]], entries: set[str]) -> dict[str, list[str]]:
    """Every key's factor lines through ``redact_line``."""
    return {key: [redact_line(x, entries) for x in lines] for key, lines in key_lines.items()}


def _redacted_entries(dump: Any) -> set[str]:
    """``section.key`` entries of a (redacted) dump whose value is a fingerprint."""
    return {f"{s}.{k}" for s, values in dump.config.items() for k, v in values.items()
            if _is_redacted(v)}


def redact_dump(dump: Any) -> Any:
    """A ``FactorDump`` with secrets removed from every layer; ``redacted`` names what was hidden.

    Env values by name and shape; config entries by name, by shape and when a secret env var
    feeds them (``env_affects``); key factor lines of those entries and by shape; system, code,
    hashes and ``extra`` by shape.
    """
    env, env_names = redact_env(dump.env)
    secret_env = set(env_names) | {n for n, v in env.items() if _is_redacted(v)}
    linked = {t for n in secret_env for t in dump.env_affects.get(n, [])}
    config, config_names = redact_config(dump.config, linked)
    entries = _redacted_entries(dataclasses.replace(dump, config=config))
    return dataclasses.replace(
        dump,
        env=env,
        config=config,
        system=deep(dump.system),
        code=deep(dump.code),
        hashes=deep(dump.hashes),
        key_lines=redact_lines(dump.key_lines, entries),
        redacted=sorted({*dump.redacted, *env_names, *config_names}),
        extra=deep(dump.extra),
    )


def redact_record(record: Any) -> Any:
    """A ``TraceRecord`` with secrets removed everywhere (factors, key lines, notes, code…)."""
    factors = redact_dump(record.factors) if record.factors is not None else None
    entries = _redacted_entries(factors) if factors is not None else set()
    skip = {"factors", "key_lines"}
    changes = {f.name: deep(getattr(record, f.name)) for f in dataclasses.fields(record)
               if f.name not in skip}
    return dataclasses.replace(record, **changes, factors=factors,
                               key_lines=redact_lines(record.key_lines, entries))
