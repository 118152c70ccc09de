"""The evaluation request a CI gate sends, as pydantic models.

`EvaluationRequest` is the body of `POST /v1/decisions` and the input of
`govsvc assess`. Every model forbids unknown keys, so a typo (`recrods`) is an error
rather than a silently missing fact, and refuses NaN and infinities. `parse_request`
turns pydantic's errors into one `AssessError` that lists every problem as
`field.path: message`.

Only `model` and `stage` are required: a section the pipeline does not send yields no
facts, and a policy that needs one reports it as missing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from operator import attrgetter, itemgetter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from govsvc.assess.bins import Block, Prepared, Sides, bin_values, prepare, stack
from govsvc.assess.errors import AssessError
from govsvc.facts import STAGES

# No dataset holds 10^15 records; the bound keeps every sum of counts finite and exact
# in a float, so rates and bin totals never overflow into an error without a field.
MAX_COUNT = 10**15

Count = Annotated[int, Field(ge=0, le=MAX_COUNT, strict=True)]
# Strict: a JSON number, never a string ("0.5") or a boolean read as one.
Number = Annotated[float, Field(strict=True)]
NonNegative = Annotated[float, Field(ge=0, strict=True)]
Share = Annotated[float, Field(ge=0, le=1, strict=True)]
BinCount = Annotated[float, Field(ge=0, le=MAX_COUNT, strict=True)]
Name = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)


class ModelInfo(_Strict):
    name: Name
    version: Name
    artifact_digest: Name | None = None
    domain: Name | None = None
    intended_use: Name | None = None


class Dataset(_Strict):
    snapshot_digest: Name | None = None
    records: Count | None = None
    # Records lacking consent, per purpose ("training", "profiling", ...).
    records_without_consent: dict[Name, Count] | None = None
    required_purposes: list[Name] = Field(
        default_factory=lambda: ["training"], min_length=1
    )

    @model_validator(mode="after")
    def _counts_within_records(self) -> Dataset:
        if self.records is None or self.records_without_consent is None:
            return self
        over = [p for p, n in self.records_without_consent.items() if n > self.records]
        if over:
            raise ValueError(
                f"records_without_consent cannot exceed records ({self.records}); "
                f"found more for {', '.join(over)}"
            )
        return self


class GroupCounts(_Strict):
    """One group's confusion counts: counts, not rates, so no individual leaves."""

    tp: Count
    fp: Count
    tn: Count
    fn: Count

    @model_validator(mode="after")
    def _not_empty(self) -> GroupCounts:
        if self.tp + self.fp + self.tn + self.fn == 0:
            raise ValueError(
                "a group needs at least one record; found tp+fp+tn+fn = 0 "
                "(leave the group out, or merge it with another)"
            )
        return self


