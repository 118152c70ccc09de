"""`Recorded.to_json`: an answer's bytes, with the stored facts spliced in last."""

from __future__ import annotations

import json

import pytest

from govsvc.api.service import Recorded

FACTS = '{"fairness":{"gender":{"demographic_parity_difference":0.041}}}'


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"id": "d1", "verdict": "allow"},
        # A receipt's note signs with an em dash; the answer stays UTF-8.
        {"receipt": {"checkpoint": "govsvc.local/ledger\n42\n\n\u2014 sig\n"}},
    ],
)
def test_to_json_is_the_body_and_the_facts(body: dict[str, object]) -> None:
    recorded = Recorded(body, FACTS, replayed=False)

    answer = recorded.to_json()

    assert json.loads(answer.decode("utf-8")) == recorded.to_dict()
    assert answer.endswith(b'"facts": ' + FACTS.encode() + b"}")
