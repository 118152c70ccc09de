"""Binned distributions, prepared once when a request is parsed.

Parsing prepares each distribution on its own: its proportions, their smoothed
version and its logarithms, its entropy term and its cumulative sums. Assessing
compares the two distributions of a feature, which is where every drift fact comes
from (`govsvc.assess.drift`). Nothing here compares the two sides, so the split
costs no generality; it keeps the per-request work in the parse, which the service
does once, and the comparison cheap.

Two forms: `prepare` for one feature, in plain lists, and `stack` for every feature
of a request at once, in numpy arrays (`Block`), which is what a request uses.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from itertools import accumulate
from operator import mul
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

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


# Every feature at once. Assessing 50 features one by one in Python costs about 4.5
# µs each, nearly all of it the interpreter's per-element overhead on 10-element
# lists; numpy's per-call overhead is worse on one feature's bins, but one expression
# over all features' bins costs about as much as over one. So parsing also stacks the
# features that share a bin count into arrays, and `drift.drift_facts` compares them
# in a handful of numpy operations (tests/bench/bench_assess.py).
#
# Layout: one row per bin, one column per distribution (every feature's current
# side, then every feature's reference side), C-contiguous. numpy reduces axis 0 of
# such an array row after row, so each column's sum is taken bin by bin, in the same
# order as the per-feature code above; along a contiguous axis it would sum pairwise.

_EXACT_BELOW = 2.0**52
"""Integral counts summing below this add exactly in any order, as math.fsum would."""


class Block:
    """The features of one bin count, stacked: columns [:n] current, [n:] reference.

    A plain class, compared by identity: pydantic compares models' __dict__, and
    comparing arrays there would raise.
    """

    __slots__ = ("cdf", "logs", "n", "names", "p", "plogp", "smoothed")

    def __init__(self, names: list[str], counts: list[Sequence[float]]) -> None:
        self.names = names
        self.n = len(names)
        x = np.ascontiguousarray(np.array(counts, dtype=np.float64).T)

        # Proportions, divided by an exact total as `proportions` divides by fsum.
        if np.array_equal(x, np.floor(x)) and x.sum() < _EXACT_BELOW:
            totals = x.sum(axis=0)
        else:
            totals = np.array([math.fsum(c) for c in counts])
        p = x / totals

        # Floored and renormalised, only the columns with a bin under EPSILON.
        low = p < EPSILON
        s = p
        if low.any():
            s = p.copy()
            floored = np.where(low, EPSILON, p)
            for j in np.flatnonzero(low.any(axis=0)).tolist():
                column = floored[:, j]
                s[:, j] = column / math.fsum(column.tolist())

        # p ln p with 0 ln 0 = 0: ln 1 = 0 stands in for ln 0. drift_facts takes
        # m ln m with this same expression, so that when current and reference are
        # equal, the two sums are equal to the bit and JS is exactly 0.
        self.p = p
        self.smoothed = s
        self.logs = np.log(s)
        self.cdf = np.cumsum(p, axis=0)
        self.plogp = plogp_sums(p)


def plogp_sums(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per column, sum of p ln p over the bins, with 0 ln 0 = 0."""
    terms: NDArray[np.float64] = p * np.log(np.where(p > 0, p, 1.0))
    return terms.sum(axis=0)


def stack(counts: Mapping[str, tuple[Sequence[float], Sequence[float]]]) -> list[Block]:
    """Blocks of features sharing a bin count, from name -> (reference, current)."""
    by_bins: dict[int, tuple[list[str], list[Sequence[float]], list[Sequence[float]]]]
    by_bins = {}
    for name, (reference, current) in counts.items():
        names, cur, ref = by_bins.setdefault(len(reference), ([], [], []))
        names.append(name)
        cur.append(current)
        ref.append(reference)
    return [Block(names, cur + ref) for names, cur, ref in by_bins.values()]