class FeatureDrift(_Strict):
    """Reference and current bin counts over the same bins, or raw values and edges.

    Raw values outside the edges are counted in the first or last bin, so drift in
    the tails shows instead of vanishing.
    """

    reference: list[BinCount] | None = None
    current: list[BinCount] | None = None
    reference_values: list[Number] | None = None
    current_values: list[Number] | None = None
    edges: list[Number] | None = None

    @model_validator(mode="after")
    def _one_shape(self) -> FeatureDrift:
        # The common case first, in as few steps as it takes: bin counts on both
        # sides and nothing else, the same number of bins, at least 2, some counts
        # on each side. Anything else goes through `_check_shape`, which names the
        # first fault. The totals are kept: they divide the bins into proportions.
        fields = self.__dict__
        reference, current = fields["reference"], fields["current"]
        if (
            reference is not None
            and current is not None
            and fields["edges"] is None
            and fields["reference_values"] is None
            and fields["current_values"] is None
            and len(reference) == len(current) >= 2
        ):
            reference_total = math.fsum(reference)
            current_total = math.fsum(current)
            if reference_total > 0 and current_total > 0:
                fields["_sides"] = (reference, current, reference_total, current_total)
                return self
        return self._check_shape()

    def _check_shape(self) -> FeatureDrift:
        binned = self.reference is not None or self.current is not None
        raw = (
            self.reference_values is not None
            or self.current_values is not None
            or self.edges is not None
        )
        if binned and raw:
            raise ValueError(
                "give either reference and current bin counts, or reference_values, "
                "current_values and edges; found both"
            )
        if raw:
            return self._check_raw()
        if self.reference is None or self.current is None:
            raise ValueError("expected reference and current bin counts")
        if len(self.reference) != len(self.current):
            raise ValueError(
                "reference and current must have the same bins; found "
                f"{len(self.reference)} and {len(self.current)} bins"
            )
        if len(self.reference) < 2:
            raise ValueError(f"expected at least 2 bins, found {len(self.reference)}")
        for side, bins in (("reference", self.reference), ("current", self.current)):
            if math.fsum(bins) <= 0:
                raise ValueError(f"{side} bins are all zero; expected some counts")
        self._keep(self.reference, self.current)
        return self

    def _check_raw(self) -> FeatureDrift:
        if self.reference_values is None or self.current_values is None:
            raise ValueError("expected reference_values, current_values and edges")
        if self.edges is None or len(self.edges) < 3:
            found = 0 if self.edges is None else len(self.edges)
            raise ValueError(f"expected at least 3 edges (2 bins), found {found}")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must be strictly increasing")
        if not self.reference_values or not self.current_values:
            raise ValueError("reference_values and current_values must not be empty")
        self._keep(
            bin_values(self.reference_values, self.edges),
            bin_values(self.current_values, self.edges),
        )
        return self

    def _keep(self, reference: Sequence[float], current: Sequence[float]) -> None:
        # Stored in the instance's __dict__, not as a pydantic private attribute:
        # reading one of those goes through BaseModel.__getattr__ and costs
        # microseconds, a third of a feature's whole statistics.
        sides = (reference, current, math.fsum(reference), math.fsum(current))
        self.__dict__["_sides"] = sides

    @property
    def sides(self) -> Sides:
        """The bin counts, binned from the raw values if need be, and their totals."""
        sides: Sides = self.__dict__["_sides"]
        return sides

    @property
    def counts(self) -> tuple[Sequence[float], Sequence[float]]:
        """(reference, current) bin counts, binned from the raw values if need be."""
        reference, current, _, _ = self.sides
        return reference, current

    @property
    def prepared(self) -> Prepared:
        """The feature's two distributions (`govsvc.assess.bins`), prepared when
        first asked for: `drift_facts` reads the stacked arrays of `Drift.blocks`."""
        prepared: Prepared | None = self.__dict__.get("_prepared")
        if prepared is None:
            prepared = prepare(*self.counts)
            object.__setattr__(self, "_prepared", prepared)
        return prepared


class Alert(_Strict):
    feature: Name
    severity: Literal["info", "warning", "critical"]


def _two_groups(groups: dict[str, GroupCounts]) -> dict[str, GroupCounts]:
    if len(groups) < 2:
        raise ValueError(
            "an attribute needs at least two groups to compare; found "
            f"{len(groups)} ({', '.join(groups) or 'none'})"
        )
    return groups


Attribute = Annotated[dict[Name, GroupCounts], AfterValidator(_two_groups)]


_FIELDS = attrgetter("__dict__")
_SIDES = itemgetter("_sides")
_EDGES = itemgetter("edges")


