"""Benchmark: `conclude`, the part of a decision after the request's assessment.

    .venv/bin/python tests/bench/bench_decide.py [--runs N]

The facts: twenty of the service's requests (`realistic_request` of
bench_service.py: 3 protected attributes of 2, 4 and 5 groups, 20 drifting
features, metrics, a baseline, consent and uncertainty), each assessed once; the
shipped policies. Printed, each the median of single calls over all twenty facts,
as wall-clock and as CPU time of this process, with the garbage collector on as in
the service:

- conclude, for a new model and for one with a stored tier state (the target is
  40 µs median);
- its parts: evaluate_risk, bundle.evaluate_records, and TierState.from_dict and
  to_dict, which the service calls around it;
- the reasons per decision, for scale (each costs about 1.5 µs to render).

Not a test: timings vary with the machine and its load.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench_service import realistic_request  # noqa: E402

from govsvc.assess import parse_request  # noqa: E402
from govsvc.decide import assess_request, conclude  # noqa: E402
from govsvc.policy import load_bundle  # noqa: E402
from govsvc.risk import TierState, evaluate_risk  # noqa: E402

TARGET_US = 40.0
FACTS = 20


def median_us(
    fn: Callable[[Any], object], inputs: Sequence[Any], runs: int
) -> tuple[float, float]:
    """(wall-clock median, CPU-time median) of single calls, in µs, over `runs`
    calls cycling through `inputs` (after as many again to warm up)."""
    for i in range(runs):
        fn(inputs[i % len(inputs)])
    wall, cpu = [], []
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    for i in range(runs):
        item = inputs[i % len(inputs)]
        start, cpu_start = clock(), cpu_clock()
        fn(item)
        cpu.append(cpu_clock() - cpu_start)
        wall.append(clock() - start)
    return statistics.median(wall) / 1000, statistics.median(cpu) / 1000


def show(label: str, times: tuple[float, float], note: str = "") -> None:
    wall, cpu = times
    print(f"{label:34s}{wall:9.1f} µs wall {cpu:9.1f} µs cpu  {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()

    bundle = load_bundle(ROOT / "policies")
    rng = random.Random(7)
    facts = [
        assess_request(parse_request(realistic_request(rng, i)), bundle)
        for i in range(FACTS)
    ]
    previous = TierState("high", "limited", clean_streak=1, consecutive_failures=2)
    with_risk = [
        {**f, "risk": evaluate_risk(f, bundle.risk_model).facts} for f in facts
    ]
    stored = previous.to_dict()
    reasons = [len(conclude(f, bundle, None).reasons) for f in facts]

    print(f"load average {os.getloadavg()[0]:.2f}; {args.runs} calls per figure")
    new = median_us(lambda f: conclude(f, bundle, None), facts, args.runs)
    show("conclude (new model)", new)
    show(
        "conclude (stored tier state)",
        median_us(lambda f: conclude(f, bundle, previous), facts, args.runs),
    )
    show(
        "  evaluate_risk",
        median_us(lambda f: evaluate_risk(f, bundle.risk_model), facts, args.runs),
    )
    show(
        "  bundle.evaluate_records",
        median_us(bundle.evaluate_records, with_risk, args.runs),
        f"{statistics.mean(reasons):.1f} reasons per decision",
    )
    show(
        "TierState.from_dict + to_dict",
        median_us(lambda d: TierState.from_dict(d).to_dict(), [stored], args.runs),
    )
    met = "met" if new[0] <= TARGET_US else "NOT met"
    print(f"target: conclude <= {TARGET_US:.0f} µs median: {met}")


if __name__ == "__main__":
    main()
