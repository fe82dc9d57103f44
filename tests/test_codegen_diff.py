"""The vLLM tiers' generated-code comparison: the same code under two cache roots is the same.

Inductor's CUDA wrapper names each Triton kernel's absolute path in a comment, so identical code
under two ``VLLM_CACHE_ROOT`` directories has other bytes (measured on the H100: every pair of
roots, untraced against untraced, differed in exactly those lines). These checks keep the
comparison that the GPU and CPU tiers rely on honest: the root is neutralised, nothing else is.
"""

from __future__ import annotations

from pathlib import Path

from vllm_tier import codegen_diff
from vllm_tier.vllm_runs import generated_sources

WRAPPER = """# kernel path: {root}/torch_compile_cache/abc/inductor_cache/vx/cvx4k.py
# Topologically Sorted Source Nodes: [fused_add_rms_norm], Original ATen: [vllm_ir.fused_add_rms_norm]
def call(args):
    buf0 = empty_strided_cuda((s0, 1024), (1024, 1), torch.float16)
    triton_red_fused_add_rms_norm_0.run(arg0_1, buf0, {outputs})
"""


def _write(root: Path, name: str, outputs: str = "buf1") -> None:
    folder = root / "torch_compile_cache" / "abc" / "inductor_cache" / name[1:3]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(WRAPPER.format(root=root, outputs=outputs))


def test_the_same_code_under_two_roots_compares_equal(tmp_path: Path) -> None:
    a, b = tmp_path / "root_a", tmp_path / "root_b"
    _write(a, "c3rizl.py")
    _write(b, "cdkqre.py")  # another name: Inductor hashed other bytes
    assert set(generated_sources(a)) == set(generated_sources(b))
    report = codegen_diff.compare(a, b, None)
    assert any("root path only" in line for line in report), report
    assert not any("CHANGED" in line for line in report), report


def test_a_kernel_that_changed_elsewhere_still_differs(tmp_path: Path) -> None:
    a, b = tmp_path / "root_a", tmp_path / "root_b"
    _write(a, "c3rizl.py", outputs="buf1, buf2")
    _write(b, "cdkqre.py", outputs="buf1")  # one output fewer: real different code
    assert set(generated_sources(a)) != set(generated_sources(b))
    report = codegen_diff.compare(a, b, None)
    assert any("CHANGED" in line for line in report), report
    assert any(line.strip().startswith("-") and "buf2" in line for line in report), report
