"""Binned distributions, prepared once when a request is parsed.

A feature's bins are validated and turned into proportions when the request is
parsed, so that assessing it (possibly many times: the service and `govsvc assess`
each assess once, the benchmark thousands of times) does only the statistics.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import NamedTuple

EPSILON = 1e-4
"""The floor for a bin's proportion in PSI and KL (see `govsvc.assess.drift`)."""


class Prepared(NamedTuple):
    p: list[float]  # current proportions
    q: list[float]  # reference proportions
    ps: list[float]  # current, smoothed: floored at EPSILON and renormalised
    qs: list[float]  # reference, smoothed


def proportions(bins: Sequence[float]) -> list[float]:
    total = math.fsum(bins)
    return [b / total for b in bins]


def smoothed(props: list[float]) -> list[float]:
    if min(props) >= EPSILON:
        return props  # nothing to floor: keep the exact proportions
    floored = [x if x >= EPSILON else EPSILON for x in props]
    total = math.fsum(floored)
    return [x / total for x in floored]


def prepare(reference: Sequence[float], current: Sequence[float]) -> Prepared:
    q = proportions(reference)
    p = proportions(current)
    return Prepared(p, q, smoothed(p), smoothed(q))


def bin_values(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [e_i, e_i+1), the last bin closed; outliers go to an end bin."""
    last = len(edges) - 2
    counts = [0] * (last + 1)
    for v in values:
        i = bisect_right(edges, v) - 1
        counts[0 if i < 0 else last if i > last else i] += 1
    return counts
