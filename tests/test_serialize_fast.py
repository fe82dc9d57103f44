"""``from_dict`` with its checks compiled once per class and per type hint: same records, same errors.

The parser rebuilds every FX node through ``from_dict`` and ``compile_lens.load`` every record of a
saved trace (issue 12, item 1), so the validator asks ``typing`` and ``dataclasses`` once per class
and per hint (``_plan``, ``_converter``) and keeps ``str``/``bool`` values without a call. These
tests pin what it returns and the exact one-line ``TraceFormatError`` for bad input (the messages
were taken from the validator before that change), including the hint shapes the model itself does
not use (a union without ``None``, ``typing.Optional``, a bare ``list``, ``Any``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import pytest

from compile_lens.errors import TraceFormatError
from compile_lens.model.graphs import GraphNode
from compile_lens.model.serialize import from_dict


@dataclass(frozen=True, kw_only=True)
class Inner:
    n: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Odd:
    either: int | str = 0
    maybe: Optional[bool] = None  # noqa: UP045 - the typing.Union form, not X | None
    nums: list[int] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)
    inner: Inner | None = None
    inners: list[Inner] = field(default_factory=list)
    free: Any = None
    bare: list = field(default_factory=list)  # type: ignore[type-arg]
    names: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    flags: list[bool | None] = field(default_factory=list)


def _deep() -> list[Any]:
    top: list[Any] = []
    node = top
    for _ in range(50):
        node.append([])
        node = node[0]
    return top


NODE = {"name": "a", "op": "call_function", "shape": "[2]", "dynamic_dims": [0]}

BAD = [
    (GraphNode, [1], "t: expected an object for GraphNode, got list"),
    (GraphNode, {**NODE, "name": 5}, "t.name: expected a string, got 5"),
    (GraphNode, {**NODE, "shape": 3}, "t.shape: expected a string, got 3"),
    (GraphNode, {**NODE, "dynamic_dims": [0, True]},
     "t.dynamic_dims[1]: expected a 64-bit integer, got True"),
    (GraphNode, {**NODE, "dynamic_dims": [2**63]},
     "t.dynamic_dims[0]: expected a 64-bit integer, got 9223372036854775808"),
    (GraphNode, {**NODE, "dynamic_dims": "0"}, "t.dynamic_dims: expected a list, got str"),
    (GraphNode, {"op": "x"}, "t: cannot build GraphNode: GraphNode.__init__() missing 1 required "
                             "keyword-only argument: 'name'"),
    (GraphNode, {**NODE, "future": _deep()}, "t.future: nested deeper than 48 levels"),
    (GraphNode, {**NODE, "extra": {"k": 2**64}},
     "t.extra: expected a 64-bit integer, got 18446744073709551616"),
    (Odd, {"either": None}, "t.either: expected a 64-bit integer, got None"),
    (Odd, {"either": "s"}, "t.either: expected a 64-bit integer, got str"),
    (Odd, {"maybe": 1}, "t.maybe: expected true or false, got 1"),
    (Odd, {"rates": {"a": True}}, "t.rates.a: expected a number, got True"),
    (Odd, {"rates": {"a": 2**63}}, "t.rates.a: expected a number in range, got 9223372036854775808"),
    (Odd, {"rates": {"a": math.inf}}, "t.rates.a: expected a finite number, got inf"),
    (Odd, {"rates": []}, "t.rates: expected an object, got list"),
    (Odd, {"inner": {"n": "1"}}, "t.inner.n: expected a 64-bit integer, got str"),
    (Odd, {"inners": [{"n": 1}, {"n": 2, "z": None}, {"n": 1.5}]},
     "t.inners[2].n: expected a 64-bit integer, got 1.5"),
    (Odd, {"inner": None, "free": {"x": [_deep()]}}, "t.free: nested deeper than 48 levels"),
    # Lists and maps of str/bool are kept whole when every item passes; else checked one by one.
    (Odd, {"names": ["a", 5, None]}, "t.names[1]: expected a string, got 5"),
    (Odd, {"labels": {"a": "x", "b": None}}, "t.labels.b: expected a string, got None"),
    (Odd, {"flags": [True, None, 0]}, "t.flags[2]: expected true or false, got 0"),
    (Odd, {"names": "ab"}, "t.names: expected a list, got str"),
    (Odd, {"labels": ["a"]}, "t.labels: expected an object, got list"),
]


@pytest.mark.parametrize(("cls", "data", "message"), BAD, ids=[m for _, _, m in BAD])
def test_bad_input_same_one_line_error(cls, data, message):
    with pytest.raises(TraceFormatError) as err:
        from_dict(cls, data, "t")
    assert str(err.value) == message


def test_good_input_same_records():
    node = from_dict(GraphNode, {**NODE, "future": {"a": [1, {"b": 2}]}, "extra": 1}, "t")
    assert node == GraphNode(name="a", op="call_function", shape="[2]", dynamic_dims=[0],
                             extra={"future": {"a": [1, {"b": 2}]}, "extra": 1})
    assert from_dict(GraphNode, {"name": "b", "op": "output", "shape": None}).shape is None

    odd = from_dict(Odd, {"maybe": None, "nums": [1, -(2**63) + 1], "rates": {"a": 1, "b": 2.5},
                          "inners": [{"n": 1, "z": None}], "bare": [1, "x", None],
                          "free": {"k": [True]}}, "t")
    assert odd == Odd(nums=[1, -(2**63) + 1], rates={"a": 1.0, "b": 2.5},
                      inners=[Inner(n=1, extra={"z": None})], bare=[1, "x", None],
                      free={"k": [True]})
    assert type(odd.rates["a"]) is float, "an integer in a float field becomes a float"
    assert from_dict(Odd, {"either": 3, "maybe": False, "bare": {"x": 1}}) == Odd(
        either=3, maybe=False, bare={"x": 1})  # type: ignore[arg-type]


def test_values_are_rebuilt_not_shared():
    data = {**NODE, "dynamic_dims": [0, 1]}
    node = from_dict(GraphNode, data)
    assert node.dynamic_dims == [0, 1]
    assert node.dynamic_dims is not data["dynamic_dims"], "lists are rebuilt, as before"
    raw = {"names": ["a"], "labels": {"a": "b"}, "flags": [None, False]}
    odd = from_dict(Odd, raw)
    assert (odd.names, odd.labels, odd.flags) == (["a"], {"a": "b"}, [None, False])
    assert odd.names is not raw["names"] and odd.labels is not raw["labels"]
    assert odd.flags is not raw["flags"]
