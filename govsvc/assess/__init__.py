"""Facts from raw evaluation results: fairness, drift, consent, uncertainty.

    from govsvc.assess import parse_request, assess
    request = parse_request(json.loads(body))      # AssessError lists every problem
    request = parse_request_json(body)             # the same from bytes, faster;
                                                   # raises pydantic's ValidationError
    facts = assess(request, min_group_size=30)     # SCHEMA roots except "risk"

Pure: no I/O, no FastAPI, no SQLAlchemy. The formulas and their sources are in the
docstrings of `fairness`, `drift`, `consent` and `uncertainty`, and in docs/assess.md.
"""

from govsvc.assess.assessment import assess
from govsvc.assess.errors import AssessError
from govsvc.assess.request import (
    EvaluationRequest,
    parse_request,
    parse_request_json,
)

__all__ = [
    "AssessError",
    "EvaluationRequest",
    "assess",
    "parse_request",
    "parse_request_json",
]
