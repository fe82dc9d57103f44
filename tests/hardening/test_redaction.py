"""Secrets never leave the process: every layer, every output, every common token shape (issue 9,
items 1-3). The fingerprint of a redacted value is keyed with a private random key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import compile_lens
from compile_lens.model import FactorDump, PieceCompile, TraceRecord, trace_to_json
from compile_lens.model.factor_readers import factors_to_json, load_factors
from compile_lens.model.redaction import (
    REDACTED_PREFIX,
    looks_secret,
    redact_dump,
    redact_record,
    redact_text,
    redacted_value,
)
from compile_lens.views.report import render

# -- item 2: one test per token shape ------------------------------------------------------------

SHAPES = {
    "github classic": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789AB",
    "github app": "ghs_" + "z" * 36,
    "gitlab pat": "glpat-" + "xY3zAbCdEfGhIjKlMnOp",
    "hugging face": "hf_" + "aBcDeFgHiJkLmNoPqRsTuVwXyZ",
    "openai": "sk-" + "abcdefghijklmnopqrstuvwxyz012345",
    "openai project": "sk-proj-" + "Ab_Cd-Ef0123456789abcdefghij",
    "aws key id": "AKIA" + "IOSFODNN7EXAMPLE",
    "aws secret assignment": "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "slack bot": "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "slack webhook": "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "bearer header": "Authorization: Bearer abc.DEF-ghi_jkl~mno+pqr/stu=",
    "bearer alone": "Bearer 0123456789abcdefXYZ",
    "url password": "https://user:hunter2@example.com/path",
    "url password with slash": "https://user:pa/ss/word@example.com/x",
    "gitlab token in url userinfo": "https://oauth2:glpat-AbCdEfGhIjKlMnOpQrSt@gitlab.com/g/p.git",
    "token alone in url userinfo": "https://glpat-AbCdEfGhIjKlMnOpQrSt@gitlab.com/g/p.git",
    "private key": "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----",
    "password assignment": "db_password = 'hunter2!'",
    "secret key assignment": "SECRET_KEY=abc123xyz",
    "json api key": '{"api_key": "abcdef123456"}',
}
SECRET_PART = {
    "aws secret assignment": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "bearer header": "abc.DEF-ghi_jkl~mno+pqr/stu=",
    "bearer alone": "0123456789abcdefXYZ",
    "url password": "hunter2",
    "url password with slash": "pa/ss/word",
    "gitlab token in url userinfo": "glpat-AbCdEfGhIjKlMnOpQrSt",
    "token alone in url userinfo": "glpat-AbCdEfGhIjKlMnOpQrSt",
    "private key": "MIIEowIBAAKCAQEA",
    "password assignment": "hunter2!",
    "secret key assignment": "abc123xyz",
    "json api key": "abcdef123456",
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_token_shape_is_redacted_in_text(shape: str) -> None:
    text = f"before {SHAPES[shape]} after"
    secret = SECRET_PART.get(shape, SHAPES[shape])
    out = redact_text(text)
    assert secret not in out, f"{shape}: {out!r}"
    assert REDACTED_PREFIX in out
    assert out.startswith("before ") and out.endswith(" after"), "only the secret is replaced"
    assert looks_secret("SOME_SETTING", SHAPES[shape]), "as an env value it is a secret too"


def test_url_keeps_its_host_and_scheme() -> None:
    out = redact_text("https://user:pa/ss@example.com/x")
    assert out.startswith("https://<redacted") and out.endswith("@example.com/x")


@pytest.mark.parametrize("text", [
    "max_num_batched_tokens: 8192", "https://github.com/pytorch/pytorch", "torch.float32",
    "/tmp/torchinductor_user/ab/cab.py", "inductor_config[max_autotune]: False",
    "def forward(self, x): return x.sin()", "scikit-learn==1.5", "pad_token: None",
])
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_text(text) == text


# -- item 1: every layer, every output ----------------------------------------------------------

HF = "hf_" + "SeCrEtVaLuE0123456789xyz"
URL = "https://alice:pa/ss/wd@example.com/log"


def _secret_dump() -> FactorDump:
    return FactorDump(
        env={"TORCHINDUCTOR_DISABLED_PASSES": f"tok={HF}", "TORCHINDUCTOR_MY_TOKEN": "hunter2",
             "TORCHINDUCTOR_AUTOHEURISTIC_LOG_PATH": URL, "OMP_NUM_THREADS": "2"},
        env_affects={"TORCHINDUCTOR_DISABLED_PASSES": ["inductor.disabled_passes"],
                     "TORCHINDUCTOR_MY_TOKEN": ["inductor.my_setting"],
                     "TORCHINDUCTOR_AUTOHEURISTIC_LOG_PATH": ["inductor.autoheuristic_log_path"]},
        config={"inductor": {"disabled_passes": f"tok={HF}", "my_setting": "hunter2",
                             "autoheuristic_log_path": URL, "max_autotune": False,
                             "remote_password": "s3cr3t-value"}},
        system={"note": f"set by {HF}"},
        key_lines={"k1": [f"[aaaaaaaaaaaaaaaaaaaaaaaaaaaa] inductor_config[disabled_passes]: tok={HF}",
                          "[bbbbbbbbbbbbbbbbbbbbbbbbbbbb] inductor_config[my_setting]: hunter2",
                          "[cccccccccccccccccccccccccccc] inductor_config[max_autotune]: False"]},
    )


SECRETS = (HF, "hunter2", "pa/ss/wd", "s3cr3t-value")


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_redact_dump_covers_env_config_copies_system_and_key_lines() -> None:
    out = redact_dump(_secret_dump())
    _assert_clean(factors_to_json(out), "the factor dump")
    assert out.config["inductor"]["max_autotune"] is False, "ordinary values are kept"
    assert out.key_lines["k1"][2].endswith("max_autotune]: False")
    assert "inductor.my_setting" in out.redacted, "the config copy of a secret env var is named"
    assert out.key_lines["k1"][1].startswith("[") and REDACTED_PREFIX in out.key_lines["k1"][1]


def _secret_record() -> TraceRecord:
    dump = _secret_dump()
    return TraceRecord(
        factors=dump,
        compiles=[PieceCompile(graph_id="g0", submod="submod_0", legacy_key="k1",
                               standalone_key="k2", key_match=False, note=f"used {HF}")],
        key_lines={"k1": dump.key_lines["k1"], "k2": dump.key_lines["k1"][2:]},
        run=compile_lens.model.RunInfo(notes=[f"remote cache at {URL}"]),
    )


def test_every_output_of_a_trace_is_redacted(tmp_path: Path) -> None:
    record = _secret_record()
    _assert_clean(trace_to_json(record), "the saved trace")
    _assert_clean(render(record, use_dot=False), "the report")
    path = compile_lens.Trace(record).save(tmp_path / "t.json")
    _assert_clean(path.read_text(), "Trace.save")
    other = dataclasses.replace(record, factors=FactorDump())
    d = compile_lens.diff(record, other)
    _assert_clean(str(d), "the diff text")
    _assert_clean(d.to_html(), "the diff HTML")
    _assert_clean(redact_record(record).run.notes[0], "the notes")
    assert "hunter2" in render(record, use_dot=False, redact=False), "redact=False shows it"


def test_factor_dump_of_a_real_process_redacts_config_copies(tmp_path: Path) -> None:
    """A real process whose env feeds Inductor configs with secrets: API and CLI dumps are clean."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TORCHINDUCTOR_")}
    env.update(TORCHINDUCTOR_DISABLED_PASSES=f"tok={HF}",
               TORCHINDUCTOR_AUTOHEURISTIC_LOG_PATH=URL)
    out = tmp_path / "f.json"
    code = ("import json, sys, compile_lens, torch._inductor.config as c\n"
            "assert c.autoheuristic_log_path == sys.argv[2], 'torch read the variable'\n"
            "c.torchinductor_worker_logpath = 'redis://u:pa/ss/wd@cache:6379/log'\n"
            "from compile_lens.model.factor_readers import factors_to_json\n"
            "open(sys.argv[1], 'w').write(factors_to_json(compile_lens.factors()))\n")
    subprocess.run([sys.executable, "-c", code, str(out), URL], env=env, check=True, timeout=300)
    api = out.read_text()
    cli = tmp_path / "cli.json"
    subprocess.run([sys.executable, "-m", "compile_lens", "factors", "--out", str(cli)], env=env,
                   check=True, timeout=300, capture_output=True)
    for text, where in ((api, "compile_lens.factors()"), (cli.read_text(), "compile-lens factors")):
        _assert_clean(text, where)
        assert "TORCHINDUCTOR_DISABLED_PASSES" in text
        config = json.loads(text)["config"]["inductor"]
        assert config["autoheuristic_log_path"].startswith(("https://<redacted", REDACTED_PREFIX))


