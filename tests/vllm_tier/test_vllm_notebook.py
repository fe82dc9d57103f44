"""``notebooks/03_vllm.ipynb`` runs headless in the vLLM venv (nbclient) without any error.

It compiles the toy through VllmBackend in the kernel and runs ``LLM(...).generate`` in vLLM's
multiprocess engine, so it is the slowest test of the tier (two cold Inductor compiles).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from vllm_runs import VLLM

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "03_vllm.ipynb"
pytestmark = [*VLLM, pytest.mark.inductor]


def test_notebook_is_stored_without_outputs() -> None:
    nb = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    assert all(not c.get("outputs") for c in nb["cells"] if c["cell_type"] == "code")


def test_notebook_runs_without_error(tmp_path: Path) -> None:
    for module in ("nbclient", "nbformat", "ipykernel"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (.ci/vllm-setup.sh installs it)")
    import nbformat
    from nbclient import NotebookClient

    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    assert (tmp_path / "vllm_llm_report.html").stat().st_size > 10_000
    llm = json.loads((tmp_path / "vllm_llm_trace.json").read_text())
    assert any(p["role"] == "worker" for p in llm["processes"])
    assert any(c["outcome"] == "compiled" for c in llm["compiles"])
