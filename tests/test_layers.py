"""Imports flow one way (issue 13, item 4): ``model → record → analysis → views → api/cli``, with
``instrument/`` and ``backend/`` feeding events in. Checked on the source with ``ast`` (every
import, also those inside functions), and by loading, rendering and diffing a trace in a process
where ``import torch`` fails."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "compile_lens"

BASE = {"errors", "_version"}
"""Anyone may import these (the exception types, the version string)."""
PRODUCER_SHARED = {"_events", "_session", "_fx", "_torch"}
"""The event contract, the session handshake and the torch helpers instrument/ and backend/ share."""
ALLOWED: dict[str, set[str]] = {
    "model": BASE | {"model"},
    "record": BASE | {"model", "record", "_events"},
    "analysis": BASE | {"model", "record", "analysis"},
    "views": BASE | {"model", "record", "analysis", "views"},
    "instrument": BASE | PRODUCER_SHARED | {"model", "record", "instrument"},
    "backend": BASE | PRODUCER_SHARED | {"model", "record", "backend"},
    "_torch": BASE | {"_torch"},
    "_events": BASE | PRODUCER_SHARED | {"model"},
    "_session": BASE | {"_session"},
    "_fx": BASE | {"_fx"},
    "errors": {"errors"},
    "_version": {"_version"},
}
"""Per part of the package: the parts it may import. ``api``, ``cli``, ``demo`` and the package's
``__init__`` sit on top and may import any part (``api`` not ``cli``)."""
TOP = {"api", "cli", "demo", "demo_model", "__init__", "__main__"}
TORCH_FREE = {"model", "record", "analysis", "views"}
KNOWN: dict[tuple[str, str], str] = {}
"""Back edges still to remove, each with what removes it. A fixed one must leave this list."""


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """``(imported module, line)`` for every import in ``path``; ``from pkg import name`` counts
    as importing ``pkg.name`` when that is a module of the package."""
    rel = path.relative_to(root).with_suffix("")
    module = ".".join(rel.parts)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                as_module = root.joinpath(*sub.split("."))
                is_module = as_module.with_suffix(".py").is_file() or as_module.is_dir()
                out.append((sub if is_module else target, node.lineno))
    return out


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    name = ".".join(rel.parts)
    return name.removesuffix(".__init__")


def _edges() -> list[tuple[str, str, int]]:
    return [(_module(p), target, line) for p in sorted(PACKAGE.rglob("*.py"))
            for target, line in _imports(p)]


def test_every_part_has_a_rule() -> None:
    parts = {_part(_module(p)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(ALLOWED) | TOP, f"a new part needs a layer rule: {parts - set(ALLOWED) - TOP}"


def test_imports_flow_one_way() -> None:
    wrong, seen_known = [], set()
    for source, target, line in _edges():
        if not target.startswith("compile_lens"):
            continue
        src, dst = _part(source), _part(target)
        if src in TOP:
            if src == "api" and dst == "cli":
                wrong.append(f"{source}:{line} imports {target}")
            continue
        if target == "compile_lens" or dst not in ALLOWED[src]:
            known = next((k for k in KNOWN if source == k[0] and target.startswith(k[1])), None)
            if known is not None:
                seen_known.add(known)
                continue
            wrong.append(f"{source}:{line} imports {target} ({src} may import "
                         f"{', '.join(sorted(ALLOWED[src]))})")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)
    assert seen_known == set(KNOWN), f"fixed, take off KNOWN: {set(KNOWN) - seen_known}"


def test_the_pipeline_below_api_never_imports_torch_or_vllm() -> None:
    found = [f"{source}:{line} imports {target}" for source, target, line in _edges()
             if _part(source) in TORCH_FREE and target.split(".")[0] in {"torch", "vllm", "triton"}]
    assert not found, "\n".join(found)


def test_the_layer_check_sees_a_back_edge(tmp_path: Path) -> None:
    """The checker itself: an analysis module importing a view, absolutely or relatively, inside
    a function or not, is seen as importing ``views``."""
    bad = tmp_path / "compile_lens" / "analysis"
    bad.mkdir(parents=True)
    src = bad / "x.py"
    src.write_text("from compile_lens.views import diff\n"
                   "def f():\n    from ..views.report import render\n")
    targets = [t for t, _ in _imports(src, tmp_path)]
    assert targets == ["compile_lens.views", "compile_lens.views.report"]
    assert all(_part(t) not in ALLOWED["analysis"] for t in targets)


SCRIPT = textwrap.dedent("""
    import sys
    sys.modules["torch"] = None  # any `import torch` now raises ImportError
    from compile_lens.record.open import read_any
    from compile_lens.analysis.summary import summarize
    from compile_lens.analysis.factor_diff import diff
    from compile_lens.analysis.cross_check import cross_check
    from compile_lens.views.report import render
    from compile_lens.views.display import trace_sections
    from compile_lens.views.diff import diff_text
    from compile_lens.views import tables

    record = read_any(sys.argv[1])
    assert record.graphs and record.compiles, "the demo trace has graphs and compiles"
    html = render(record)
    assert html.startswith("<!DOCTYPE html>") and "Pieces &amp; keys" in html
    assert [t for t, _ in trace_sections(record)][:2] == ["Overview", "Compiles"]
    assert len(tables.pieces_frame(record)) > 0
    print(summarize(record).graphs, len(cross_check(record).checks))
    d = diff(record, record)
    assert d.equal, "a trace agrees with itself"
    assert "keys agree" in diff_text(d).lower() or "agree" in diff_text(d)
    loaded = [m for m in sys.modules if m.split(".")[0] in ("torch", "vllm", "triton")
              and sys.modules[m] is not None]
    assert not loaded, loaded
    print("ok")
""")


def test_model_record_analysis_views_work_without_torch() -> None:
    trace = ROOT / "tests" / "fixtures" / "traces" / "demo.json"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(trace)], capture_output=True,
                          text=True, timeout=300, check=False, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


@pytest.mark.parametrize("module", ["compile_lens.api", "compile_lens.cli"])
def test_api_and_cli_import_without_torch(module: str) -> None:
    code = f"import sys; sys.modules['torch'] = None; import {module}; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_trace_passes_the_progress_view_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """``instrument`` never imports the progress view: ``api.trace`` hands it the factory, and
    the line is opened and closed inside a notebook kernel exactly as before."""
    import types

    import compile_lens
    from compile_lens.views import progress

    made: list[Any] = []

    class Line:
        closed = False

        def update(self, *args: Any) -> None:
            pass

        def close(self) -> None:
            self.closed = True

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setattr(progress, "make_progress", lambda: made.append(Line()) or made[-1])
    with compile_lens.trace(factors=False, bytecode=False) as t:
        assert not t.complete
    assert t.complete and len(made) == 1 and made[0].closed
    with compile_lens.trace(progress=False, factors=False, bytecode=False):
        pass
    assert len(made) == 1, "progress=False opens no line"
