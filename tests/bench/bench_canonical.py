"""Benchmark of the RFC 8785 encoding of a ledger entry, against the `rfc8785` package.

    .venv/bin/python tests/bench/bench_canonical.py [--rounds 5000] [--reasons 7]

Builds a decision entry shaped like the one the service records (about 2.3 KB with
seven reasons: nested objects, strings, integers, full-precision floats and nulls),
checks that `canonical.encode` gives the same bytes as `rfc8785.dumps`, then prints
the median time of each (the target applies to the first: under 30 us) and their
ratio. It also prints the median of `repr` over the entry's floats: Python's
shortest float formatting, which the encoder cannot avoid, is its largest part.

Figures are medians over --rounds calls after a warm-up; the machine is shared, so
read the ratio rather than the absolutes. The exit status is 1 if the target is
missed.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rfc8785

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import timing  # noqa: E402  (tests/bench/timing.py, beside this script)

from govsvc.ledger import canonical  # noqa: E402

TARGET_US = 30.0
WARMUP = 200


def median_us(fn: Callable[[], object], rounds: int) -> float:
    return timing.median_us(fn, rounds, WARMUP)


def reason(rng: random.Random, i: int) -> dict[str, Any]:
    """A reason as the policy runtime reports it; observed values at full precision."""
    observed = rng.uniform(0.0, 0.3)
    threshold = (0.05, 0.1, 0.8, 0.2)[i % 4]
    return {
        "effect": ("deny", "review", "allow")[i % 3],
        "message": f"demographic parity gap {observed:.3f} for group {i} exceeds "
        f"{threshold} on credit-scoring",
        "policy": "fairness",
        "file": "policies/fairness.gov",
        "line": 12 + 7 * i,
        "rule": f"fairness.parity_gap_{i}",
        "observed": observed,
        "threshold": threshold,
        "missing_fact": None,
    }


def decision_entry(reasons: int) -> dict[str, Any]:
    """A decision entry with the members `govsvc.api.service` records."""
    rng = random.Random(8785)
    return {
        "type": "decision",
        "id": "8d2c6a8e-1f0b-4a55-9a43-3b1f6c1f7e21",
        "time": "2024-05-01T12:34:56.789012+00:00",
        "model": {
            "name": "credit-scoring",
            "version": "1.4.2",
            "artifact_digest": "sha256:" + "ab" * 32,
        },
        "stage": "production",
        "verdict": "review",
        "tier": "high",
        "bias_impact": rng.random(),
        "exposure": rng.random(),
        "reasons": [reason(rng, i) for i in range(reasons)],
        "bundle_digest": "sha256:" + "cd" * 32,
        "request_digest": "sha256:" + "ef" * 32,
    }


def floats_of(value: Any) -> list[float]:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for member in value.values() for f in floats_of(member)]
    if isinstance(value, list):
        return [f for item in value for f in floats_of(item)]
    return []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5000, help="calls per median")
    parser.add_argument("--reasons", type=int, default=7, help="reasons in the entry")
    args = parser.parse_args()

    entry = decision_entry(args.reasons)
    expected = rfc8785.dumps(entry)
    if canonical.encode(entry) != expected:
        print("canonical.encode and rfc8785.dumps DIFFER on the entry")
        return 1
    floats = floats_of(entry)
    print(
        f"entry: {len(expected)} bytes, {args.reasons} reasons, {len(floats)} floats; "
        f"medians of {args.rounds} calls\n"
    )

    ours = median_us(lambda: canonical.encode(entry), args.rounds)
    theirs = median_us(lambda: rfc8785.dumps(entry), max(args.rounds // 10, 100))
    reprs = median_us(lambda: [repr(f) for f in floats], args.rounds)

    verdict = "meets" if ours < TARGET_US else "MISSES"
    print(
        f"{'canonical.encode':<28} {ours:8.1f} us   {verdict} the {TARGET_US:g} us "
        "target"
    )
    print(f"{'rfc8785.dumps':<28} {theirs:8.1f} us   {theirs / ours:.1f}x slower")
    print(
        f"  {'repr of its floats':<26} {reprs:8.1f} us   {reprs / ours:6.1%} of "
        "canonical.encode"
    )
    return 0 if ours < TARGET_US else 1


if __name__ == "__main__":
    sys.exit(main())
