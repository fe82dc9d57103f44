"""Secrets in env vars that feed Inductor configs, through real traced compiles (issue 9, item 1).

Two fresh processes compile the same tiny function under ``compile_lens.trace()`` with different
secrets in ``TORCHINDUCTOR_AUTOHEURISTIC_LOG_PATH`` (a URL with a password) and
``TORCHINDUCTOR_DISABLED_PASSES`` (a Hugging Face token). torch copies both into its config and into
every FX key's factor lines; no output may carry them, and the diff must still say they changed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import compile_lens
from compile_lens.cli import main
from compile_lens.views.report import render

pytestmark = pytest.mark.inductor
DIFF_TESTS = Path(__file__).resolve().parents[1] / "diff"
SECRETS = {
    "a": ("https://alice:pa/ss/A1@logs.example.com/x", "hf_" + "AAAAsecretTokenValue0001"),
    "b": ("https://alice:pa/ss/B2@logs.example.com/x", "hf_" + "BBBBsecretTokenValue0002"),
}
RAW = ("pa/ss/A1", "pa/ss/B2", "AAAAsecretTokenValue0001", "BBBBsecretTokenValue0002")


@pytest.fixture(scope="module")
def secret_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("secret_runs")
    (root / "tinymod.py").write_text("import torch\n\n\ndef f(x, w):\n    return x @ w\n")
    key = root / "redaction.key"
    out = {}
    for name, (url, token) in SECRETS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHINDUCTOR_")}
        env.update(TORCHINDUCTOR_CACHE_DIR=str(root / f"cache_{name}"),
                   TORCHINDUCTOR_AUTOHEURISTIC_LOG_PATH=url,
                   TORCHINDUCTOR_DISABLED_PASSES=f"tok={token}",
                   COMPILE_LENS_REDACTION_KEY=str(key), PYTHONDONTWRITEBYTECODE="1")
        out[name] = root / f"{name}.json"
        plan = root / f"plan_{name}.json"
        plan.write_text(json.dumps([{"out": str(out[name])}]))
        proc = subprocess.run([sys.executable, str(DIFF_TESTS / "_run_variant.py"), str(root),
                               str(plan)], env=env, capture_output=True, text=True, timeout=900,
                              check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def _clean(text: str, where: str) -> None:
    for secret in RAW:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_saved_traces_and_reports_hold_no_secret(secret_runs: dict[str, Path]) -> None:
    text = secret_runs["a"].read_text()
    _clean(text, "the saved trace")
    record = compile_lens.load(secret_runs["a"]).record
    lines = [x for ls in record.key_lines.values() for x in ls
             if x.split("] ", 1)[-1].startswith("inductor_config[autoheuristic_log_path]")]
    assert lines, "torch put the config copy into the key's factor lines"
    assert all("<redacted" in x for x in lines)
    assert record.factors is not None
    assert "inductor.autoheuristic_log_path" in record.factors.redacted
    _clean(render(record), "the report")


def test_diff_says_the_secret_changed_without_showing_it(secret_runs: dict[str, Path],
                                                         tmp_path: Path, capsys: Any) -> None:
    d = compile_lens.diff(secret_runs["a"], secret_runs["b"])
    names = {c.name for c in d.causes}
    assert {"TORCHINDUCTOR_DISABLED_PASSES", "inductor.autoheuristic_log_path"} <= names, names
    change = next(c for c in d.causes if c.name == "inductor.autoheuristic_log_path")
    assert change.old != change.new, "same key, different secrets: the fingerprints differ"
    assert "redacted" in str(change.old) and "different redaction keys" not in change.effect
    _clean(str(d), "the diff text")
    _clean(d.to_html(), "the diff HTML")
    _clean(d.to_dataframe().to_csv(), "the diff DataFrame")
    assert main(["diff", str(secret_runs["a"]), str(secret_runs["b"]),
                 "--html", str(tmp_path / "d.html")]) == 1
    _clean(capsys.readouterr().out, "compile-lens diff")
    _clean((tmp_path / "d.html").read_text(), "compile-lens diff --html")
