"""The recorded H100 trace (tests/fixtures/traces/gpu_h100.json) loads and shows its CUDA graphs.

No GPU needed: this is what a user without one sees when opening a GPU trace.
"""

from __future__ import annotations

from pathlib import Path

import compile_lens
from compile_lens._torch import keys
from compile_lens.views import sections

FIXTURE = Path(__file__).parents[1] / "fixtures" / "traces" / "gpu_h100.json"


def test_gpu_trace_has_captures_per_piece_and_size_with_replays():
    record = compile_lens.load(FIXTURE).record
    assert record.run.device.startswith("NVIDIA H100")
    sizes = {c.size for c in record.captures}
    assert sizes == {1, 2, 4, 8, 16, 32, 64}
    assert len(record.captures) == 5 * len(sizes)
    assert all(c.replays >= 1 and c.seconds > 0 for c in record.captures)
    assert sum(c.memory_bytes for c in record.captures) > 0
    assert sum(s.category == "capture" for s in record.spans) == len(record.captures)


def test_gpu_trace_lowerings_and_key_notes():
    record = compile_lens.load(FIXTURE).record
    kinds = {low.kind for low in record.lowerings}
    assert {"triton_kernel", "extern"} <= kinds
    assert "cpp_kernel" not in kinds
    assert any("triton" in low.extra for low in record.lowerings)
    assert keys.NO_STANDALONE_KEY_NOTE in record.run.notes
    compiled = [c for c in record.compiles if c.outcome == "compiled"]
    assert compiled and all(c.key_match is True for c in compiled)


def test_cuda_graphs_section_renders_from_the_gpu_trace():
    t = compile_lens.load(FIXTURE)
    html = sections.capture_table(t.record)
    assert html.count("<tr>") == 1 + 7  # header + one row per capture size
    frame = t.captures
    assert len(frame) == 35
    assert set(frame.columns) >= {"submod", "size", "seconds", "memory_bytes", "replays"}
