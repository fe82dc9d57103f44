"""The vLLM observers import nothing of vLLM: hooks land when vLLM imports their module.

The first tests use a throwaway package (no vLLM needed, they run in the main suite too): the
post-import hook itself, and ``_Hooks`` landing a declared patch on import, restoring it, and
failing loudly for a required target the module lacks. The last one is real vLLM in a fresh
process: with only ``import vllm`` done, entering ``trace()`` imports no vLLM module, and the
toy compiled inside the block (vLLM importing its compilation modules then) is fully recorded.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vllm_runs import HAS_VLLM, run_script

from compile_lens.errors import InstrumentationError
from compile_lens.instrument.vllm import _Hooks, _state
from compile_lens.instrument.vllm.lazy import PostImportHooks


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh package ``cl_lazy_<n>`` with a module ``mod`` (``f() == 1``), not imported."""
    name = f"cl_lazy_{len(list(tmp_path.parent.iterdir()))}_{tmp_path.name}"
    (tmp_path / name).mkdir()
    (tmp_path / name / "__init__.py").write_text("")
    (tmp_path / name / "mod.py").write_text("def f():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    for module in [m for m in sys.modules if m.split(".")[0] == name]:
        del sys.modules[module]


def test_post_import_hook_runs_after_the_module_and_leaves_it_plain(package: str) -> None:
    seen: list[tuple[str, Any]] = []
    finder = PostImportHooks(lambda name: seen.append((name, sys.modules[name].f())))
    finder.open()
    try:
        finder.watch(f"{package}.mod")
        assert f"{package}.mod" not in sys.modules, "watching imports nothing"
        importlib.import_module(package)
        assert seen == [], "only the watched module calls back"
        module = importlib.import_module(f"{package}.mod")
        assert seen == [(f"{package}.mod", 1)], "called once, after the module executed"
        assert type(module.__loader__).__name__ == "SourceFileLoader"
        assert module.__spec__.loader is module.__loader__
        assert finder.watched() == set()
    finally:
        finder.close()
    assert finder not in sys.meta_path


@contextlib.contextmanager
def _hooks(strict: bool) -> Iterator[tuple[_Hooks, contextlib.ExitStack]]:
    _state.GUARD.reset(strict)
    with contextlib.ExitStack() as stack:
        hooks = _Hooks(stack)
        stack.callback(hooks.finder.close)
        hooks.finder.open()
        yield hooks, stack
    _state.GUARD.reset(False)


def _plus_ten(original: Any) -> Any:
    def f() -> Any:
        return original() + 10

    return f


def test_a_hook_lands_when_its_module_is_imported_and_is_restored(package: str) -> None:
    target = f"{package}.mod:f"
    with _hooks(strict=True) as (hooks, stack):
        hooks.add([(target, _plus_ten, True)])
        assert f"{package}.mod" not in sys.modules, "the hook did not import its module"
        module = importlib.import_module(f"{package}.mod")
        assert module.f() == 11, "patched as soon as the module was imported"
        assert target in hooks.sources and hooks.pending == {}
        stack.close()
        assert module.f() == 1, "the original is back"


def test_no_hook_lands_after_the_block(package: str) -> None:
    with _hooks(strict=True) as (hooks, _):
        hooks.add([(f"{package}.mod:f", _plus_ten, True)])
        hooks.close()  # what the end of the block does first
        module = importlib.import_module(f"{package}.mod")
        assert module.f() == 1 and hooks.finder not in sys.meta_path


def test_a_hook_whose_module_is_imported_lands_at_once(package: str) -> None:
    module = importlib.import_module(f"{package}.mod")
    with _hooks(strict=True) as (hooks, _):
        hooks.add([(f"{package}.mod:f", _plus_ten, True)])
        assert module.f() == 11
    assert module.f() == 1


def test_a_required_target_missing_at_import_fails_loudly(package: str) -> None:
    with _hooks(strict=True) as (hooks, _):
        hooks.add([(f"{package}.mod:renamed_upstream", _plus_ten, True),
                   (f"{package}.mod:f", _plus_ten, True)])
        with pytest.raises(InstrumentationError, match="renamed_upstream"):
            importlib.import_module(f"{package}.mod")
    assert f"{package}.mod" not in sys.modules


def test_an_optional_target_missing_at_import_is_listed(package: str) -> None:
    with _hooks(strict=True) as (hooks, _):
        hooks.add([(f"{package}.mod:gone", _plus_ten, False),
                   (f"{package}.mod:f", _plus_ten, True)])
        module = importlib.import_module(f"{package}.mod")
        assert module.f() == 11
        assert hooks.missing == [f"{package}.mod:gone"]


@pytest.mark.vllm
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (run .ci/vllm-tier.sh)")
def test_entering_trace_imports_no_vllm_module_and_hooks_land_later(tmp_path: Path) -> None:
    run = run_script("_lazy_run.py", tmp_path / "out", tmp_path / "cache")
    result = run.result
    assert result["imported_by_entering"] == [], "entering trace() imported vLLM modules"
    assert "vllm.compilation.backends" in result["hook_modules_not_imported_before"]
    assert result["wrapped_inside"] == sorted(result["targets"]), "every hook landed"
    assert result["wrapped_after"] == [] and result["finder_left"] is False
    record = run.trace.record
    assert [c.outcome for c in record.compiles] == ["compiled"] * 3
    assert [p.submod for p in record.pieces if not p.is_split_op] == [
        "submod_0", "submod_2", "submod_4"]
    hooks = record.run.extra["vllm_hooks"]["main"]
    assert sorted(hooks["hooks"]) == sorted(result["targets"]) and hooks["missing"] == []
    assert record.issues == []


@pytest.mark.vllm
@pytest.mark.skipif(not HAS_VLLM, reason="vLLM is not installed (run .ci/vllm-tier.sh)")
def test_a_block_that_imports_vllm_itself_is_traced(tmp_path: Path) -> None:
    """``with trace(): import vllm …``: vLLM was not even imported when the block began; the
    hooks still land when vLLM imports their modules, and the toy's compile is recorded."""
    run = run_script("_lazy_run.py", tmp_path / "out", tmp_path / "cache", "--import-inside")
    result = run.result
    assert result["imported_by_entering"] == [], "entering trace() imported vLLM"
    assert "vllm.compilation.backends" in result["hook_modules_not_imported_before"]
    assert result["wrapped_inside"] == sorted(result["targets"]), "every hook landed"
    assert result["wrapped_after"] == [] and result["finder_left"] is False
    record = run.trace.record
    assert [c.outcome for c in record.compiles] == ["compiled"] * 3
    assert record.issues == []

