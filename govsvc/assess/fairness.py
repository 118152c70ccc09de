"""Fairness facts from per-group confusion counts.

Per group, the rates of the confusion matrix; per attribute, the between-groups
metrics named after fairlearn's (`fairlearn.metrics`, aggregation `between_groups`:
a difference is the largest group value minus the smallest, a ratio the smallest
over the largest), and the four-fifths rule.

Edge cases, decided here once:

- A rate whose denominator is zero (TPR of a group with no actual positives, PPV of a
  group with no predicted positives) is undefined and absent from the group's facts.
  fairlearn reports 0 there (scikit-learn's `confusion_matrix(normalize="true")`
  replaces 0/0 by 0), which would invent a gap; we report nothing instead.
- A between-groups metric needs the rate in every group: when any group lacks it,
  the metric is absent, and a policy that reads it gets a missing fact rather than a
  gap computed over the groups that happen to be measurable.
- A ratio whose largest value is 0 (0/0: no group selected at all) is absent, as
  fairlearn's NaN would be; so are the impact ratios.
- A group smaller than `min_group_size` keeps its rates and counts in every gap; it is
  flagged `low_support` and listed in `low_support_groups`, never dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

from govsvc.assess.request import GroupCounts

FOUR_FIFTHS = (4, 5)
"""29 CFR 1607.4(D): a selection rate under four-fifths of the highest group's."""


def group_rates(counts: GroupCounts, min_group_size: int) -> dict[str, Any]:
    """The group's count and rates; a rate with a zero denominator is absent."""
    tp, fp, tn, fn = counts.tp, counts.fp, counts.tn, counts.fn
    n = tp + fp + tn + fn
    positives = tp + fn  # actual positives
    negatives = fp + tn
    predicted_positive = tp + fp
    predicted_negative = tn + fn

    # Definitions as in fairlearn.metrics (selection_rate, true_positive_rate, ...)
    # and https://en.wikipedia.org/wiki/Confusion_matrix for the rest. The common
    # case, every denominator positive, is one dict literal: much cheaper than
    # thirteen stores (tests/bench/bench_assess.py).
    if positives and negatives and predicted_positive and predicted_negative:
        return {
            "count": n,
            "base_rate": positives / n,
            "selection_rate": predicted_positive / n,
            "tpr": tp / positives,
            "fpr": fp / negatives,
            "fnr": fn / positives,
            "tnr": tn / negatives,
            "ppv": tp / predicted_positive,
            "npv": tn / predicted_negative,
            "fdr": fp / predicted_positive,
            "for": fn / predicted_negative,
            "accuracy": (tp + tn) / n,
            "low_support": n < min_group_size,
        }

    rates: dict[str, Any] = {
        "count": n,
        "base_rate": positives / n,
        "selection_rate": predicted_positive / n,
    }
    if positives:
        rates["tpr"] = tp / positives
        rates["fnr"] = fn / positives
    if negatives:
        rates["fpr"] = fp / negatives
        rates["tnr"] = tn / negatives
    if predicted_positive:
        rates["ppv"] = tp / predicted_positive
        rates["fdr"] = fp / predicted_positive
    if predicted_negative:
        rates["npv"] = tn / predicted_negative
        rates["for"] = fn / predicted_negative
    rates["accuracy"] = (tp + tn) / n
    rates["low_support"] = n < min_group_size
    return rates


Spread = tuple[float, float | None]

# The rates the between-groups metrics compare, in the order `attribute_facts` reads
# them; a group's rates dict has all 13 keys exactly when none is undefined.
_COMPARED = itemgetter("selection_rate", "tpr", "fpr", "fnr", "ppv")
_EVERY_RATE = 13


def _spread(rows: list[dict[str, Any]], rate: str) -> Spread | None:
    """(max - min, min / max) of a rate over groups; None unless every group has it.

    The ratio is None when the largest value is 0 (0/0).
    """
    try:
        values = [row[rate] for row in rows]
    except KeyError:
        return None
    low, high = min(values), max(values)
    return high - low, (low / high if high > 0 else None)


def attribute_facts(
    groups: Mapping[str, GroupCounts], min_group_size: int
) -> dict[str, Any]:
    """Every fact of one protected attribute (SCHEMA fairness.<attribute>)."""
    per_group = {name: group_rates(c, min_group_size) for name, c in groups.items()}
    rows = list(per_group.values())
    if min(map(len, rows)) == _EVERY_RATE:
        facts = _complete_facts(groups, per_group, rows)
        if facts is not None:
            return facts
    return _general_facts(groups, per_group)


