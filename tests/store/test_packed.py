"""govsvc.store.packed: standard Zstandard frames of JSON text, safe across threads."""

from __future__ import annotations

import json
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from govsvc.assess import parse_request_json
from govsvc.decide import assess_request
from govsvc.policy.compiler import load_bundle
from govsvc.store.jsontext import dumps
from govsvc.store.packed import pack, unpack

ROOT = Path(__file__).parents[2]
ZSTD_MAGIC = bytes.fromhex("28b52ffd")


@pytest.fixture(scope="module")
def facts_json() -> str:
    """The facts of the example request, as the service encodes them."""
    request = parse_request_json((ROOT / "examples" / "request.json").read_bytes())
    return dumps(assess_request(request, load_bundle(ROOT / "policies")))


@pytest.mark.parametrize("text", ["{}", '{"name":"grüße","p":0.1}', "x" * 100_000])
def test_unpack_gives_back_what_was_packed(text: str) -> None:
    assert unpack(pack(text)) == text


def test_pack_writes_one_standard_frame() -> None:
    packed = pack('{"a":1}')

    assert packed[:4] == ZSTD_MAGIC


@pytest.mark.skipif(shutil.which("zstd") is None, reason="the zstd command is absent")
def test_the_reference_zstd_command_reads_a_packed_frame(facts_json: str) -> None:
    out = subprocess.run(
        ["zstd", "-d", "-c"], input=pack(facts_json), capture_output=True, check=True
    )

    assert out.stdout.decode() == facts_json


def test_facts_pack_to_under_half(facts_json: str) -> None:
    assert len(pack(facts_json)) < len(facts_json) / 2


def test_threads_pack_and_unpack_at_once() -> None:
    texts = [json.dumps({"i": i, "pad": "y" * (i % 700)}) for i in range(400)]

    def round_trip(text: str) -> str:
        return unpack(pack(text))

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(round_trip, texts)) == texts
