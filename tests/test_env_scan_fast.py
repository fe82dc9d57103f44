"""The env-var scan of torch's config sources: the one-walk scan equals the plain reference.

``env_config_map()`` runs once per process at the end of every traced cold compile (issue 12,
item 1), so its walk of the config modules' ASTs is the fast ``_reads``: one pass per subtree that
skips nothing able to hold an env name or a call. These tests pin it to the reference (two
``ast.walk`` passes per assignment, ``reference=True``): on the installed torch's real config
modules, and on a small source that puts an env read in every place the scan must look.
"""

from __future__ import annotations

import ast
import itertools
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compile_lens.instrument import env_factors
from compile_lens.instrument.env_factors import (
    CONFIG_MODULES,
    _module_source,
    _reads,
    counting_env,
    env_config_entries,
    env_config_map,
    may_hold,
    scan_config_source,
)

# Every place an env name can hide: a helper (read through a decorator, an f-string, a nested
# function, a {**d} dict, a global statement), a class body, an annotated assignment, an
# assignment that calls a helper from inside a comprehension, a redefined helper, a match.
SYNTHETIC = '''
import os
from functools import cache

def _flag(name):
    return os.environ.get(name) == "1"

@cache
def helper_a():
    return os.environ.get("CL_HELPER_A", "0")

def helper_b():
    global something
    def inner():
        return {**os.environ, "k": f"{os.environ.get('CL_INNER_B')}"}
    return inner()

def shadowed():
    return os.environ.get("CL_SHADOWED_OLD")

before_redefinition = shadowed()

def shadowed():
    return None

after_redefinition = shadowed()

plain = os.environ.get("CL_PLAIN") == "1"
annotated: bool = _flag("CL_ANNOTATED")
bare_annotation: int
through_helper = [helper_a() for _ in range(2)]
nested_helper: str = str(helper_b())
concatenated = os.environ.get("CL_" "CONCAT")
lowercase_is_no_env_name = os.environ.get("cl_lower")

def match_helper(x):
    match x:
        case {"k": 1}:
            return os.environ.get("CL_MATCH")
    return None

by_match = match_helper(1)

class triton:
    cudagraphs = os.environ.get("CL_CLASS_BODY") == "1"
    annotated_in_class: bool = helper_a() == "1"

    class nested:
        deep: int = int(os.environ.get("CL_NESTED_CLASS", "0"))

    def method(self):
        return os.environ.get("CL_METHOD")

    via_method = method(None)

if os.environ.get("CL_INSIDE_IF"):
    inside_if = os.environ.get("CL_INSIDE_IF")
'''

EXPECTED = {
    "annotated": {"CL_ANNOTATED"},
    "plain": {"CL_PLAIN"},
    "through_helper": {"CL_HELPER_A"},
    "nested_helper": {"CL_INNER_B"},
    "before_redefinition": {"CL_SHADOWED_OLD"},
    "concatenated": {"CL_CONCAT"},
    "by_match": {"CL_MATCH"},
    "triton.cudagraphs": {"CL_CLASS_BODY"},
    "triton.annotated_in_class": {"CL_HELPER_A"},
    "triton.nested.deep": {"CL_NESTED_CLASS"},
    "triton.via_method": {"CL_METHOD"},
}


def test_synthetic_source_every_place_an_env_read_hides():
    fast = scan_config_source(SYNTHETIC)
    assert fast == EXPECTED
    assert fast == scan_config_source(SYNTHETIC, reference=True)


def test_one_walk_finds_what_the_two_walks_find_in_every_subtree():
    # Every node of the synthetic source and of the real config sources, not only the
    # statements the scan happens to ask about: _reads == (_env_names, _called_names).
    sources = [SYNTHETIC] + [s for s in map(_module_source, CONFIG_MODULES.values()) if s]
    checked = 0
    for source in sources:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.expr_context):
                continue
            assert _reads(node) == (env_factors._env_names(node),
                                    env_factors._called_names(node)), ast.dump(node)[:200]
            checked += 1
    assert checked > 3_000, "the real config sources were read"


@pytest.mark.parametrize("section", sorted(CONFIG_MODULES))
def test_real_config_module_same_as_reference(section):
    source = _module_source(CONFIG_MODULES[section])
    assert source is not None, f"{CONFIG_MODULES[section]} has a source file"
    fast = scan_config_source(source)
    assert fast, "the config module reads env vars"
    assert fast == scan_config_source(source, reference=True)


def test_env_config_map_same_as_reference():
    mapping = env_config_map()
    assert mapping == env_config_map(reference=True)
    assert "inductor.max_autotune" in mapping["TORCHINDUCTOR_MAX_AUTOTUNE"]


@pytest.mark.parametrize("source", ["def broken(:\n", "x = 1\x00\n"])
def test_unparsable_source_contributes_nothing(source):
    assert scan_config_source(source) is None
    assert scan_config_source(source, reference=True) is None


# --- env_config_entries: parse a config module only if its text may hold a set variable ------

def _clear_caches() -> None:
    for fn in (env_config_map, env_factors._config_scan, env_factors._config_source,
               env_factors._entries):
        fn.cache_clear()


