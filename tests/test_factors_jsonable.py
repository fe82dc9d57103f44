"""``factors.jsonable`` gives plain config values back as they are (issue 12: the factor dump is
part of the tracer's own time) and every value as its JSON round trip, on the real configs."""

from __future__ import annotations

import json

import torch._functorch.config as functorch_config
import torch._inductor.config as inductor_config

from compile_lens.instrument.factors import jsonable


def _round_trip(value: object) -> object:
    return json.loads(json.dumps(value, sort_keys=True, default=repr))


def test_every_config_value_is_its_json_round_trip():
    raw = {**inductor_config.save_config_portable(), **functorch_config.save_config_portable()}
    values = [*raw.values(), 2**80, -0.0, float("inf"), "a\nb\u00e9", None, True, (1, [2])]
    assert len(raw) > 100
    for value in values:
        assert json.dumps(jsonable(value), sort_keys=True) == json.dumps(
            _round_trip(value), sort_keys=True), value


def test_plain_values_are_not_copied():
    text = "x" * 1000
    assert jsonable(text) is text
    big = 10**30
    assert jsonable(big) is big
    assert jsonable((1, 2)) == [1, 2], "containers still become JSON lists"
    assert jsonable({1: object}) == {"1": repr(object)}
