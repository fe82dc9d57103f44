"""The env-var scan of torch's config sources: the one-walk scan equals the plain reference.

``env_config_map()`` runs once per process at the end of every traced cold compile (issue 12,
item 1), so its walk of the config modules' ASTs is the fast ``_reads``: one pass per subtree that
skips nothing able to hold an env name or a call. These tests pin it to the reference (two
``ast.walk`` passes per assignment, ``reference=True``): on the installed torch's real config
modules, and on a small source that puts an env read in every place the scan must look.
"""

from __future__ import annotations

import ast

import pytest

from compile_lens.instrument import env_factors
from compile_lens.instrument.env_factors import (
    CONFIG_MODULES,
    _module_source,
    _reads,
    env_config_map,
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
