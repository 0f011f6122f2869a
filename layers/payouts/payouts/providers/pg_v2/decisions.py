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

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from payouts.providers.base import CreateKind
from payouts.providers.decisions import (
    CLIENT_ERROR,
    SERVER_ERROR,
    SUCCESS,
    Code,
    Observation,
    Rule,
    StatusMeaning,
    StatusVerdict,
    read_status,
)
from payouts.providers.pg_v2.options import DEFAULT_AMBIGUOUS_CLIENT_STATUSES, PgV2Options
from payouts.providers.transport import NOT_SENT_TRANSPORTS, BodyShape, Transport

OK: Final = "OK"
DUPLICATE_TRADE_NO: Final = "Payout.Duplicate_TradeNo"

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


def build_create_rules(ambiguous_client_statuses: frozenset[int]) -> tuple[PgV2Rule[C], ...]:
    """The create table; which 4xx statuses are ambiguous rather than the documented refusal is
    an option (an assumption, ``PgV2Options.ambiguous_client_statuses``)."""
    return (
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
            f"HTTP {_listed(ambiguous_client_statuses)}: throttled, conflicting or timed out, "
            "not the documented refusal (assumed)",
            statuses=ambiguous_client_statuses,
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


def _listed(statuses: frozenset[int]) -> str:
    return "/".join(str(status) for status in sorted(statuses)) or "(none)"


CREATE_RULES: Final = build_create_rules(DEFAULT_AMBIGUOUS_CLIENT_STATUSES)
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


STATUS_DEFAULT_WHY: Final = (
    "a status outside our table: unknown, keep polling (never guess failure; an errorCode "
    "beside it is evidence, not a verdict)"
)

QUERY_RULES: Final = build_query_rules(PgV2Options().not_found_codes)


def decide_status(table: Mapping[str, StatusMeaning], status: str) -> StatusVerdict:
    """The row of ``table`` (``PgV2Options.status_words``) for the whole, upper-cased ``status``;
    UNKNOWN for any other word, including one that merely contains FAIL or CANCEL."""
    return read_status(table, status.strip().upper(), unknown_why=STATUS_DEFAULT_WHY)
