"""pg_v2 decision tables, as data: create answers, query answers and order statuses.

The create table follows the seed's merchant guidance table ("商户处理建议"): ``OK`` with
``data.payoutNo`` is accepted; ``Payout.Duplicate_TradeNo`` means the order already exists; any
other code with an ``errorMessage`` on HTTP 200 is a failed creation; HTTP 4xx is a permission or
signature problem (not created); HTTP 5xx and timeouts are unknown (query). Everything outside
those documented cases is AMBIGUOUS, never REJECTED.

pg_v2 answers need a few facts the shared ``Observation`` does not carry (whether the answer's
signature verified, whether ``data.payoutNo``, ``data.status`` and ``errorMessage`` are present,
whether the answer names another order), so rows here are ``PgV2Rule`` (a ``Rule`` with those
matchers) and are evaluated by the shared ``decide``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from payouts.providers.base import CreateKind, QueryKind
from payouts.providers.decisions import (
    CLIENT_ERROR,
    SERVER_ERROR,
    SUCCESS,
    Code,
    Decision,
    Observation,
    Rule,
)
from payouts.providers.pg_v2.options import PgV2Options
from payouts.providers.transport import NOT_SENT_TRANSPORTS, BodyShape, Transport

OK: Final = "OK"
DUPLICATE_TRADE_NO: Final = "Payout.Duplicate_TradeNo"

# Ours, not the provider's: a throttled, conflicting or timed-out request is not the documented
# "permission or signature problem", so it may have created the order (or may still).
AMBIGUOUS_CLIENT_STATUSES: Final = frozenset({408, 409, 425, 429})

_SENT_MAYBE: Final = frozenset({Transport.READ_TIMEOUT, Transport.WRITE_ERROR, Transport.RESET})
_NO_ANSWER: Final = frozenset(Transport) - {Transport.OK}
_UNREADABLE: Final = frozenset(BodyShape) - {BodyShape.JSON_OBJECT}


class AnswerSignature(StrEnum):
    """What the check of an answer's ``Authorization`` header found, under the options' policy."""

    VERIFIED = "verified"  # present and correct
    UNCHECKED = "unchecked"  # absent while allowed, policy "ignore", or no answer at all
    MISSING = "missing"  # absent while the policy requires one
    INVALID = "invalid"  # present but malformed, for another appId, or wrong


UNBELIEVABLE: Final = frozenset({AnswerSignature.MISSING, AnswerSignature.INVALID})


class QueryAnswer(StrEnum):
    """What a query answer lets us read, before the order's status is mapped."""

    STATUS = "STATUS"  # the answer carries the order: map ``data.status``
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True)
class PgV2Observation(Observation):
    """An ``Observation`` plus the pg_v2 answer facts its tables match on."""

    signature: AnswerSignature = AnswerSignature.UNCHECKED
    has_payout_no: bool = False  # data.payoutNo is a non-empty string
    has_error_message: bool = False  # errorMessage is a non-empty string
    has_status: bool = False  # data.status is a non-empty string
    names_other_order: bool = False  # data.merchantTradeNo is present and is not ours


@dataclass(frozen=True)
class PgV2Rule[K: StrEnum](Rule[K]):
    """A ``Rule`` with pg_v2 matchers; ``None`` means "whatever it is"."""

    signatures: frozenset[AnswerSignature] | None = None
    payout_no: bool | None = None
    error_message: bool | None = None
    status: bool | None = None
    other_order: bool | None = None

    def matches(self, seen: Observation) -> bool:
        """True when the shared matchers and every given pg_v2 matcher apply to ``seen``."""
        if not super().matches(seen):
            return False
        facts = seen if isinstance(seen, PgV2Observation) else PgV2Observation(seen.transport)
        return (
            (self.signatures is None or facts.signature in self.signatures)
            and _flag(self.payout_no, facts.has_payout_no)
            and _flag(self.error_message, facts.has_error_message)
            and _flag(self.status, facts.has_status)
            and _flag(self.other_order, facts.names_other_order)
        )


def _flag(wanted: bool | None, actual: bool) -> bool:
    return wanted is None or wanted is actual


C = CreateKind

