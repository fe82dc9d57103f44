"""A TORCH_TRACE log of vLLM's real piecewise compile: vLLM's own account and compile_lens' agree.

Input: tests/fixtures/torch_trace/vllm_toy.log.gz (vLLM 0.32 on CPU; its README has the command)
and the live trace of the same run. Three accounts of one compile: the live trace (wrappers, live
handler), the log's wrapper events, and vLLM's own artifacts alone (the wrapper events removed, as
in a run without compile_lens): the split, the pieces × compile ranges and their keys agree.
"""

from __future__ import annotations

import gzip

import compile_lens

from .conftest import LOGS

LOG = LOGS / "vllm_toy.log.gz"


def _without_compile_lens(tmp_path):
    """The log as a run without compile_lens would leave it: no ``compile_lens_*`` records."""
    out, skip = [], False
    for line in gzip.decompress(LOG.read_bytes()).split(b"\n"):
        if not line.startswith(b"\t"):
            skip = b'{"artifact": {"name": "compile_lens_' in line
        if not skip:
            out.append(line)
    path = tmp_path / "plain_vllm.log"
    path.write_bytes(b"\n".join(out))
    return path


def _pieces(record):
    return [(p.graph_id, p.submod, p.compiled_index, p.is_split_op) for p in record.pieces]


def _compiles(record):
    return [(c.graph_id, c.submod, c.size, c.outcome, c.cache_state, c.legacy_key)
            for c in record.compiles]


def test_log_opens_like_the_live_trace():
    live = compile_lens.load(LOGS / "vllm_toy_trace.json").record
    log = compile_lens.load(LOG).record
    assert _pieces(log) == _pieces(live)
    assert [(c.submod, c.size, c.outcome, c.legacy_key, c.standalone_key) for c in log.compiles] \
        == [(c.submod, c.size, c.outcome, c.legacy_key, c.standalone_key) for c in live.compiles]
    assert log.run.extra["parser"]["unknown"] == {}
    assert log.run.extra["parser"]["malformed_count"] == 0


def test_vllm_account_matches_the_wrappers():
    log = compile_lens.load(LOG).record
    (account,) = log.run.extra["vllm_account"].values()
    assert account["config"]["splitting_ops"] == "cltoy::attention"
    (split,) = account["splits"]
    assert split["submods"] == [p.submod for p in log.pieces]
    assert [(c["submod"], c["size"], c["index"]) for c in account["compiles"]] == [
        (c.submod, c.size, i) for i, c in enumerate(log.compiles)]
    assert not any(c["cudagraph_size"] for c in account["compiles"]), "cudagraph_mode NONE"


def test_vllm_own_artifacts_alone_give_the_same_split_and_compiles(tmp_path):
    full = compile_lens.load(LOG).record
    plain = compile_lens.load(_without_compile_lens(tmp_path)).record
    assert _pieces(plain) == _pieces(full)
    assert _compiles(plain) == _compiles(full), "keys from the AOTAutograd records in scope"
    assert all(c.extra.get("source") == "vllm" for c in plain.compiles)
    assert "(1, 2048)" in {c.size for c in plain.compiles}, "a compile range, labelled as vLLM's"
