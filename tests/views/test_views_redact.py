"""Secret-looking env values and token-shaped strings never reach a page unless asked."""

from __future__ import annotations

import pytest

from compile_lens.views._redact import REDACTED, is_secret_name, redact_env, redact_text


@pytest.mark.parametrize("name", ["HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY",
                                  "DB_PASSWORD", "github_auth", "MY_KEY"])
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["OMP_NUM_THREADS", "TORCHINDUCTOR_CACHE_DIR", "CUDA_HOME",
                                  "VLLM_USE_V1", "KEYBOARD_LAYOUT"])
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


def test_redact_env_masks_names_and_token_values_keeps_fingerprints() -> None:
    env = {"HF_TOKEN": "hf_abcdefghijkl", "OMP_NUM_THREADS": "2",
           "SOME_URL_PARAM": "sk-" + "a" * 20, "API_KEY": "<redacted sha256:1234abcd>"}
    out = redact_env(env)
    assert out["HF_TOKEN"].startswith(REDACTED[:-1] + " hmac:"), "a keyed fingerprint"
    assert out["HF_TOKEN"] != redact_env({"HF_TOKEN": "hf_otherotherother"})["HF_TOKEN"]
    assert out["OMP_NUM_THREADS"] == "2"
    assert "aaaa" not in out["SOME_URL_PARAM"]
    assert out["SOME_URL_PARAM"].startswith(REDACTED[:-1])
    assert out["API_KEY"] == "<redacted sha256:1234abcd>", "already-redacted values stay as is"
    assert list(out) == sorted(env)


def test_redact_text_masks_tokens_inside_lines() -> None:
    line = "[abc] env: {'HF': 'hf_abcdefghijklmnop', 'x': 1}"
    assert "hf_abcdefghijklmnop" not in redact_text(line)
    assert redact_text("plain text") == "plain text"
