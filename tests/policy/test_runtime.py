"""Helpers the generated code calls: `has` against the walk it stands for."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from govsvc.facts import MissingFact
from govsvc.policy import runtime

KEYS = st.one_of(
    st.sampled_from(["a", "b", "gender", "psi"]),
    st.integers(-2, 2),
    st.sampled_from([0.0, 1.0, 1.5, True]),
)
values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=False), st.text(max_size=2)
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(["a", "b", "gender", "psi"]), children),
        st.dictionaries(st.integers(-1, 1), children),  # not facts, still answered
    ),
    max_leaves=12,
)


def _walks(base: Any, keys: tuple[Any, ...]) -> bool:
    """What `has` means: `walk` finds the fact, neither missing nor mistyped."""
    try:
        runtime.walk(base, (), keys)
    except (MissingFact, TypeError):
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(values, st.lists(KEYS, max_size=4).map(tuple))
def test_has_agrees_with_walk(base: Any, keys: tuple[Any, ...]) -> None:
    assert runtime.has(base, keys) is _walks(base, keys)


def test_has_known_answers() -> None:
    facts = {"drift": {"critical_alerts": 0.0, "alerts": [], "gone": None}}

    assert runtime.has(facts, ("drift", "critical_alerts"))
    assert runtime.has(facts, ("drift", "alerts"))
    assert not runtime.has(facts, ("drift", "gone"))
    assert not runtime.has(facts, ("drift", "ece"))
    assert not runtime.has(facts, ("drift", "critical_alerts", "x"))
    assert runtime.has({"a": [{"b": 1}]}, ("a", 0.0, "b"))
    assert not runtime.has({"a": [{"b": 1}]}, ("a", 1.0, "b"))


class _Map(dict):  # type: ignore[type-arg]
    pass


@pytest.mark.parametrize(
    ("collection", "items", "pairs"),
    [
        ([1, 2], [1, 2], [(0.0, 1), (1.0, 2)]),
        ((1, 2), [1, 2], [(0.0, 1), (1.0, 2)]),
        ({"a": 1}, [1], [("a", 1)]),
        (_Map(a=1), [1], [("a", 1)]),
        ([], [], []),
    ],
)
def test_values_and_pairs_of_every_kind(
    collection: Any, items: list[Any], pairs: list[Any]
) -> None:
    assert list(runtime.values(collection)) == items
    assert list(runtime.pairs(collection)) == pairs


@pytest.mark.parametrize("collection", ["ab", 3, None])
def test_values_and_pairs_refuse_what_is_not_a_collection(collection: Any) -> None:
    with pytest.raises(TypeError, match="expected a list or a map"):
        runtime.values(collection)
    with pytest.raises(TypeError, match="expected a list or a map"):
        runtime.pairs(collection)
