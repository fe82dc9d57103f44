"""The autotune recorder's hook: added lazily at the first compile, removed exactly (CPU).

The picks themselves need max-autotune on a GPU (tests/gpu/test_lowering_keys_gpu.py); here we
check the life cycle that runs everywhere, in a fresh process so Inductor's selector is not yet
imported when the hook is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import sys, torch
    from compile_lens.instrument import autotune
    errors = []
    undo = autotune.install(lambda hook, exc: errors.append(exc))
    assert "torch._inductor.select_algorithm" not in sys.modules, "installed eagerly"
    torch.compile(lambda x: x + 1, backend="eager")(torch.ones(2))
    from torch._inductor import select_algorithm

    def other(*args):
        return None

    select_algorithm.add_feedback_saver(other)
    names = [getattr(f, "__name__", "") for f in autotune.installed_savers()]
    assert names.count("compile_lens_autotune_saver") == 1, names
    again = autotune.install(lambda hook, exc: errors.append(exc))  # a second install is a no-op
    names = [getattr(f, "__name__", "") for f in autotune.installed_savers()]
    assert names.count("compile_lens_autotune_saver") == 1, names
    again()
    undo()
    assert autotune.installed_savers() == [other], autotune.installed_savers()
    import torch._dynamo.callback as cb
    assert not any("autotune" in getattr(f, "__name__", "") for f in cb.callback_handler.start_callbacks)
    assert not errors, errors
    print("ok")
""")


def test_saver_added_at_first_compile_and_removed_exactly():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env={**os.environ}, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")


NO_CACHE_SCRIPT = textwrap.dedent("""
    import torch
    from torch._inductor import select_algorithm
    from compile_lens.instrument import autotune
    init = select_algorithm.AlgorithmSelectorCache.__init__
    assert select_algorithm._ALGORITHM_SELECTOR_CACHE is None
    undo = autotune.install(lambda hook, exc: None)
    # Creating Inductor's selector cache reads torch.cuda.current_device(): installing must not.
    assert select_algorithm._ALGORITHM_SELECTOR_CACHE is None, "install created the cache"
    cache = select_algorithm.get_algorithm_selector_cache()  # Inductor creates it: saver joins
    assert [f.__name__ for f in cache.feedback_saver_fns] == ["compile_lens_autotune_saver"]
    undo()
    assert cache.feedback_saver_fns == []
    assert select_algorithm.AlgorithmSelectorCache.__init__ is init
    print("ok")
""")


def test_install_never_creates_inductors_selector_cache():
    """The cache's creation initializes CUDA; the saver joins when Inductor creates it."""
    proc = subprocess.run([sys.executable, "-c", NO_CACHE_SCRIPT], capture_output=True,
                          text=True, env={**os.environ}, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().endswith("ok")
