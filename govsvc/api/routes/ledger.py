"""`/v1/ledger`: checkpoints, entries, proofs and receipts (role auditor, or public
when GOVSVC_PUBLIC_LEDGER is set). Hashes are base64, as in receipts."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from govsvc.api.auth import Auditor
from govsvc.api.deps import ServiceDep
from govsvc.store.errors import BadRequest, NotFound

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _signed_size(service: ServiceDep) -> int:
    checkpoint = service.ledger.latest_checkpoint()
    return checkpoint.size if checkpoint is not None else 0


def _check_index(index: int, size: int, what: str = "index") -> None:
    if not 0 <= index < size:
        raise NotFound(
            f"no ledger entry {index}: expected {what} from 0 to {size - 1} "
            f"(the latest checkpoint covers {size} entries)"
        )


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (C2SP signed note)",
)
def checkpoint(token: Auditor, service: ServiceDep) -> PlainTextResponse:
    latest = service.ledger.latest_checkpoint()
    if latest is None:
        raise NotFound("the ledger has no checkpoint yet; it signs one on first start")
    return PlainTextResponse(latest.text, media_type=NOTE_MEDIA_TYPE)


@router.get("/key", summary="The verifier key, in signed-note name+keyid+base64 form")
def key(token: Auditor, service: ServiceDep) -> dict[str, Any]:
    return {
        "verifier_key": service.ledger.verifier_key,
        "all": service.ledger.verifier_keys(),
    }


@router.get("/entries/{index}", summary="One ledger entry, as it was appended")
def entry(index: int, token: Auditor, service: ServiceDep) -> dict[str, Any]:
    _check_index(index, service.ledger.size())
    return {"index": index, "entry": service.ledger.entry(index)}


@router.get("/proofs/inclusion", summary="An RFC 9162 inclusion proof")
def inclusion(
    token: Auditor,
    service: ServiceDep,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """PATH(index, D[size]) (RFC 9162 section 2.1.3.1); `size` defaults to the
    latest checkpoint's."""
    signed = _signed_size(service)
    size = size if size is not None else signed
    if size > service.ledger.size():
        raise NotFound(
            f"the ledger holds {service.ledger.size()} entries; ask for a size up "
            "to that"
        )
    _check_index(index, size)
    return {
        "index": index,
        "size": size,
        "leaf_hash": service.leaf_hash(index),
        "hashes": _b64(service.ledger.inclusion_proof(index, size)),
    }


@router.get("/proofs/consistency", summary="An RFC 9162 consistency proof")
def consistency(
    token: Auditor,
    service: ServiceDep,
    first: Annotated[int, Query(alias="from", ge=0)],
    second: Annotated[int | None, Query(alias="to", ge=0)] = None,
) -> dict[str, Any]:
    """PROOF(from, D[to]) (RFC 9162 section 2.1.4.1); `to` defaults to the latest
    checkpoint's size."""
    second = second if second is not None else _signed_size(service)
    if first > second:
        raise BadRequest(f"expected from <= to, found from={first} and to={second}")
    held = service.ledger.size()
    if second > held:
        raise NotFound(f"the ledger holds {held} entries; ask for `to` up to that")
    return {
        "from": first,
        "to": second,
        "hashes": _b64(service.ledger.consistency_proof(first, second)),
    }


@router.get("/receipts/{index}", summary="A receipt for one entry")
def receipt(index: int, token: Auditor, service: ServiceDep) -> dict[str, Any]:
    """Self-contained: the entry, its leaf hash and inclusion proof, the latest
    checkpoint and the verifier key. `govsvc ledger verify` checks it offline."""
    _check_index(index, _signed_size(service))
    return service.ledger.receipt(index)
