"""Benchmark of the durable ledger, side by side with pymerkle's SQLite tree.

    .venv/bin/python tests/bench/bench_ledger.py [--size 1000000] [--keep DIR]

Measures, on SQLite with synchronous=FULL (every commit durable):

1. appends in batches: work items of 1,000 entries through `Ledger.submit`;
2. concurrent single-entry appends: 32 threads, one entry per `submit`;
3. building a ledger of --size entries (items of 50,000 entries);
4. inclusion and consistency proofs at that size, warm (median of many calls in
   one process) and cold (the first proof in a fresh process, connection included);
5. offline verification of a receipt.

pymerkle (7.x) does the same where it can: `SqliteTree.append_entries` per batch,
`append_entry` from 32 threads, `prove_inclusion` / `prove_consistency`. Both sides
encode the same entries with RFC 8785 inside the timed region. Figures are medians;
the machine is shared, so read ratios rather than absolutes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from govsvc.ledger import canonical, storage  # noqa: E402
from govsvc.ledger.keys import Signer  # noqa: E402
from govsvc.ledger.log import Ledger  # noqa: E402
from govsvc.store.engine import make_engine  # noqa: E402

ORIGIN = "bench.govsvc.local/ledger"
SEED = b"\x05" * 32
BATCHES = (1_000, 10_000)
BATCHED_TOTAL = 100_000
THREADS = 32
PER_THREAD = 100
BUILD_ITEM = 50_000
PROOF_SAMPLES = 2_000
PYMERKLE_SAMPLES = 200
COLD_RUNS = 5


def entry(i: int) -> dict[str, Any]:
    """A small decision-like entry."""
    return {"kind": "decision", "i": i, "model": "credit-risk", "verdict": "allow"}


def signer() -> Signer:
    return Signer(ORIGIN, SEED)


def open_ledger(path: Path) -> Ledger:
    engine = make_engine(f"sqlite:///{path}")
    storage.metadata.create_all(engine)
    return Ledger(engine, signer(), ORIGIN)


def median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def row(what: str, ours: float, theirs: float | None, unit: str, higher: bool) -> None:
    if theirs is None:
        print(f"  {what:<44} {ours:>12,.1f} {unit:<10} {'n/a':>12}")
        return
    ratio = ours / theirs if higher else theirs / ours
    print(
        f"  {what:<44} {ours:>12,.1f} {unit:<10} {theirs:>12,.1f}   "
        f"{ratio:,.1f}x {'faster' if ratio >= 1 else 'slower'}"
    )


# -- appends ------------------------------------------------------------------------


def bench_batched(tmp: Path, batch: int) -> tuple[float, float]:
    from pymerkle import SqliteTree

    ledger = open_ledger(tmp / f"batched-{batch}.db")

    def run() -> None:
        for start in range(0, BATCHED_TOTAL, batch):
            ledger.submit(
                lambda _s, append, start=start: [
                    append(entry(i)) for i in range(start, start + batch)
                ]
            )

    ours = BATCHED_TOTAL / timed(run)
    ledger.close()
    ledger.engine.dispose()

    tree = SqliteTree(str(tmp / f"pymerkle-batched-{batch}.db"))

    def run_pymerkle() -> None:
        for start in range(0, BATCHED_TOTAL, batch):
            tree.append_entries(
                [canonical.encode(entry(i)) for i in range(start, start + batch)]
            )

    theirs = BATCHED_TOTAL / timed(run_pymerkle)
    tree.close()
    return ours, theirs


def bench_threads(tmp: Path) -> tuple[float, float]:
    from pymerkle import SqliteTree

    ledger = open_ledger(tmp / "threads.db")

    def ours_worker(t: int) -> None:
        for j in range(PER_THREAD):
            ledger.submit(lambda _s, append, k=t * PER_THREAD + j: append(entry(k)))

    ours = THREADS * PER_THREAD / timed(lambda: run_threads(ours_worker))
    ledger.close()
    ledger.engine.dispose()

    tree = SqliteTree(str(tmp / "pymerkle-threads.db"))

    def theirs_worker(t: int) -> None:
        for j in range(PER_THREAD // 4):  # a quarter: one fsync per entry is slow
            tree.append_entry(canonical.encode(entry(t * PER_THREAD + j)))

    theirs = THREADS * (PER_THREAD // 4) / timed(lambda: run_threads(theirs_worker))
    tree.close()
    return ours, theirs


def run_threads(worker: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


# -- a large ledger -----------------------------------------------------------------


def build(tmp: Path, size: int) -> tuple[float, float]:
    from pymerkle import SqliteTree

    ledger = open_ledger(tmp / "large.db")

    def run() -> None:
        for start in range(0, size, BUILD_ITEM):
            end = min(start + BUILD_ITEM, size)
            ledger.submit(
                lambda _s, append, start=start, end=end: [
                    append(entry(i)) for i in range(start, end)
                ]
            )

    ours = timed(run)
    ledger.close()
    ledger.engine.dispose()

    tree = SqliteTree(str(tmp / "pymerkle-large.db"))
    theirs = timed(
        lambda: tree.append_entries(canonical.encode(entry(i)) for i in range(size))
    )
    tree.close()
    return ours, theirs


def proof_pairs(
    size: int, n: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    rng = random.Random(9162)
    inclusion = []
    consistency = []
    for _ in range(n):
        s = rng.randrange(size // 2, size + 1)
        inclusion.append((rng.randrange(s), s))
        old = rng.randrange(1, size)
        consistency.append((old, rng.randrange(old, size + 1)))
    return inclusion, consistency


def bench_warm(tmp: Path, size: int) -> dict[str, float]:
    from pymerkle import SqliteTree

    inclusion, consistency = proof_pairs(size, PROOF_SAMPLES)
    ledger = open_ledger(tmp / "large.db")
    out: dict[str, float] = {}
    ledger.inclusion_proof(0, size)  # the first call opens the connection
    out["ours_inclusion"] = median_us(
        [timed(lambda i=i, s=s: ledger.inclusion_proof(i, s)) for i, s in inclusion]
    )
    out["ours_consistency"] = median_us(
        [timed(lambda o=o, n=n: ledger.consistency_proof(o, n)) for o, n in consistency]
    )
    receipt = ledger.receipt(size // 3) if ledger.latest_checkpoint() else None
    ledger.close()
    ledger.engine.dispose()

    if receipt is not None:
        from govsvc.ledger.receipt import verify_receipt

        key = signer().verifier_key
        out["verify_receipt"] = median_us(
            [timed(lambda: verify_receipt(receipt, [key])) for _ in range(500)]
        )

    tree = SqliteTree(str(tmp / "pymerkle-large.db"))
    tree.prove_inclusion(1, size)  # warm its subroot cache, as a server would
    # pymerkle counts leaves from 1.
    out["theirs_inclusion"] = median_us(
        [
            timed(lambda i=i, s=s: tree.prove_inclusion(i + 1, s))
            for i, s in inclusion[:PYMERKLE_SAMPLES]
        ]
    )
    out["theirs_consistency"] = median_us(
        [
            timed(lambda o=o, n=n: tree.prove_consistency(o, n))
            for o, n in consistency[:PYMERKLE_SAMPLES]
        ]
    )
    tree.close()
    return out


def cold_child(kind: str, path: str, size: int, run: int) -> None:
    """In a fresh process: time the very first proof, connection included."""
    inclusion, consistency = proof_pairs(size, COLD_RUNS)
    if kind.startswith("ours"):
        from govsvc.ledger import merkle

        engine = make_engine(f"sqlite:///{path}")
        t = time.perf_counter()
        with engine.connect() as conn:
            connected = time.perf_counter()

            def fetch(pieces: list[merkle.Piece]) -> dict[merkle.Piece, bytes]:
                return storage.fetch_pieces(conn, pieces)

            if kind == "ours_inclusion":
                i, s = inclusion[run]
                merkle.inclusion_proof(i, s, fetch)
            else:
                o, n = consistency[run]
                merkle.consistency_proof(o, n, fetch)
            done = time.perf_counter()
        elapsed = {"proof": done - connected, "with_connect": done - t}
    else:
        from pymerkle import SqliteTree

        # Opened outside the timing: pymerkle's open counts every row, which would
        # swamp the proof.
        tree = SqliteTree(path)
        t = time.perf_counter()
        if kind == "theirs_inclusion":
            i, s = inclusion[run]
            tree.prove_inclusion(i + 1, s)
        else:
            o, n = consistency[run]
            tree.prove_consistency(o, n)
        elapsed = {"proof": time.perf_counter() - t}
    print(json.dumps(elapsed))


def bench_cold(tmp: Path, size: int) -> dict[str, float]:
    out = {}
    for kind, db in (
        ("ours_inclusion", "large.db"),
        ("ours_consistency", "large.db"),
        ("theirs_inclusion", "pymerkle-large.db"),
        ("theirs_consistency", "pymerkle-large.db"),
    ):
        samples = []
        for run in range(COLD_RUNS):
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--cold",
                    kind,
                    str(tmp / db),
                    str(size),
                    str(run),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            samples.append(json.loads(done.stdout))
        out[kind] = median_us([x["proof"] for x in samples])
        if "with_connect" in samples[0]:
            out[kind + "_connect"] = median_us([x["with_connect"] for x in samples])
    return out


# -- main ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the databases in this folder")
    parser.add_argument("--cold", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold:
        kind, path, size, run = args.cold
        cold_child(kind, path, int(size), int(run))
        return

    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        print(f"govsvc ledger vs pymerkle SqliteTree, SQLite synchronous=FULL, {tmp}")
        print(f"  {'':<44} {'govsvc':>12} {'':<10} {'pymerkle':>12}   ratio")

        for batch in BATCHES:
            ours, theirs = bench_batched(tmp, batch)
            row(f"appends, batches of {batch:,}", ours, theirs, "entries/s", True)
        ours, theirs = bench_threads(tmp)
        row(
            f"appends, {THREADS} threads, 1 entry each", ours, theirs, "entries/s", True
        )

        ours, theirs = build(tmp, args.size)
        row(f"build {args.size:,} entries", ours, theirs, "s", False)

        warm = bench_warm(tmp, args.size)
        row(
            "inclusion proof, warm, median",
            warm["ours_inclusion"],
            warm["theirs_inclusion"],
            "us",
            False,
        )
        row(
            "consistency proof, warm, median",
            warm["ours_consistency"],
            warm["theirs_consistency"],
            "us",
            False,
        )
        cold = bench_cold(tmp, args.size)
        row(
            "inclusion proof, cold process, median",
            cold["ours_inclusion"],
            cold["theirs_inclusion"],
            "us",
            False,
        )
        row(
            "consistency proof, cold process, median",
            cold["ours_consistency"],
            cold["theirs_consistency"],
            "us",
            False,
        )
        for kind in ("inclusion", "consistency"):
            row(
                f"  {kind}, cold, opening the connection too",
                cold[f"ours_{kind}_connect"],
                None,
                "us",
                False,
            )
        if "verify_receipt" in warm:
            row(
                "verify a receipt offline, median",
                warm["verify_receipt"],
                None,
                "us",
                False,
            )


if __name__ == "__main__":
    main()
