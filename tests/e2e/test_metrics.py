"""`/metrics` of `govsvc serve --workers 2`: every scrape, whichever worker takes
it, counts the decisions of both."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from api.helpers import request_for

from .conftest import start_two_workers, stop_server

DECISIONS = 16
SCRAPES = 8


def _decisions_counted(text: str) -> float:
    return sum(
        float(value)
        for value in re.findall(r"^govsvc_decisions_total\{[^}]*\} (\S+)$", text, re.M)
    )


def _ledger_size(text: str) -> float:
    (value,) = re.findall(r"^govsvc_ledger_size (\S+)$", text, re.M)
    return float(value)


def test_every_scrape_adds_up_every_worker(tmp_path: Path) -> None:
    log_path = tmp_path / "server.log"
    server = start_two_workers(tmp_path, log_path)
    try:

        def decide(_: int) -> int:
            # A connection each, so that both workers take some.
            with server.client("ci") as ci:
                return ci.post("/v1/decisions", json=request_for()).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(decide, range(DECISIONS)))
        scrapes = [
            httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}).text
            for _ in range(SCRAPES)
        ]
    finally:
        stop_server(server)
    (metrics_dir,) = re.findall(
        r"the workers' metrics are added up in (\S+)", log_path.read_text()
    )

    assert statuses == [201] * DECISIONS
    assert [_decisions_counted(text) for text in scrapes] == [DECISIONS] * SCRAPES
    # One ledger gauge per scrape, not one per worker; every entry counted.
    assert all(_ledger_size(text) >= DECISIONS for text in scrapes)
    assert all(text.count("# TYPE govsvc_ledger_size gauge") == 1 for text in scrapes)
    # Removed when serve stops: the next start counts from nothing.
    assert not Path(metrics_dir).exists()
