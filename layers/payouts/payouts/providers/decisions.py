"""Decision tables as data: (transport, HTTP status, body shape, code) -> outcome.

Each provider keeps its own table beside its adapter as a tuple of ``Rule`` rows. The first row
that matches decides; when none does, the table's default applies, and for a create that default
is AMBIGUOUS, never REJECTED. Rows are data so that they can be read, reviewed and tested one by
one against the provider's documentation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from payouts.providers.base import QueryKind
from payouts.providers.transport import BodyShape, Transport


class Code(StrEnum):
    """Code matchers that are not a literal code."""

    ANY = "*any*"  # matches whatever the code is, including no code at all
    ABSENT = "*absent*"  # the answer carries no code


@dataclass(frozen=True)
class StatusRange:
    """An inclusive range of HTTP statuses."""

    low: int
    high: int

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and self.low <= status <= self.high


ANY_STATUS = StatusRange(0, 999)
SUCCESS = StatusRange(200, 299)
CLIENT_ERROR = StatusRange(400, 499)
SERVER_ERROR = StatusRange(500, 599)


@dataclass(frozen=True)
class Observation:
    """What an adapter saw, reduced to the inputs of its decision table."""

    transport: Transport
    http_status: int | None = None
    shape: BodyShape = BodyShape.NONE
    code: str | None = None


@dataclass(frozen=True)
class Rule[K: StrEnum]:
    """One row: when every given matcher matches, the outcome is ``then``, for ``why``."""

    then: K
    why: str
    transports: frozenset[Transport] = frozenset({Transport.OK})
    statuses: StatusRange | frozenset[int] = ANY_STATUS
    shapes: frozenset[BodyShape] | None = None  # None: any shape
    codes: frozenset[str] = frozenset({Code.ANY})

    def matches(self, seen: Observation) -> bool:
        """True when this row applies to ``seen``."""
        if seen.transport not in self.transports:
            return False
        if seen.transport is Transport.OK and seen.http_status not in self.statuses:
            return False
        if self.shapes is not None and seen.shape not in self.shapes:
            return False
        return self._code_matches(seen.code)

    def _code_matches(self, code: str | None) -> bool:
        if Code.ANY in self.codes:
            return True
        if code is None or code == "":
            return Code.ABSENT in self.codes
        return code in self.codes


@dataclass(frozen=True)
class Decision[K: StrEnum]:
    """A table's verdict and the row (or default) that produced it."""

    kind: K
    why: str
    row: int | None  # index of the matching row; None when the default applied


def decide[K: StrEnum](
    table: Sequence[Rule[K]], seen: Observation, *, default: K, default_why: str
) -> Decision[K]:
    """The first matching row's outcome, or ``default``."""
    for index, rule in enumerate(table):
        if rule.matches(seen):
            return Decision(rule.then, rule.why, index)
    return Decision(default, default_why, None)


type Source = Literal["documented", "seen", "assumed"]
"""Where a mapping comes from: the provider's own documents, third-party integration code only,
or our assumption. Only a documented failure is final at once (see ``StatusMeaning``)."""


class StatusMeaning(BaseModel):
    """One row of a provider's order-status table (kept in the adapter's options): what the
    provider's status value means, and how we know.

    A FAILED that is not ``documented`` is an assumption: settlement holds it, and the order
    becomes FAILED only when a query after the settle period says so again. A merchant who has
    the provider's exact table marks the row ``documented`` to make it final at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    means: Literal["PENDING", "SUCCEEDED", "FAILED", "REVERSED"]
    source: Source

    @property
    def kind(self) -> QueryKind:
        """The query outcome this status gives."""
        return QueryKind(self.means)

    @property
    def documented(self) -> bool:
        """True when the provider's own documents give this meaning."""
        return self.source == "documented"


@dataclass(frozen=True)
class StatusVerdict:
    """What one status value means by its table: the outcome, why, and whether documented."""

    kind: QueryKind
    why: str
    documented: bool


def read_status(
    table: Mapping[str, StatusMeaning], status: str | None, *, unknown_why: str
) -> StatusVerdict:
    """The table's row for ``status`` (matched whole, never by a word inside it), or UNKNOWN
    ("keep polling") for a status the table does not list: an unknown status is never a
    failure."""
    row = table.get(status) if status is not None else None
    if row is None:
        return StatusVerdict(QueryKind.UNKNOWN, unknown_why, documented=False)
    why = f"status {status} means {row.means} ({row.source})"
    return StatusVerdict(row.kind, why, documented=row.documented)
