"""Request bodies the API takes besides the evaluation request (`govsvc.assess`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewIn(_Strict):
    """A reviewer's verdict on a decision that needs a human."""

    outcome: Literal["approve", "reject"]
    comment: str = Field(min_length=1, max_length=10_000)


class PolicyIn(_Strict):
    """A policy file's text, for `PUT /v1/policies/{name}` as JSON (`text/plain`
    bodies are taken as the text itself)."""

    source: str = Field(max_length=1_000_000)


class PolicyCheckIn(_Strict):
    """Files to lint, by name, against the rest of the bundle in force."""

    sources: dict[str, str] = Field(min_length=1)


class TokenIn(_Strict):
    roles: list[Literal["ci", "reviewer", "author", "auditor", "admin"]] = Field(
        min_length=1
    )
    name: str = Field(default="", max_length=200)
