"""Helpers the generated evaluation code calls; kept small because they run per request.

Generated code has two versions of every expression (see `codegen`). The fast version
reads facts with plain subscripts and lets Python raise; these helpers serve the safe
version, which names the missing fact, and both versions' iteration.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from govsvc.facts import MissingFact

# What a fast expression may raise on facts it did not expect: the rule is then
# evaluated again, safely, to name the missing fact or the fault.
FAST_ERRORS = (
    KeyError,
    IndexError,
    TypeError,
    ValueError,
    ZeroDivisionError,
    AttributeError,
    OverflowError,
)


def path_string(prefix: tuple[Any, ...]) -> str:
    text = ""
    for key in prefix:
        if isinstance(key, int | float) and not isinstance(key, bool):
            text += f"[{int(key)}]"
        else:
            text += f".{key}" if text else str(key)
    return text


def walk(base: Any, prefix: tuple[Any, ...] | None, keys: tuple[Any, ...]) -> Any:
    """Follow `keys` from `base`; raise MissingFact naming the first absent one."""
    value = base
    where = prefix or ()
    for key in keys:
        where = (*where, key)
        if isinstance(value, dict):
            if not isinstance(key, str):
                raise TypeError(
                    f"{path_string(where[:-1])} is keyed by names, not {key!r}"
                )
            value = value.get(key)
        elif isinstance(value, list):
            if isinstance(key, float) and key.is_integer():
                key = int(key)
            if not isinstance(key, int) or isinstance(key, bool):
                raise TypeError(f"{path_string(where[:-1])} is a list, not a record")
            value = value[key] if -len(value) <= key < len(value) else None
        else:
            raise TypeError(
                f"{path_string(where[:-1]) or 'the facts'} is "
                f"{type(value).__name__}, not a record; cannot read {key}"
            )
        if value is None:
            # Name the whole fact the rule reads, not only the first absent key:
            # "dataset.records_without_consent" tells the pipeline what to send.
            raise MissingFact(path_string((*(prefix or ()), *keys)))
    return value


def walk2(
    base: Any, prefix: tuple[Any, ...] | None, keys: tuple[Any, ...]
) -> tuple[Any, tuple[Any, ...]]:
    """`walk`, also returning the path of the value (for iteration)."""
    return walk(base, prefix, keys), (*(prefix or ()), *keys)


def has(base: Any, keys: tuple[Any, ...]) -> bool:
    """Whether `walk` would find the fact.

    Facts are plain dicts keyed by names almost always, and there the answer needs
    no walk: raising and catching a MissingFact for an absent fact costs more than
    the rest of a rule. Anything else (a list, a number key) takes the walk.
    """
    value = base
    for key in keys:
        if value.__class__ is not dict or key.__class__ is not str:
            return _walks(base, keys)
        value = value.get(key)
        if value is None:
            return False
    return True


def _walks(base: Any, keys: tuple[Any, ...]) -> bool:
    try:
        walk(base, (), keys)
    except (MissingFact, TypeError):
        return False
    return True


def values(collection: Any) -> Iterable[Any]:
    """The items of a list, the values of a map."""
    kind = collection.__class__  # the usual kinds first: isinstance costs more
    if kind is list:
        return collection
    if kind is dict:
        return collection.values()
    if isinstance(collection, dict):
        return collection.values()
    if isinstance(collection, list | tuple):
        return collection
    raise TypeError(f"expected a list or a map, found {type(collection).__name__}")


def pairs(collection: Any) -> Iterable[tuple[Any, Any]]:
    """(key, value) of a map, (index, item) of a list."""
    if collection.__class__ is dict:  # the usual kind first: isinstance costs more
        return collection.items()
    if isinstance(collection, dict):
        return collection.items()
    if isinstance(collection, list | tuple):
        return ((float(i), v) for i, v in enumerate(collection))
    raise TypeError(f"expected a list or a map, found {type(collection).__name__}")


def items1(
    collection: Any, prefix: tuple[Any, ...] | None
) -> Iterator[tuple[Any, Any]]:
    """(path, value) for each item, for safe iteration with one name."""
    for key, value in pairs(collection):
        yield (None if prefix is None else (*prefix, key)), value


def items2(
    collection: Any, prefix: tuple[Any, ...] | None
) -> Iterator[tuple[Any, Any, Any, None]]:
    """(value's path, key, value, key's path) for each item, for two names.

    A key is a name, not a fact, so its path is None.
    """
    for key, value in pairs(collection):
        yield (None if prefix is None else (*prefix, key)), key, value, None


def truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"a condition gave {value!r}, not true or false")
    return value


def number(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, found {value!r}")
    return value


def not_null(value: Any) -> Any:
    """Fast path: a JSON null is a missing fact; let the safe version name it."""
    if value is None:
        raise KeyError("null")
    return value
