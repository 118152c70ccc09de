"""JSON text for what the service stores and answers, encoded with orjson.

A decision's facts are most of its bytes (about 12 kB for 11 groups and 20 drifting
features, hundreds of floats); `json.dumps` spent about 170 us on them, orjson
spends a tenth of that. The text differs only in form: no spaces after separators,
and some floats in another form (`0.00001` for `1e-05`, `1.5e-7` for
`1.5e-07`); the values read back the same.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """`value` as JSON text."""
    return dumps_utf8(value).decode()


def dumps_utf8(value: Any) -> bytes:
    """`value` as JSON text in UTF-8, for what goes out as bytes: a str holding a
    character beyond Latin-1 (the em dash of a signed note's signature lines)
    takes two or four bytes a character, and the slow path back to UTF-8."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits, which a request may carry (a
        # record count is any JSON integer); the standard library takes them.
        return json.dumps(value).encode()


def with_member(object_json: str, name: str, value_json: str) -> str:
    """The JSON object `object_json` with the member `name` added last, its value
    given as JSON text: neither is parsed or encoded again. `name` must not be a
    member already."""
    member = f"{dumps(name)}: {value_json}"
    if object_json == "{}":
        return f"{{{member}}}"
    return f"{object_json[:-1]}, {member}}}"
