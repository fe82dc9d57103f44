"""Enter ``trace()`` with only ``import vllm`` done; vLLM imports its compilation modules inside.

Usage: ``python _lazy_run.py OUT_DIR [--import-inside]`` (test helper, a fresh interpreter so
that no vLLM compilation module is imported yet; with ``--import-inside`` not even ``vllm``: the
block imports it). Writes ``result.json``: the vLLM modules imported by entering
the block, which hooked modules were not imported before it, which targets were wrapped inside
the block (after the toy compiled) and after it, whether our finder is still on
``sys.meta_path``; ``trace.json``: the trace.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))


def _ours(value: object) -> bool:
    """Whether ``value`` is one of compile_lens's wrappers (they are defined in compile_lens)."""
    code = getattr(value, "__code__", None)
    return code is not None and "compile_lens" in code.co_filename


def _vllm_modules() -> set[str]:
    return {m for m in sys.modules if m == "vllm" or m.startswith("vllm.")}


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    if "--import-inside" not in sys.argv:
        import vllm  # only the package: its compilation modules come later

    import compile_lens
    from compile_lens._torch.patching import current
    from compile_lens.instrument import vllm as observers
    from compile_lens.instrument.vllm import lazy

    targets = [t for t, _, _ in observers.HOOKS]
    modules = {t.partition(":")[0] for t in targets}
    before = _vllm_modules()
    start = time.perf_counter()
    with compile_lens.trace(strict=True) as t:
        entered_s = time.perf_counter() - start
        imported_by_entering = sorted(_vllm_modules() - before)
        import toy_model
        import vllm  # noqa: F401 - imported before the block, or (--import-inside) here

        cfg = toy_model.vllm_config("eager")
        outputs = toy_model.run(cfg, toy_model.build_model(cfg, layers=2), sizes=(5, 3))
        wrapped_inside = sorted(t for t in targets if _ours(current(t)))
    wrapped_after = sorted(t for t in targets if _ours(current(t)))
    t.save(out / "trace.json")
    result = {
        "imported_by_entering": imported_by_entering,
        "hook_modules_not_imported_before": sorted(modules - before),
        "targets": targets, "wrapped_inside": wrapped_inside, "wrapped_after": wrapped_after,
        "finder_left": any(isinstance(f, lazy.PostImportHooks) for f in sys.meta_path),
        "entered_s": entered_s, "outputs": len(outputs),
    }
    (out / "result.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
