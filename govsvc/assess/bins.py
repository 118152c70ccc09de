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
from collections.abc import Sequence
from itertools import accumulate, chain
from operator import itemgetter, mul
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
# in a handful of numpy operations (tests/bench/bench_assess.py). With 20 features
# each numpy call costs 1 to 3 µs whatever its size, so the layout is chosen for
# few calls: one call computes a quantity for every distribution, and one call
# compares the current and reference sides of all three quantities at once.
#
# Layout: one row per bin, one column per distribution (every feature's current
# side, then every feature's reference side), C-contiguous. numpy reduces axis 0 of
# such an array row after row, so each column's sum is taken bin by bin, in the same
# order as the per-feature code above; along a contiguous axis it would sum pairwise.
# (It does so with an array of one column too: the current-minus-reference sums of a
# feature alone in its block are pairwise from 8 bins on. tests/assess/test_drift.py
# checks the facts to the bit against a reference that sums the same way.)

Sides = tuple[Sequence[float], Sequence[float], float, float]
"""A feature's reference and current bins, and their totals (math.fsum of each)."""


class Block:
    """The features of one bin count, stacked: columns [:n] current, [n:] reference.

    `stacked` holds three arrays of one row per bin and one column per distribution:
    the smoothed proportions, their logarithms, and the running sums of the
    proportions (the CDF at each bin's upper edge); `p` the proportions themselves,
    `plogp` each column's sum of p ln p. `floored` tells whether some proportion was
    under EPSILON, so smoothed: when none was, every proportion is positive, the
    smoothed ones are the proportions, and no logarithm needs a guard against 0.

    A plain class, compared by identity: pydantic compares models' __dict__, and
    comparing arrays there would raise.
    """

    __slots__ = ("floored", "n", "names", "p", "plogp", "stacked")

    def __init__(self, names: list[str], sides: list[Sides]) -> None:
        self.names = names
        self.n = len(names)
        reference, current, reference_totals, current_totals = zip(*sides, strict=True)
        columns = current + reference
        bins = len(columns[0])

        # One flat pass over every bin (fromiter is the cheapest way in from Python
        # floats), then read column-wise; the division writes the rows C-contiguous.
        x = np.fromiter(
            chain.from_iterable(columns), np.float64, len(columns) * bins
        ).reshape(len(columns), bins)
        stacked = np.empty((3, bins, len(columns)))
        # Divided by the exact totals, as `proportions` divides by math.fsum.
        p = np.divide(x.T, current_totals + reference_totals, out=stacked[0])

        # Floored and renormalised, only the columns with a bin under EPSILON.
        self.floored = bool(p.min() < EPSILON)
        if self.floored:
            p = p.copy()
            stacked[0] = _smoothed_columns(p)

        np.log(stacked[0], out=stacked[1])
        np.add.accumulate(p, axis=0, out=stacked[2])
        self.stacked = stacked
        self.p = p

        # p ln p with 0 ln 0 = 0. drift_facts takes m ln m with the same expression,
        # so that when current and reference are equal, the two sums are equal to
        # the bit and JS is exactly 0. With nothing floored every p is positive and
        # its logarithms are already in stacked[1].
        if self.floored:
            self.plogp = plogp_sums(p)
        else:
            self.plogp = np.add.reduce(p * stacked[1], axis=0)

    @property
    def smoothed(self) -> NDArray[np.float64]:
        return self.stacked[0]

    @property
    def logs(self) -> NDArray[np.float64]:
        return self.stacked[1]

    @property
    def cdf(self) -> NDArray[np.float64]:
        return self.stacked[2]


def _smoothed_columns(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """`smoothed` for every column with a proportion under EPSILON."""
    low = p < EPSILON
    s = p.copy()
    floored = np.where(low, EPSILON, p)
    for j in np.flatnonzero(low.any(axis=0)).tolist():
        column = floored[:, j]
        s[:, j] = column / math.fsum(column.tolist())
    return s


def plogp_sums(p: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per column, sum of p ln p over the bins, with 0 ln 0 = 0."""
    terms: NDArray[np.float64] = p * np.log(np.where(p > 0, p, 1.0))
    return np.add.reduce(terms, axis=0)


def stack(names: list[str], sides: list[Sides]) -> list[Block]:
    """Blocks of features sharing a bin count, in the order first met."""
    if not names:
        return []
    counts = list(map(len, map(itemgetter(0), sides)))
    if counts.count(counts[0]) == len(counts):  # the usual case: one bin count
        return [Block(names, sides)]

    by_bins: dict[int, tuple[list[str], list[Sides]]] = {}
    for name, feature, count in zip(names, sides, counts, strict=True):
        group_names, group = by_bins.setdefault(count, ([], []))
        group_names.append(name)
        group.append(feature)
    return [Block(group_names, group) for group_names, group in by_bins.values()]
