"""The public API is typed: explicit keyword arguments that match what they forward to, and return
types a type checker sees from user code (``AbstractContextManager[Trace]``, ``Diff`` …)."""

from __future__ import annotations

import inspect
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import compile_lens
from compile_lens.analysis.factor_diff import diff as diff_impl
from compile_lens.api import trace as trace_impl
from compile_lens.backend.piecewise import PiecewiseBackend
from compile_lens.instrument.factors import collect_factors
from compile_lens.views.report import render

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = (compile_lens.trace, compile_lens.piecewise, compile_lens.diff, compile_lens.factors,
          compile_lens.load)


def _params(fn: Any, skip: tuple[str, ...] = ("self",)) -> dict[str, tuple[Any, Any]]:
    return {name: (p.kind, p.default) for name, p in inspect.signature(fn).parameters.items()
            if name not in skip}


@pytest.mark.parametrize("fn", PUBLIC, ids=lambda f: f.__name__)
def test_every_argument_is_named_and_annotated(fn):
    sig = inspect.signature(fn)
    kinds = {p.kind for p in sig.parameters.values()}
    assert not kinds & {inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL}
    assert all(p.annotation is not inspect.Parameter.empty for p in sig.parameters.values())
    assert sig.return_annotation is not inspect.Signature.empty


def test_the_signatures_match_what_they_forward_to():
    assert _params(compile_lens.trace) == _params(trace_impl)
    assert _params(compile_lens.factors) == _params(collect_factors)
    assert _params(compile_lens.diff) == _params(diff_impl)
    # piecewise: the same keywords; None stands for the backend's default splitting ops (the
    # default itself is a torch function, and importing compile_lens does not import torch).
    public, impl = _params(compile_lens.piecewise), _params(PiecewiseBackend.__init__)
    assert public.pop("splitting_ops")[1] is None
    impl.pop("splitting_ops")
    assert public == impl
    assert _params(compile_lens.Trace.to_html, skip=("self", "path")) == _params(
        render, skip=("trace_record",))
    assert inspect.signature(compile_lens.trace).return_annotation == "AbstractContextManager[Trace]"
    assert inspect.signature(compile_lens.diff).return_annotation == "Diff"


def test_piecewise_forwards_every_argument():
    default = compile_lens.piecewise(use_artifact_cache=False)
    assert default.splitting_ops == PiecewiseBackend(use_artifact_cache=False).splitting_ops
    b = compile_lens.piecewise(splitting_ops=["ns::op"], compile_sizes=[4, 1], dedup=False,
                               use_artifact_cache=False, inductor_config={"max_fusion_size": 8},
                               cudagraph_sizes=[2])
    assert (b.splitting_ops, b.compile_sizes, b.dedup, b.cache, b.inductor_config,
            b.cudagraph_sizes) == (["ns::op"], [1, 4], False, None, {"max_fusion_size": 8}, [2])


USER_CODE = """\
import compile_lens
from typing import reveal_type

with compile_lens.trace(cross_check=True, progress=False) as t:
    pass
reveal_type(t)
reveal_type(compile_lens.trace())
reveal_type(compile_lens.diff("a.json", t))
reveal_type(compile_lens.factors(redact=False))
reveal_type(compile_lens.piecewise(compile_sizes=[1, 4]))
reveal_type(compile_lens.load("t.json").summary())
reveal_type(t.cross_check())
compile_lens.trace(cross_chek=True)
"""


def test_a_type_checker_sees_the_types_from_user_code(tmp_path: Path):
    pyright = shutil.which("pyright")
    if pyright is None:
        pytest.skip("pyright is not installed (compile_lens' [dev] extra)")
    (tmp_path / "user.py").write_text(USER_CODE)
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(
        {"extraPaths": [str(ROOT)], "pythonVersion": "3.11", "typeCheckingMode": "basic"}))
    proc = subprocess.run([pyright, "--outputjson", "--pythonpath", sys.executable, "user.py"],
                          cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300)
    found = json.loads(proc.stdout)["generalDiagnostics"]
    revealed = [d["message"].split(" is ")[-1].strip('"') for d in found
                if d["severity"] == "information"]
    assert revealed == ["Trace", "AbstractContextManager[Trace, bool | None]", "Diff", "FactorDump",
                        "PiecewiseBackend", "Summary", "CrossCheck"]
    errors = [(d["range"]["start"]["line"] + 1, d["message"]) for d in found if d["severity"] == "error"]
    assert errors == [(13, 'No parameter named "cross_chek"')]
