"""Consent and provenance facts for the training snapshot.

Fail closed: a consent fact the request cannot support is absent or false, never a
value that reads as consented.

- `purposes.<p>.coverage` is 1 - records_without_consent / records, present only when
  the record count is known and positive.
- `failing_purposes` lists every purpose with records lacking consent, and every
  required purpose the pipeline reported nothing for: no evidence of consent is not
  consent.
- `consent_covered` is true only when every required purpose was reported with zero
  records lacking consent; false when one lacks consent or was not reported. It is
  absent when the request carries no consent counts at all.
- `records_without_consent` (the largest count over required purposes) is absent
  when a required purpose was not reported, since it could be anything.
"""

from __future__ import annotations

from typing import Any

from govsvc.assess.request import Dataset


def dataset_facts(dataset: Dataset) -> dict[str, Any]:
    """SCHEMA dataset: the snapshot, its consent per purpose, and what fails."""
    facts: dict[str, Any] = {}
    if dataset.snapshot_digest is not None:
        facts["snapshot_digest"] = dataset.snapshot_digest
    if dataset.records is not None:
        facts["records"] = dataset.records
    required = list(dict.fromkeys(dataset.required_purposes))
    facts["required_purposes"] = required

    missing = dataset.records_without_consent
    if missing is None:
        return facts

    records = dataset.records
    purposes: dict[str, Any] = {}
    for purpose, lacking in missing.items():
        entry: dict[str, Any] = {"records_without_consent": lacking}
        if records:
            entry["coverage"] = 1 - lacking / records
        purposes[purpose] = entry
    facts["purposes"] = purposes

    unreported = [p for p in required if p not in missing]
    facts["failing_purposes"] = [p for p, n in missing.items() if n > 0] + unreported
    if not unreported:
        facts["records_without_consent"] = max(
            (missing[p] for p in required), default=0
        )
    facts["consent_covered"] = not unreported and all(missing[p] == 0 for p in required)
    return facts