class Drift(_Strict):
    features: dict[Name, FeatureDrift] = Field(default_factory=dict)
    alerts: list[Alert] = Field(default_factory=list)

    @model_validator(mode="after")
    def _stack(self) -> Drift:
        # Every feature's distributions, stacked for drift_facts (govsvc.assess.bins),
        # and the features given as raw values, whose KS drift_facts takes exactly.
        # Read through map() and itemgetter: a loop in Python costs twice as much.
        names = list(self.features)
        fields = list(map(_FIELDS, self.features.values()))
        self.__dict__["_blocks"] = stack(names, list(map(_SIDES, fields)))
        edges = list(map(_EDGES, fields))
        self.__dict__["_raw_features"] = [
            name for name, e in zip(names, edges, strict=True) if e is not None
        ]
        return self

    @property
    def blocks(self) -> list[Block]:
        """The features stacked by bin count, prepared once at validation."""
        blocks: list[Block] = self.__dict__["_blocks"]
        return blocks

    @property
    def raw_features(self) -> list[str]:
        """The names of the features given as raw values and edges, in order."""
        raw: list[str] = self.__dict__["_raw_features"]
        return raw


class Uncertainty(_Strict):
    mean_std: NonNegative | None = None
    variance: NonNegative | None = None
    share_above_threshold: Share | None = None
    threshold: Annotated[float, Field(gt=0, strict=True)] | None = None
    ece: Share | None = None


class Baseline(_Strict):
    metrics: dict[Name, Number] = Field(default_factory=dict)


class EvaluationRequest(_Strict):
    """What a CI gate sends: the model, the stage, and its raw evaluation results."""

    model: ModelInfo
    stage: Literal["staging", "canary", "production"]
    dataset: Dataset | None = None
    metrics: dict[Name, Number] | None = None
    # attribute -> group -> confusion counts; intersectional attributes arrive the
    # same way with combined names ("gender x age_band": {"female x 18-25": ...}).
    groups: dict[Name, Attribute] | None = None
    drift: Drift | None = None
    uncertainty: Uncertainty | None = None
    baseline: Baseline | None = None


assert STAGES == ("staging", "canary", "production")  # keep the Literal in step


def parse_request(data: Mapping[str, Any]) -> EvaluationRequest:
    """Validate a decoded JSON body; raise `AssessError` listing every problem."""
    if not isinstance(data, Mapping):
        raise AssessError(
            [f"(body): expected a JSON object, found {type(data).__name__}"]
        )
    try:
        return EvaluationRequest.model_validate(data)
    except ValidationError as exc:
        raise AssessError([_describe(err) for err in exc.errors()]) from exc


def parse_request_json(raw: bytes) -> EvaluationRequest:
    """Validate a JSON body straight from its bytes, as the service receives it.

    The same request, and the same errors, as
    `EvaluationRequest.model_validate(json.loads(raw))`, and faster: pydantic-core
    parses and validates in one pass, without building the decoded body in Python
    first (figures in docs/assess.md, "Speed").

    Raises what `json.loads(raw)` raises when `raw` is not JSON (`JSONDecodeError`
    with its `pos` and `msg`; `UnicodeDecodeError` for bytes that are not text),
    and pydantic's `ValidationError`, unchanged, when it is JSON but not a valid
    request. A body that is not an object (`[1, 2]`, `"x"`) is one of those: a
    single error of type `model_type` at loc ().
    """
    try:
        return EvaluationRequest.model_validate_json(raw)
    except ValidationError:
        pass
    # The bytes fail somewhere. pydantic-core's parser and messages differ from the
    # Python path's for some inputs (it refuses NaN literals, BOMs and UTF-16, which
    # json.loads accepts; it names a non-object body differently; it reports bad
    # JSON as a validation error), so the answer, whether a request or its errors,
    # comes from the Python path, as before: failures are rare, and never hot.
    return EvaluationRequest.model_validate(json.loads(raw))


def _describe(err: Any) -> str:
    # Every model here is a plain record or an optional one, never a union, so the
    # location is the JSON path as the user wrote it (a key may hold dots or
    # brackets; it is shown as sent).
    path = ".".join(str(p) for p in err["loc"]) or "(body)"
    message = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        message = "unknown field; check its spelling against the request schema"
    return f"{path}: {message}"