CREATE_RULES: Final[tuple[PgV2Rule[CreateKind], ...]] = (
    PgV2Rule(
        C.NOT_SENT,
        "could not connect: the request provably never left",
        transports=NOT_SENT_TRANSPORTS,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "no answer after sending (read timeout, write error, reset): query (documented)",
        transports=_SENT_MAYBE,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "HTTP 5xx: server busy, the order may exist: query (documented)",
        statuses=SERVER_ERROR,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "HTTP 408/409/425/429: throttled or timed out, not a documented refusal",
        statuses=AMBIGUOUS_CLIENT_STATUSES,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "the answer's signature is missing or wrong: it cannot be believed",
        signatures=UNBELIEVABLE,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "the answer names another merchant order number",
        other_order=True,
    ),
    PgV2Rule(
        C.DUPLICATE,
        "Payout.Duplicate_TradeNo: an order with this number already exists (documented)",
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({DUPLICATE_TRADE_NO}),
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "HTTP 4xx carrying code OK contradicts itself",
        statuses=CLIENT_ERROR,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({OK}),
    ),
    PgV2Rule(
        C.REJECTED,
        "HTTP 4xx: permission or signature problem, the order was not created (documented)",
        statuses=CLIENT_ERROR,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "the answer is blank, HTML, malformed or not a JSON object",
        shapes=_UNREADABLE,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "the answer carries no code",
        codes=frozenset({Code.ABSENT}),
    ),
    PgV2Rule(
        C.ACCEPTED,
        "code OK with data.payoutNo: the order exists (documented)",
        statuses=SUCCESS,
        codes=frozenset({OK}),
        payout_no=True,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "code OK without data.payoutNo (or not on HTTP 2xx): outside the documented case",
        codes=frozenset({OK}),
    ),
    PgV2Rule(
        C.REJECTED,
        "HTTP 200 with a non-OK code and an errorMessage: creation failed (documented)",
        statuses=frozenset({200}),
        error_message=True,
    ),
    PgV2Rule(
        C.AMBIGUOUS,
        "HTTP 200 with a non-OK code but no errorMessage: outside the documented case",
        statuses=frozenset({200}),
        error_message=False,
    ),
)
CREATE_DEFAULT: Final = C.AMBIGUOUS
CREATE_DEFAULT_WHY: Final = "no rule matched (unexpected HTTP status or code): query"


def build_query_rules(not_found_codes: frozenset[str]) -> tuple[PgV2Rule[QueryAnswer], ...]:
    """The query-answer table; which codes mean "not found" is an option (an assumption)."""
    q = QueryAnswer
    return (
        PgV2Rule(q.UNKNOWN, "no answer was read (transport failure)", transports=_NO_ANSWER),
        PgV2Rule(q.UNKNOWN, "HTTP 5xx: server busy", statuses=SERVER_ERROR),
        PgV2Rule(
            q.UNKNOWN,
            "the answer's signature is missing or wrong: it cannot be believed",
            signatures=UNBELIEVABLE,
        ),
        PgV2Rule(
            q.UNKNOWN,
            "the answer is blank, HTML, malformed or not a JSON object",
            shapes=_UNREADABLE,
        ),
        PgV2Rule(q.UNKNOWN, "the answer names another merchant order number", other_order=True),
        PgV2Rule(
            q.NOT_FOUND,
            "a not-found code (assumed, configurable): no order with this number",
            statuses=SUCCESS,
            codes=not_found_codes,
        ),
        PgV2Rule(
            q.STATUS,
            "code OK with data.status: map the status",
            statuses=SUCCESS,
            codes=frozenset({OK}),
            status=True,
        ),
        PgV2Rule(q.UNKNOWN, "code OK without data.status", codes=frozenset({OK})),
    )


QUERY_DEFAULT: Final = QueryAnswer.UNKNOWN
QUERY_DEFAULT_WHY: Final = "an answer outside our table (HTTP status or code): keep polling"


@dataclass(frozen=True)
class StatusRule:
    """One row of the status table: an exact status, a word inside it, or an errorCode."""

    then: QueryKind
    why: str
    statuses: frozenset[str] = frozenset()  # exact, upper-case
    markers: tuple[str, ...] = ()  # any of these words inside the status
    with_error_code: bool = False  # any status, when errorCode is non-empty

    def matches(self, status: str, error_code: str | None) -> bool:
        """True when this row applies to ``status`` (upper-cased) and ``error_code``."""
        if status in self.statuses:
            return True
        if any(marker in status for marker in self.markers):
            return True
        return self.with_error_code and bool(error_code)


def build_status_rules(options: PgV2Options) -> tuple[StatusRule, ...]:
    """The status table from the options' vocabulary (the provider's table is not public)."""
    rules = [
        StatusRule(QueryKind.SUCCEEDED, "a paid status (seen)", statuses=options.paid_statuses),
        StatusRule(
            QueryKind.REVERSED,
            "a reversed/refunded status (assumed)",
            statuses=options.reversed_statuses,
        ),
        StatusRule(
            QueryKind.FAILED,
            "a status naming a failure, rejection or cancellation (assumed)",
            markers=options.failed_status_markers,
        ),
    ]
    if options.error_code_means_failed:
        rules.append(
            StatusRule(
                QueryKind.FAILED,
                "an errorCode on a status that is not paid (assumed)",
                with_error_code=True,
            )
        )
    return tuple(rules)


STATUS_DEFAULT: Final = QueryKind.PENDING
STATUS_DEFAULT_WHY: Final = (
    "a status outside our table: pending, keep polling (never guess failure)"
)

QUERY_RULES: Final = build_query_rules(PgV2Options().not_found_codes)
STATUS_RULES: Final = build_status_rules(PgV2Options())


def decide_status(
    table: Sequence[StatusRule], status: str, error_code: str | None
) -> Decision[QueryKind]:
    """The first matching status row's kind, or PENDING: an unknown status is never a failure."""
    normalised = status.strip().upper()
    for index, rule in enumerate(table):
        if rule.matches(normalised, error_code):
            return Decision(rule.then, rule.why, index)
    return Decision(STATUS_DEFAULT, STATUS_DEFAULT_WHY, None)