def _real_environs() -> list[dict[str, str]]:
    mapping = env_config_map(reference=True)
    source_tokens = set()
    for source in map(_module_source, CONFIG_MODULES.values()):
        source_tokens |= set(re.findall(r"[A-Z][A-Z0-9]*_[A-Z0-9_]+", source or ""))
    in_text_not_read = sorted(source_tokens - set(mapping))[:20]
    base = dict(os.environ)
    return [
        base,
        {**base, "TORCHINDUCTOR_CACHE_DIR": "/tmp/c", "CUDA_VISIBLE_DEVICES": "0"},
        {**base, "TORCHINDUCTOR_MAX_AUTOTUNE": "1", "TORCH_COMPILE_DEBUG": "0"},
        {**base, **{name: "1" for name in in_text_not_read}},
        {name: "x" for name in mapping},
        {"OMP_NUM_THREADS": "4", "CC": "gcc", "VLLM_X": "1", "lower_case": "1", "A_B\n": "1"},
        {},
    ]


@pytest.mark.parametrize("case", range(7))
def test_counting_env_same_as_reference(case):
    environ = _real_environs()[case]
    assert counting_env(environ) == counting_env(environ, reference=True)
    wanted = set(environ)
    assert env_config_entries(environ) == {
        name: keys for name, keys in env_config_map(reference=True).items() if name in wanted}


def test_entries_parse_only_the_modules_whose_text_may_hold_a_name(monkeypatch):
    sources = {module: _module_source(module) or "" for module in CONFIG_MODULES.values()}
    scanned: list[str] = []
    plain_scan = env_factors.scan_config_source

    def recording_scan(source: str, *, reference: bool = False):
        scanned.extend(m for m, text in sources.items() if text == source)
        return plain_scan(source, reference=reference)

    monkeypatch.setattr(env_factors, "scan_config_source", recording_scan)
    names = {"CUDA_VISIBLE_DEVICES", "COMPILE_LENS_NOT_A_TORCH_VARIABLE"}
    _clear_caches()
    try:
        assert env_config_entries(names) == {}
        may = [m for m, text in sources.items() if may_hold(text, names)]
        assert scanned == may, "a module is parsed exactly when its text may hold a name"
        scanned.clear()
        entries = env_config_entries({"TORCHINDUCTOR_MAX_AUTOTUNE"})
        assert "inductor.max_autotune" in entries["TORCHINDUCTOR_MAX_AUTOTUNE"]
        assert "torch._inductor.config" in scanned
        # The same names again (another trace() in this process): answered from the cache.
        hits = env_factors._entries.cache_info().hits
        assert env_config_entries(["TORCHINDUCTOR_MAX_AUTOTUNE", "lower_case"]) == entries
        assert env_factors._entries.cache_info().hits == hits + 1
    finally:
        _clear_caches()


@pytest.mark.parametrize(("source", "held"), [
    ('x = os.environ.get("CL_NAME")\n', True),
    ('x = os.environ.get("CL_" "NAME")\n', True),
    ("x = os.environ.get(\n    'CL'  # the prefix\n    # more\n    r'_NAME')\n", True),
    ('x = os.environ.get("""CL_""" f"NAME")\n', True),
    ('x = os.environ.get("\\x43L_NAME")\n', True),
    ('x = os.environ.get("CL_NAM" \\\n "E")\n', True),
    ('x = os.environ.get("CL_OTHER")\n', False),
    ('x = "1"\n# a "quoted" word in a comment\ny = "A" + "B"\n', False),
])
def test_may_hold(source, held):
    assert may_hold(source, {"CL_NAME"}) is held
    if held:  # it is a real read: the scan finds it
        assert scan_config_source(source) == {"x": {"CL_NAME"}}


_QUOTES = ['"', "'", '"""', "'''"]


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[A-Z][A-Z0-9]{0,5}_[A-Z0-9_]{1,6}", fullmatch=True),
    cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=3),
    quotes=st.lists(st.sampled_from(_QUOTES), min_size=4, max_size=4),
    prefixes=st.lists(st.sampled_from(["", "r", "R", "u", "f", "rf", "Fr"]), min_size=4,
                      max_size=4),
    gaps=st.lists(st.sampled_from([" ", "", "\n    ", "  # c 'x' \"y\"\n  ", "\t"]),
                  min_size=4, max_size=4),
)
def test_may_hold_never_misses_a_name_the_scan_finds(name, cuts, quotes, prefixes, gaps):
    bounds = sorted({0, len(name), *(c for c in cuts if c <= len(name))})
    pieces = [name[a:b] for a, b in itertools.pairwise(bounds)]
    literal = "".join(
        gaps[i % 4] + prefixes[i % 4] + quotes[i % 4] + piece.replace("{", "{{") + quotes[i % 4]
        for i, piece in enumerate(pieces))
    source = f"import os\nx = os.environ.get(\n{literal}\n)\n"
    assert scan_config_source(source, reference=True) == {"x": {name}}, source
    assert may_hold(source, {name}), source