def _complete_facts(
    groups: Mapping[str, GroupCounts],
    per_group: dict[str, dict[str, Any]],
    rows: list[dict[str, Any]],
) -> dict[str, Any] | None:
    """`_general_facts` in the common case, every rate defined in every group; None
    when some ratio would be 0/0, which `_general_facts` handles.

    The same expressions, and the same keys in the same order, in fewer steps: the
    compared rates' values over the groups come out of one pass through C
    (itemgetter and zip), and sorting a handful of values costs less than taking
    their min and max (the rates are never -0.0, so equal values are identical).
    """
    selection, tpr, fpr, fnr, ppv = zip(*map(_COMPARED, rows), strict=True)
    s, t, f, n, p = map(sorted, (selection, tpr, fpr, fnr, ppv))
    best = s[-1]
    if not (best and t[-1] and f[-1]):
        return None

    tpr_difference, fpr_difference = t[-1] - t[0], f[-1] - f[0]
    ratios = dict(zip(groups, [sr / best for sr in selection], strict=True))
    lowest = s[0] / best
    # Every ratio is at least the lowest: none fails when the lowest clearly passes.
    failing = [] if lowest >= _CLEARLY_PASSING else _failing(groups, ratios, selection)
    return {
        "groups": per_group,
        "demographic_parity_difference": best - s[0],
        "demographic_parity_ratio": s[0] / best,
        "equalized_odds_difference": max(tpr_difference, fpr_difference),
        "equalized_odds_ratio": min(t[0] / t[-1], f[0] / f[-1]),
        "equal_opportunity_difference": tpr_difference,
        "equal_opportunity_ratio": t[0] / t[-1],
        "false_positive_rate_difference": fpr_difference,
        "false_negative_rate_difference": n[-1] - n[0],
        "predictive_parity_difference": p[-1] - p[0],
        "impact_ratios": ratios,
        "min_impact_ratio": lowest,
        "four_fifths_failing": failing,
        "low_support_groups": [
            name for name, g in per_group.items() if g["low_support"]
        ],
    }


def _general_facts(
    groups: Mapping[str, GroupCounts], per_group: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Every fact of an attribute, whichever rates are undefined in some group."""
    rows = list(per_group.values())
    selection = [row["selection_rate"] for row in rows]
    tpr, fpr, fnr, ppv = (_spread(rows, rate) for rate in ("tpr", "fpr", "fnr", "ppv"))
    facts: dict[str, Any] = {"groups": per_group}

    # fairlearn.metrics.demographic_parity_difference / _ratio: selection rate.
    low, high = min(selection), max(selection)
    _put(facts, "demographic_parity", (high - low, low / high if high > 0 else None))

    # fairlearn.metrics.equalized_odds_difference / _ratio, agg="worst_case": the
    # larger of the TPR and FPR differences, the smaller of their ratios.
    if tpr is not None and fpr is not None:
        facts["equalized_odds_difference"] = max(tpr[0], fpr[0])
        if tpr[1] is not None and fpr[1] is not None:
            facts["equalized_odds_ratio"] = min(tpr[1], fpr[1])

    # fairlearn.metrics.equal_opportunity_difference / _ratio: TPR.
    _put(facts, "equal_opportunity", tpr)

    # MetricFrame(false_positive_rate / false_negative_rate / precision).difference().
    if fpr is not None:
        facts["false_positive_rate_difference"] = fpr[0]
    if fnr is not None:
        facts["false_negative_rate_difference"] = fnr[0]
    if ppv is not None:
        facts["predictive_parity_difference"] = ppv[0]

    facts.update(_four_fifths(groups, selection))
    facts["low_support_groups"] = [n for n, g in per_group.items() if g["low_support"]]
    return facts


def _put(facts: dict[str, Any], stem: str, spread: Spread | None) -> None:
    if spread is None:
        return
    facts[f"{stem}_difference"] = spread[0]
    if spread[1] is not None:
        facts[f"{stem}_ratio"] = spread[1]


def _four_fifths(
    groups: Mapping[str, GroupCounts], selection: list[float]
) -> dict[str, Any]:
    """Impact ratios against the highest selection rate (EEOC Uniform Guidelines).

    A ratio within 1e-9 of 0.8 is decided on integers, (tp+fp)_g * n_max * 5 <
    (tp+fp)_max * n_g * 4, so a ratio of exactly four-fifths is never failed (or
    passed) by rounding.
    """
    best = max(selection)
    if best == 0:
        return {}  # nobody selected anywhere: no ratio is defined

    ratios = dict(zip(groups, [sr / best for sr in selection], strict=True))
    return {
        "impact_ratios": ratios,
        "min_impact_ratio": min(selection) / best,
        "four_fifths_failing": _failing(groups, ratios, selection),
    }


def _failing(
    groups: Mapping[str, GroupCounts],
    ratios: dict[str, float],
    selection: Sequence[float],
) -> list[str]:
    return [
        name
        for name, ratio in ratios.items()
        if ratio < _CLEARLY_PASSING
        and (ratio < _CLEARLY_FAILING or _under_four_fifths(groups, name, selection))
    ]


_CLEARLY_FAILING = 0.8 - 1e-9
_CLEARLY_PASSING = 0.8 + 1e-9


def _under_four_fifths(
    groups: Mapping[str, GroupCounts], name: str, selection: Sequence[float]
) -> bool:
    top = list(groups.values())[selection.index(max(selection))]
    c = groups[name]
    num, den = FOUR_FIFTHS
    best_n = top.tp + top.fp + top.tn + top.fn
    n = c.tp + c.fp + c.tn + c.fn
    return (c.tp + c.fp) * best_n * den < (top.tp + top.fp) * n * num


def fairness_facts(
    groups: Mapping[str, Mapping[str, GroupCounts]], min_group_size: int
) -> dict[str, Any]:
    """SCHEMA fairness: one record per protected attribute, in the request's order."""
    return {
        attribute: attribute_facts(by_group, min_group_size)
        for attribute, by_group in groups.items()
    }
