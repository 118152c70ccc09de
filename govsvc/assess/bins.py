"""Binned distributions, prepared once when a request is parsed.

Parsing prepares each distribution on its own: its proportions, their smoothed
version and its logarithms, its entropy term and its cumulative sums. Assessing
compares the two distributions of a feature, which is where every drift fact comes
from (`govsvc.assess.drift`). Nothing here looks at both at once, so the split costs
no generality; it keeps the per-request work in the parse, which the service does
once, and the comparison cheap.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from operator import mul
from typing import NamedTuple

EPSILON = 1e-4
"""The floor for a bin's proportion in PSI and KL (see `govsvc.assess.drift`)."""


class Distribution(NamedTuple):
    """One side of a feature: reference or current, one list entry per bin.

    Lists side by side rather than a tuple per bin: each is built by map() or
    accumulate() in C, where zipping them into tuples cost a third of the work."""

    p: list[float]  # the bin's proportion
    smoothed: list[float]  # floored at EPSILON and renormalised
    logs: list[float]  # ln of smoothed
    cdf: list[float]  # running sum of p: the CDF at the bin's upper edge
    plogp: float  # sum of p ln p, with 0 ln 0 = 0


class Prepared(NamedTuple):
    current: Distribution
    reference: Distribution


def proportions(bins: Sequence[float]) -> list[float]:
    total = math.fsum(bins)
    return [b / total for b in bins]


def smoothed(props: list[float]) -> list[float]:
    if min(props) >= EPSILON:
        return props  # nothing to floor: keep the exact proportions
    floored = [x if x >= EPSILON else EPSILON for x in props]
    total = math.fsum(floored)
    return [x / total for x in floored]


def distribution(bins: Sequence[float]) -> Distribution:
    p = proportions(bins)
    s = smoothed(p)
    logs = list(map(math.log, s))
    # Summed exactly as drift.statistics sums m ln m, so that when current and
    # reference are equal the two sums are equal to the bit and JS is exactly 0.
    if s is p:
        # Nothing was floored, so every p is positive and its logarithms are the
        # ones just taken: the same products in the same order, half the logs.
        plogp = sum(map(mul, p, logs))
    else:
        positive = [x for x in p if x > 0]
        plogp = sum(map(mul, positive, map(math.log, positive)))
    return Distribution(p, s, logs, list(accumulate(p)), plogp)


def prepare(reference: Sequence[float], current: Sequence[float]) -> Prepared:
    return Prepared(current=distribution(current), reference=distribution(reference))


def bin_values(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [e_i, e_i+1), the last bin closed; outliers go to an end bin."""
    last = len(edges) - 2
    counts = [0] * (last + 1)
    for v in values:
        i = bisect_right(edges, v) - 1
        counts[0 if i < 0 else last if i > last else i] += 1
    return counts
