"""The service behind the routes: decisions, reviews and publications, each recorded
in one transaction with its ledger entries.

Routes parse and render; this class holds the engine, the ledger and the compiled
bundle, and does the work. Nothing that matters lives only here: the bundle in force,
the tier states and the idempotency keys are in the database, so replicas agree.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from govsvc.assess import EvaluationRequest, parse_request_json
from govsvc.decide import assess_request, conclude, request_digest
from govsvc.ledger.log import Committed, EncodedEntry, Ledger, batch_rows, encode
from govsvc.policy import Bundle, check_sources
from govsvc.risk import TierState
from govsvc.settings import Settings
from govsvc.store import decisions as rows
from govsvc.store import policies
from govsvc.store import tokens as token_store
from govsvc.store.engine import WalCheckpointer
from govsvc.store.errors import (
    BadRequest,
    Conflict,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from govsvc.store.ids import new_id
from govsvc.store.jsontext import dumps, dumps_utf8
from govsvc.store.packed import pack
from govsvc.store.time import now
from govsvc.store.tokens import TokenCache, TokenInfo

if TYPE_CHECKING:
    from govsvc.api.writer import WriterClient

log = logging.getLogger(__name__)

T = TypeVar("T")

# A concurrent request with the same idempotency key may still be committing when
# ours fails on the key; wait this long for its row before giving up with a 409.
IDEMPOTENCY_WAIT_SECONDS = 5.0

# Tier states a process remembers as guesses (`Service.states_seen`): a few
# hundred bytes each.
MAX_STATES_SEEN = 100_000


@dataclass(frozen=True)
class Recorded:
    """A decision as the API answers it, and whether it was replayed."""

    body: dict[str, Any]  # everything but the facts
    facts_json: str  # the facts, JSON text encoded once when the decision was made
    replayed: bool

    def to_json(self) -> bytes:
        """The answer: `body` with `"facts"` spliced in as stored. The facts are most
        of an answer's bytes; encoding them once, not for the row and again for
        the response, is most of the JSON cost of a decision. Spliced as bytes:
        the receipt's note is not ASCII, and as one str the answer took 15 us to
        build instead of 2.5 (most of it spent widening the facts to two bytes a
        character, and encoding them back)."""
        head = dumps_utf8(self.body)
        facts = self.facts_json.encode()
        if head == b"{}":
            return b'{"facts": ' + facts + b"}"
        return head[:-1] + b', "facts": ' + facts + b"}"

    def to_dict(self) -> dict[str, Any]:
        return {**self.body, "facts": json.loads(self.facts_json)}


class Service:
    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        ledger: Ledger,
        bundles: policies.BundleCache | None = None,
        checkpointer: WalCheckpointer | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.ledger = ledger
        self.checkpointer = checkpointer
        self.bundles = bundles or policies.BundleCache()
        self.tokens_seen = TokenCache()
        # Set in each worker of `govsvc serve` when a writer process records the
        # decisions of all of them (`govsvc.api.writer`).
        self.writer: WriterClient | None = None
        # Each model's tier state as this process's batches last read or wrote it:
        # the guess `_Pending.prepare` concludes from. Checked under the lock, so a
        # stale one (another process's decision or review) costs a second
        # conclusion, never a wrong one.
        self.states_seen: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        self.ledger.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self.engine.dispose()

    # -- the bundle --------------------------------------------------------------------

    def bundle(self) -> Bundle:
        with self.engine.connect() as conn:
            return self.bundles.current(conn)

    def seed_policies(self) -> int:
        """Publish the policies directory on first start; the number published."""
        sources = policies.read_directory(self.settings.policies_dir)

        def work(session: Session, append: Any) -> list[dict[str, Any]]:
            return policies.seed(session.connection(), append, sources)

        try:
            published = self.ledger.submit(work).value
        except sa.exc.IntegrityError:
            return 0  # another process seeded at the same moment
        for item in published:
            log.info("seeded policy %s (%s)", item["name"], item["sha256"])
        return len(published)

    # -- decisions ---------------------------------------------------------------------

    async def decide(
        self,
        request: EvaluationRequest,
        raw: bytes,
        token: TokenInfo,
        idempotency_key: str | None,
    ) -> Recorded:
        """Assess, conclude and record one decision; see the module docstring of
        `govsvc.decide` for the steps. Called on the event loop. The plan:

        1. the facts are assessed here, on the event loop, under the bundle this
           process last loaded (the costly part, with no thread hand-off);
        2. in the ledger's writer thread (this process's, or the writer process's
           that `govsvc serve` runs for several workers on SQLite), before its
           turn at the write lock: the decision is concluded from the model's
           tier state as that process last saw it, its entries encoded and its
           answer built (`_Pending.prepare`);
        3. in the ledger's group-commit transaction: check that the token is still
           live and the bundle still in force (once per batch), read and lock the
           model's tier state (conclude again if it is not the one step 2 used),
           claim the idempotency key, append the entry, write the rows;
        4. after the commit, the receipt, proved in memory from the batch.

        An idempotency key seen before fails its claim in step 3, and the decision
        stored under it answers; retries are rare, so they pay for an assessment
        rather than every request paying for a lookup.
        """
        started = time.perf_counter()

        bundle = self.bundles.loaded
        if bundle is None:
            bundle = await run_in_threadpool(self.bundle)
        pending = _Pending.assessed(self, request, raw, token, idempotency_key, bundle)

        answer: tuple[dict[str, Any], str | None] | None
        if self.writer is not None:
            try:
                answer = await self.writer.record(pending.message())
            except Unauthenticated:
                self.tokens_seen.forget(token.id)  # revoked: the writer found out
                raise
        else:
            future = self.ledger.submit_future(pending)
            with contextlib.suppress(Exception):  # `answer` raises it
                await asyncio.wrap_future(future)
            answer = self.answer(pending, future)

        if answer is None:
            return await run_in_threadpool(
                self._await_replay, token.id, idempotency_key or "", pending.digest
            )
        body, facts_json = answer
        if facts_json is None:
            # Concluded by the writer process from the facts this process sent: it
            # left their JSON out, and the risk is all it would have added.
            facts_json = pending.facts_answered(body["risk"])
            assert facts_json is not None, "assessed in this process"
        if body["bundle_digest"] != bundle.digest:
            # A publication reached the writer process first, which assessed this
            # decision again; load the new bundle here too, for the next ones.
            await run_in_threadpool(self.bundle)
        log.info(
            "decision %s model=%s verdict=%s tier=%s in %.1f ms",
            body["id"],
            request.model.name,
            body["verdict"],
            body["tier"],
            (time.perf_counter() - started) * 1000,
        )
        return Recorded(body, facts_json, replayed=False)

    def answer(
        self, pending: _Pending, future: Future[Committed[Any]]
    ) -> tuple[dict[str, Any], str | None] | None:
        """The answer to a decision whose batch is done: its body with the receipt,
        and its facts' JSON (None in the writer process when the worker that sent
        the decision has them); None when its idempotency key was claimed before
        (the first decision answers). Raises what the decision failed with."""
        try:
            committed = future.result()
        except sa.exc.IntegrityError as exc:
            # SQLite names the table in its message, PostgreSQL the constraint
            # (idempotency_keys_pkey): either way the key's table is named.
            key = pending.idempotency_key
            if key is not None and "idempotency_keys" in str(exc.orig):
                return None
            # The other unique key a decision writes is a new model's tier state:
            # two first decisions for one model raced. Retrying is safe.
            raise Unavailable(
                f"another decision for the new model {pending.model['name']!r} was "
                "recorded at the same moment; retry the request"
            ) from exc

        body = committed.value
        index = body["ledger_index"]
        proof = committed.inclusion_proof(self.ledger, index)
        checkpoint = committed.checkpoint
        receipt = {
            "entry": pending.entry,
            "index": index,
            "leaf_hash": base64.b64encode(pending.leaf_hash).decode(),
            "inclusion_proof": [base64.b64encode(h).decode() for h in proof],
            "checkpoint": checkpoint.text,
            "verifier_key": checkpoint.verifier_key,
        }
        return {**body, "receipt": receipt}, pending.facts_answered(body["risk"])

    def _record(
        self, session: Session, append: Any, pending: _Pending
    ) -> dict[str, Any]:
        """Step 3 of `decide`, in the ledger's writer thread and transaction."""
        conn = session.connection()
        token = pending.token

        # The token and the bundle were read from this process's memory; what the
        # database says now is what counts. One read each per batch.
        live = _per_batch(
            session, ("token", token.id), lambda: token_store.is_live(conn, token.id)
        )
        if not live:
            self.tokens_seen.forget(token.id)
            raise Unauthenticated(
                "the token is unknown or revoked; ask an admin for a new one"
            )
        bundle = _per_batch(session, "bundle", lambda: self.bundles.current(conn))
        if bundle is not pending.bundle:
            # Published since this request was assessed: assess it again under the
            # bundle in force, which also governs its minimum group size.
            pending.reassess(bundle)

        # Concluded before the lock from the tier state last seen; again here if
        # the state the batch holds now is another (a decision on the same model
        # by another process, or a review, came first).
        model = pending.model["name"]
        gathered = self._batch_rows(session)
        stored = gathered.tier_state(conn, model)
        concluded = pending.concluded
        if concluded is None or concluded.previous != stored:
            concluded = self._conclude(pending, stored)
        created = concluded.created

        if pending.idempotency_key is not None:
            # Claimed before appending anything, so that a retry fails here on the
            # key's primary key; the ledger rolls this item back to its savepoint
            # and raises the error to `decide`.
            rows.claim_idempotency_key(
                conn,
                token.id,
                pending.idempotency_key,
                pending.digest,
                pending.id,
                created,
            )

        appended = append(concluded.entry)
        pending.entry, pending.leaf_hash = concluded.entry.entry, appended.leaf_hash
        body = {**concluded.body, "ledger_index": appended.index}
        if concluded.tier_change is not None:
            self._record_tier_change(conn, append, concluded.tier_change)
        if stored is None:
            # A new model's first state is inserted at once: a replica placing the
            # same new model at the same moment fails here, on the primary key, and
            # only this item rolls back.
            rows.insert_tier_state(conn, model, concluded.state, created)

        # Last, once nothing can fail: the rows written with the batch's others.
        gathered.set_tier_state(
            model, concluded.state, created, update=stored is not None
        )
        gathered.decisions.append(
            {
                "id": pending.id,
                "created_at": created,
                "model": model,
                "model_version": pending.model["version"],
                "stage": pending.stage,
                "verdict": body["verdict"],
                "tier": body["tier"],
                "status": body["status"],
                "bundle_digest": bundle.digest,
                "request_digest": pending.digest,
                "ledger_index": appended.index,
                "token_id": token.id,
                "body": dumps(body),
                "facts": "",
                "facts_zstd": pending.facts_packed,
            },
        )
        return body

    def _batch_rows(self, session: Session) -> _BatchRows:
        return batch_rows(session, "service", lambda: _BatchRows(self.states_seen))

    def _conclude(self, pending: _Pending, stored: dict[str, Any] | None) -> _Concluded:
        """Everything of a decision that its place in the ledger does not change,
        from the model's stored tier state (None for a new model)."""
        model, bundle = pending.model, pending.bundle
        assert bundle is not None, "assess a decision before concluding it"
        # The decision's time is when it was concluded: a batch's decisions, or
        # two processes' batches, may reach the ledger a moment out of that order.
        created = now()
        previous = TierState.from_dict(stored) if stored is not None else None
        outcome = conclude(pending.facts, bundle, previous)

        entry = {
            "type": "decision",
            "id": pending.id,
            "time": created,
            "model": {
                "name": model["name"],
                "version": model["version"],
                "artifact_digest": model.get("artifact_digest"),
            },
            "stage": pending.stage,
            "verdict": outcome.verdict,
            "tier": outcome.tier,
            "bias_impact": outcome.risk.get("bias_impact"),
            "exposure": outcome.risk.get("exposure"),
            "reasons": outcome.reasons,
            "bundle_digest": bundle.digest,
            "request_digest": pending.digest,
        }
        tier_change = None
        if outcome.tier_changed:
            tier_change = self._tier_change(
                model["name"],
                outcome.previous_tier,
                outcome.tier,
                cause=pending.id,
                at=created,
            )
        body = {
            "id": pending.id,
            "time": created,
            "model": model,
            "stage": pending.stage,
            "verdict": outcome.verdict,
            "status": "pending" if outcome.verdict == "review" else "final",
            "tier": outcome.tier,
            "risk": outcome.risk,
            "reasons": outcome.reasons,
            "bundle_digest": bundle.digest,
            "request_digest": pending.digest,
        }
        return _Concluded(
            previous=stored,
            created=created,
            entry=encode(_without_none(entry)),
            tier_change=tier_change,
            body=body,
            state=outcome.state.to_dict(),
        )

    @staticmethod
    def _tier_change(
        model: str, from_tier: str | None, to_tier: str, *, cause: str, at: str
    ) -> EncodedEntry:
        # Every change of a model's tier is on the record, the first placement too.
        return encode(
            _without_none(
                {
                    "type": "tier",
                    "model": model,
                    "from": from_tier,
                    "to": to_tier,
                    "cause": cause,
                    "time": at,
                }
            )
        )

    @staticmethod
    def _record_tier_change(
        conn: sa.Connection, append: Any, change: EncodedEntry
    ) -> None:
        appended = append(change)
        entry = change.entry
        rows.record_tier_change(
            conn,
            model=entry["model"],
            from_tier=entry.get("from"),
            to_tier=entry["to"],
            cause=entry["cause"],
            created_at=entry["time"],
            ledger_index=appended.index,
        )

    def _replay(self, token_id: str, key: str, digest: str) -> Recorded | None:
        with self.engine.connect() as conn:
            found = rows.find_idempotent(conn, token_id, key)
            if found is None:
                return None
            stored_digest, decision_id = found
            if stored_digest != digest:
                raise Conflict(
                    f"the Idempotency-Key {key!r} was used for another request "
                    f"(digest {stored_digest}, this one is {digest}); use a new key "
                    "for a new request"
                )
            row = rows.get_decision(conn, decision_id)
        # The first answer, with the review status as it stands now: a pipeline
        # that retries after an approval sees the approval.
        body = {**row.body, "status": row.status}
        return Recorded(self._with_receipt(body), rows.facts_of(row), replayed=True)

    def _await_replay(self, token_id: str, key: str, digest: str) -> Recorded:
        deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
        while True:
            replay = self._replay(token_id, key, digest)
            if replay is not None:
                return replay
            if time.monotonic() > deadline:
                raise Conflict(
                    f"a request with the Idempotency-Key {key!r} is still in "
                    "progress; retry in a moment"
                )
            time.sleep(0.01)

    def _with_receipt(self, body: dict[str, Any]) -> dict[str, Any]:
        # The first answer's receipt is against the checkpoint its batch signed: the
        # smallest stored checkpoint that covers the entry. Replays match it.
        index = int(body["ledger_index"])
        return {**body, "receipt": self.ledger.receipt(index, self._covering(index))}

    def _covering(self, index: int) -> int | None:
        from govsvc.ledger.storage import checkpoints

        with self.engine.connect() as conn:
            size = conn.execute(
                sa.select(sa.func.min(checkpoints.c.size)).where(
                    checkpoints.c.size > index
                )
            ).scalar()
        return int(size) if size is not None else None

    def get_decision(self, decision_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = rows.get_decision(conn, decision_id)
            body = dict(row.body)
            body["status"] = row.status
            body["reviews"] = rows.reviews_of(conn, decision_id)
            body["facts"] = json.loads(rows.facts_of(row))
        return body

    def list_decisions(
        self,
        *,
        model: str | None,
        verdict: str | None,
        status: str | None,
        cursor: str | None,
        limit: int,
    ) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found, following = rows.list_decisions(
                conn,
                model=model,
                verdict=verdict,
                status=status,
                cursor=cursor,
                limit=limit,
            )
        items = [
            {
                "id": r.id,
                "time": r.created_at,
                "model": r.model,
                "model_version": r.model_version,
                "stage": r.stage,
                "verdict": r.verdict,
                "status": r.status,
                "tier": r.tier,
                "bundle_digest": r.bundle_digest,
                "ledger_index": r.ledger_index,
            }
            for r in found
        ]
        return {"items": items, "next": following}

    # -- reviews -----------------------------------------------------------------------

    def review(
        self, decision_id: str, reviewer: TokenInfo, approve: bool, comment: str
    ) -> dict[str, Any]:
        """Approve or reject a pending `review` decision; a ledger entry either way.
        An approval also lets the model's raised tier come down."""
        # The first review decides the decision's status: there is no quorum of
        # several reviewers yet, so four-eyes rules must live outside govsvc.
        outcome = "approve" if approve else "reject"
        review_id = new_id()

        def work(session: Session, append: Any) -> dict[str, Any]:
            conn = session.connection()
            at = now()
            row = rows.lock_decision(conn, decision_id)
            if row.verdict != "review":
                raise Conflict(
                    f"decision {decision_id} has verdict {row.verdict}; only a "
                    "`review` verdict can be reviewed"
                )
            if rows.has_reviewed(conn, decision_id, reviewer.id):
                raise Conflict(
                    f"the reviewer {reviewer.id} has already reviewed decision "
                    f"{decision_id}; a reviewer reviews a decision once"
                )
            if row.status != "pending":
                raise Conflict(
                    f"decision {decision_id} is already {row.status}; nothing is "
                    "pending"
                )

            appended = append(
                {
                    "type": "review",
                    "id": review_id,
                    "decision": decision_id,
                    "decision_index": row.ledger_index,
                    "outcome": outcome,
                    "reviewer": reviewer.id,
                    "comment": comment,
                    "time": at,
                }
            )
            rows.insert_review(
                conn,
                id=review_id,
                decision_id=decision_id,
                reviewer=reviewer.id,
                outcome=outcome,
                comment=comment,
                created_at=at,
                ledger_index=appended.index,
            )
            status = "approved" if approve else "rejected"
            rows.set_status(conn, decision_id, status)

            if approve:
                # Through the batch's tier states, which a decision of the same
                # model in this batch reads and writes too.
                gathered = self._batch_rows(session)
                stored = gathered.tier_state(conn, row.model)
                if stored is not None:
                    before = TierState.from_dict(stored)
                    after = before.after_approval()
                    if after.tier != before.tier:
                        change = self._tier_change(
                            row.model, before.tier, after.tier, cause=review_id, at=at
                        )
                        self._record_tier_change(conn, append, change)
                    gathered.set_tier_state(row.model, after.to_dict(), at, update=True)
            return {
                "id": review_id,
                "decision": decision_id,
                "outcome": outcome,
                "status": status,
                "comment": comment,
                "reviewer": reviewer.id,
                "time": at,
                "ledger_index": appended.index,
            }

        try:
            committed = self.ledger.submit(work)
        except sa.exc.IntegrityError as exc:
            # Two reviews by the same reviewer raced; the unique key kept one.
            raise Conflict(
                f"the reviewer {reviewer.id} has already reviewed decision "
                f"{decision_id}; a reviewer reviews a decision once"
            ) from exc
        body = committed.value
        log.info(
            "review %s of decision %s: %s", review_id, decision_id, body["outcome"]
        )
        receipt = self.ledger.receipt(body["ledger_index"], committed.checkpoint.size)
        return {**body, "receipt": receipt}

    # -- policies ----------------------------------------------------------------------

    def list_policies(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            version = policies.current_version(conn)
            files = policies.list_files(conn)
        return {
            "bundle_version": version[0] if version else None,
            "bundle_digest": version[1] if version else None,
            "policies": files,
        }

    def get_policy(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            return policies.get_file(conn, name)

    def publish_policy(self, name: str, text: str, author: TokenInfo) -> dict[str, Any]:
        def work(session: Session, append: Any) -> tuple[Bundle, list[dict[str, Any]]]:
            return policies.publish(session.connection(), append, name, text, author.id)

        committed = self.ledger.submit(work)
        bundle, published = committed.value
        item = published[0]
        log.info(
            "published policy %s (%s): bundle %s",
            item["name"],
            item["sha256"],
            bundle.digest,
        )
        receipt = self.ledger.receipt(item["ledger_index"], committed.checkpoint.size)
        return {
            "name": item["name"].removesuffix(policies.POLICY_SUFFIX),
            "file": item["name"],
            "sha256": item["sha256"],
            "bundle_digest": bundle.digest,
            "bundle_version": item["bundle_version"],
            "source": bundle.sources[item["name"]],
            "receipt": receipt,
        }

    def check_policies(self, sources: dict[str, str]) -> dict[str, Any]:
        """Lint files against the bundle in force, publishing nothing."""
        if not sources:
            raise BadRequest("expected at least one file in `sources`, found none")
        named = {policies.filename_for(name): text for name, text in sources.items()}
        with self.engine.connect() as conn:
            merged = {**policies.load_sources(conn), **named}
        diagnostics = check_sources(merged)
        return {
            "ok": not diagnostics,
            "diagnostics": [d.to_dict() for d in diagnostics],
        }

    # -- health ------------------------------------------------------------------------

    def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
                self.bundles.current(conn)
            checks["database"] = "ok"
            checks["bundle"] = "ok"
        except Unavailable as exc:
            checks["database"] = "ok"
            checks["bundle"] = str(exc)
        except Exception as exc:  # any failure to reach the database means not ready
            checks["database"] = f"unreachable: {type(exc).__name__}"
            checks["bundle"] = "unknown"
        try:
            checks["key"] = "ok" if self.ledger.verifier_key else "missing"
        except Exception as exc:
            checks["key"] = f"unusable: {type(exc).__name__}"
        return checks

    def leaf_hash(self, index: int) -> str:
        from govsvc.ledger.storage import read_entry

        with self.engine.connect() as conn:
            found = read_entry(conn, index)
        if found is None:
            raise NotFound(f"no ledger entry {index}")
        return base64.b64encode(found[1]).decode()

    def ledger_state(self) -> tuple[int, float | None]:
        """The ledger's size and the age in seconds of its latest checkpoint."""
        from datetime import datetime

        from govsvc.ledger.storage import checkpoints

        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(checkpoints.c.size, checkpoints.c.signed_at)
                .order_by(checkpoints.c.size.desc())
                .limit(1)
            ).first()
        if row is None:
            return 0, None
        signed = datetime.fromisoformat(str(row.signed_at).replace("Z", "+00:00"))
        return int(row.size), max(time.time() - signed.timestamp(), 0.0)


@dataclass(frozen=True)
class _Concluded:
    """A decision concluded from one tier state, less its place in the ledger."""

    previous: dict[str, Any] | None  # the model's stored tier state it started from
    created: str
    entry: EncodedEntry
    tier_change: EncodedEntry | None  # when the decision changed the model's tier
    body: dict[str, Any]  # the answer but its ledger index and receipt
    state: dict[str, Any]  # the model's tier state after it


class _BatchRows:
    """What a ledger batch's decisions and reviews read and write, gathered
    (`govsvc.ledger.log.batch_rows`):

    - the tier states of the batch's models: those of its decisions read and locked
      with one query before its first item (`_Pending.read_ahead`), any other on
      first use; every item reads a model's state as the item before it left it,
      and the changed states are written with one statement when the batch ends;
    - the decision rows, likewise written together.
    """

    def __init__(self, seen: dict[str, dict[str, Any]]) -> None:
        self.decisions: list[dict[str, Any]] = []
        self.states: dict[str, dict[str, Any] | None] = {}
        self.updates: dict[str, dict[str, Any]] = {}
        self.seen = seen  # the process's `Service.states_seen`

    def read_ahead(self, conn: sa.Connection, models: list[str]) -> None:
        found = rows.lock_tier_states(conn, models)
        for model in models:
            self.states.setdefault(model, found.get(model))
        self.seen.update(found)

    def tier_state(self, conn: sa.Connection, model: str) -> dict[str, Any] | None:
        if model in self.states:
            return self.states[model]
        # Kept only once an item sets it: a failed item's savepoint rollback may
        # have let go of the row lock this read took.
        return rows.lock_tier_state(conn, model)

    def set_tier_state(
        self, model: str, state: dict[str, Any], at: str, *, update: bool
    ) -> None:
        """An item's new state for `model`; `update` when it is stored already (a
        new model's first state is inserted by the item itself)."""
        self.states[model] = state
        if len(self.seen) >= MAX_STATES_SEEN:
            self.seen.clear()  # crude, but bounded; it refills batch by batch
        self.seen[model] = state
        if update:
            self.updates[model] = {"b_model": model, "b_state": state, "b_at": at}

    def write(self, conn: sa.Connection) -> None:
        rows.insert_decisions(conn, self.decisions)
        rows.update_tier_states(conn, list(self.updates.values()))


class _Pending:
    """A decision on its way to the ledger: what the request asked, its facts, and
    after the commit its entry. Called by the ledger's writer as a work item, in
    the request's process or in the writer process `govsvc serve` runs for several
    workers on SQLite (`message` and `from_message` carry it there)."""

    def __init__(
        self,
        service: Service,
        *,
        pending_id: str,
        raw: bytes,
        digest: str,
        request: EvaluationRequest | None,
        model: dict[str, Any],
        stage: str,
        token: TokenInfo,
        idempotency_key: str | None,
    ) -> None:
        self.service = service
        self.id = pending_id
        self.raw = raw
        self.digest = digest
        self.request = request  # parsed from `raw` if it must be assessed again
        self.model = model  # the request's `model`, as JSON
        self.stage = stage
        self.token = token
        self.idempotency_key = idempotency_key
        self.bundle: Bundle | None = None
        self.facts: dict[str, Any] = {}
        # The facts' JSON, None in the writer process (the worker that assessed
        # them has it), and packed for their row.
        self.facts_json: str | None = None
        self.facts_packed = b""
        self.concluded: _Concluded | None = None
        self.entry: Mapping[str, Any] = {}
        self.leaf_hash = b""

    @classmethod
    def assessed(
        cls,
        service: Service,
        request: EvaluationRequest,
        raw: bytes,
        token: TokenInfo,
        idempotency_key: str | None,
        bundle: Bundle,
    ) -> _Pending:
        pending = cls(
            service,
            pending_id=new_id(),
            raw=raw,
            digest=request_digest(raw),
            request=request,
            model=request.model.model_dump(mode="json", exclude_none=True),
            stage=request.stage,
            token=token,
            idempotency_key=idempotency_key,
        )
        pending.reassess(bundle)
        return pending

    def reassess(self, bundle: Bundle) -> None:
        if self.request is None:
            self.request = parse_request_json(self.raw)
        self.bundle = bundle
        self.facts = assess_request(self.request, bundle)
        # Encoded once, here: the stored row and the answer both use this text.
        self.facts_json = dumps(self.facts)
        self.facts_packed = pack(self.facts_json)
        self.concluded = None

    def facts_answered(self, risk: dict[str, Any]) -> str | None:
        """The facts' JSON as answered, with the decision's `risk`; None in the
        writer process for facts a worker sent (packed: the worker has the JSON)."""
        if self.facts_json is None:
            return None
        return rows.facts_with_risk(self.facts_json, risk)

    def message(self) -> tuple[Any, ...]:
        """What the writer process needs to record this decision: `from_message`."""
        assert self.bundle is not None, "assess a decision before sending it"
        return (
            self.id,
            self.raw,
            self.digest,
            self.model,
            self.stage,
            self.token,
            self.idempotency_key,
            self.bundle.digest,
            self.facts,
            self.facts_packed,
        )

    @classmethod
    def from_message(cls, service: Service, message: tuple[Any, ...]) -> _Pending:
        (pending_id, raw, digest, model, stage, token, key, bundle_digest) = message[:8]
        pending = cls(
            service,
            pending_id=pending_id,
            raw=raw,
            digest=digest,
            request=None,
            model=model,
            stage=stage,
            token=token,
            idempotency_key=key,
        )
        loaded = service.bundles.loaded
        if loaded is not None and loaded.digest == bundle_digest:
            pending.bundle = loaded
            pending.facts, pending.facts_packed = message[8], message[9]
        # Otherwise it has no bundle yet, and `_record` assesses it again under
        # the one in force.
        return pending

    def __call__(self, session: Session, append: Any) -> dict[str, Any]:
        return self.service._record(session, append, self)

    @staticmethod
    def prepare(works: list[_Pending]) -> None:
        """Before the batch's transaction and the write lock: conclude each decision
        from its model's tier state as this process last saw it (`states_seen`;
        one unlocked read for the models it has not seen), or as the batch's
        previous decision on the model will leave it. `_record` checks that guess
        under the lock."""
        service = works[0].service
        seen = service.states_seen
        guesses: dict[str, dict[str, Any] | None] = {}
        unseen = []
        for model in {work.model["name"] for work in works}:
            if model in seen:
                guesses[model] = seen[model]
            else:
                unseen.append(model)
        if unseen:
            with service.engine.connect() as conn:
                guesses.update(rows.read_tier_states(conn, unseen))
        for work in works:
            model = work.model["name"]
            if work.bundle is None:
                continue  # assessed again under the lock, then concluded
            try:
                work.concluded = service._conclude(work, guesses.get(model))
            except Exception:  # raised again, to its caller, when `_record` concludes
                continue
            guesses[model] = work.concluded.state

    @staticmethod
    def read_ahead(session: Session, works: list[_Pending]) -> None:
        """Before a batch's first decision: lock and read its models' tier states."""
        gathered = works[0].service._batch_rows(session)
        models = sorted({work.model["name"] for work in works})
        gathered.read_ahead(session.connection(), models)


def _per_batch(session: Session, key: Hashable, read: Callable[[], T]) -> T:
    """`read()` once per ledger batch and `key`, remembered in the batch's session,
    which outlives its work items. A revocation or publication that commits while
    a batch runs is concurrent with its decisions; it holds from the next batch on."""
    memo: dict[Hashable, Any] = session.info.setdefault("govsvc.service.memo", {})
    if key not in memo:
        memo[key] = read()
    found: T = memo[key]
    return found


def _without_none(entry: dict[str, Any]) -> dict[str, Any]:
    # Ledger entries leave absent values out rather than record nulls.
    out = {}
    for key, value in entry.items():
        if value is None:
            continue
        out[key] = _without_none(value) if isinstance(value, dict) else value
    return out