# -- item 3: the fingerprint is keyed, not a bare hash -----------------------------------------

def test_fingerprint_is_keyed_with_a_private_random_key(private_key: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    value = "483920"  # a 6-digit PIN: an unkeyed hash of it is reversed in a second
    first = redacted_value("DB_PASSWORD", value)
    assert first == redacted_value("DB_PASSWORD", value), "same key: same fingerprint"
    assert first != redacted_value("DB_PASSWORD", "483921"), "a changed secret shows as changed"
    unkeyed = hashlib.sha256(f"DB_PASSWORD\x00{value}".encode()).hexdigest()
    assert unkeyed[:8] not in first and value not in first
    assert private_key.is_file(), "the key lives in the user's key file"
    assert stat.S_IMODE(private_key.stat().st_mode) == 0o600, "readable by the user only"
    key = private_key.read_text().strip()
    assert key not in first
    other = private_key.parent / "other.key"
    monkeypatch.setenv("COMPILE_LENS_REDACTION_KEY", str(other))
    assert redacted_value("DB_PASSWORD", value) != first, "another key, another fingerprint"


def test_diff_across_keys_does_not_claim_a_change(private_key: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    a = redact_dump(FactorDump(env={"HF_TOKEN": HF}))
    monkeypatch.setenv("COMPILE_LENS_REDACTION_KEY", str(private_key.parent / "b.key"))
    b = redact_dump(FactorDump(env={"HF_TOKEN": HF}))
    d = compile_lens.diff(a, b)
    (change,) = [c for c in d.entries[0].causes + d.entries[0].noise if c.name == "HF_TOKEN"]
    assert "different redaction keys" in change.effect
    same = compile_lens.diff(redact_dump(FactorDump(env={"HF_TOKEN": HF})), b)
    assert same.equal, "the same secret under the same key compares equal"


def test_loaded_dumps_keep_their_fingerprints(tmp_path: Path) -> None:
    dump = redact_dump(FactorDump(env={"HF_TOKEN": HF}))
    path = tmp_path / "f.json"
    path.write_text(factors_to_json(dump))
    (entry,) = load_factors(str(path)).entries.values()
    assert entry.env["HF_TOKEN"] == dump.env["HF_TOKEN"]
