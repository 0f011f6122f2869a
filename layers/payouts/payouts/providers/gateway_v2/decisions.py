"""gateway_v2 decision tables, as data: create answers, query answers and order statuses.

Read each table top to bottom: the first matching row decides. Every row cites why; the tests
walk every row. The provider's global error-code table is not public, so the only codes here are
the ones its docs name (``0000``, ``0004``, ``0006``, ``0050``); any other code on a create is
AMBIGUOUS (the default), never a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from payouts.providers.base import CreateKind
from payouts.providers.decisions import (
    SERVER_ERROR,
    SUCCESS,
    Code,
    Decision,
    Observation,
    Rule,
    StatusMeaning,
    StatusRange,
    StatusVerdict,
    decide,
    read_status,
)
from payouts.providers.transport import NOT_SENT_TRANSPORTS, BodyShape, Transport

ACCEPTED_CODE: Final = "0000"  # documented: the call was accepted (not that money moved)
SIGNATURE_FAILED_CODE: Final = "0004"  # documented: signature verification failed
INVALID_AUTHORIZATION_CODE: Final = "0006"  # documented: invalid Authorization
NOT_FOUND_CODE: Final = "0050"  # documented: order not found

# Not a provider code: what the adapter observes for "0000" whose answer lacks data.payout_id, so
# that this case is a row of its own instead of a special case hidden in code.
ACCEPTED_WITHOUT_ID: Final = "0000:without-data.payout_id"

# Transports after which the request may have reached the provider.
MAYBE_SENT_TRANSPORTS: Final = frozenset(
    {Transport.READ_TIMEOUT, Transport.WRITE_ERROR, Transport.RESET}
)
ALL_FAILED_TRANSPORTS: Final = NOT_SENT_TRANSPORTS | MAYBE_SENT_TRANSPORTS

# A definitive code in an HTTP answer that is not a server error (the docs don't say which HTTP
# status carries "0004"/"0006"; a 5xx is always ambiguous because an earlier row catches it).
ANSWERED: Final = StatusRange(200, 499)

UNREADABLE_SHAPES: Final = frozenset(
    {BodyShape.BLANK, BodyShape.HTML, BodyShape.MALFORMED, BodyShape.JSON_OTHER}
)

C = CreateKind

CREATE_RULES: Final[tuple[Rule[CreateKind], ...]] = (
    Rule(
        C.NOT_SENT,
        "the request provably never left (connect refused/timeout, no pooled connection)",
        transports=NOT_SENT_TRANSPORTS,
    ),
    Rule(
        C.AMBIGUOUS,
        "the request may have arrived (read timeout, write error or reset): query to confirm",
        transports=MAYBE_SENT_TRANSPORTS,
    ),
    Rule(
        C.AMBIGUOUS,
        "HTTP 5xx: the provider says the order may exist; query to confirm",
        statuses=SERVER_ERROR,
    ),
    Rule(
        C.AMBIGUOUS,
        "blank answer: the provider says the order may exist; query to confirm",
        shapes=frozenset({BodyShape.BLANK}),
    ),
    Rule(C.AMBIGUOUS, "HTML answer (a proxy, not the API)", shapes=frozenset({BodyShape.HTML})),
    Rule(C.AMBIGUOUS, "malformed JSON answer", shapes=frozenset({BodyShape.MALFORMED})),
    Rule(
        C.AMBIGUOUS, "JSON answer that is not an object", shapes=frozenset({BodyShape.JSON_OTHER})
    ),
    Rule(
        C.ACCEPTED,
        "0000 with data.payout_id: the call was accepted (not yet paid)",
        statuses=SUCCESS,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({ACCEPTED_CODE}),
    ),
    Rule(
        C.AMBIGUOUS,
        "0000 without data.payout_id: accepted or not, the provider's id is unknown",
        codes=frozenset({ACCEPTED_WITHOUT_ID}),
    ),
    Rule(
        C.AMBIGUOUS,
        "answer without error_code",
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({Code.ABSENT}),
    ),
    Rule(
        C.REJECTED,
        "0004 signature verification failed: refused before any order existed",
        statuses=ANSWERED,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({SIGNATURE_FAILED_CODE}),
    ),
    Rule(
        C.REJECTED,
        "0006 invalid Authorization: refused before any order existed",
        statuses=ANSWERED,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({INVALID_AUTHORIZATION_CODE}),
    ),
    # Deliberately no DUPLICATE row: no documented code says "this payout_cl_id already exists".
)
CREATE_DEFAULT: Final = C.AMBIGUOUS
CREATE_DEFAULT_WHY: Final = (
    "code not documented as a refusal: the order may exist; query to confirm"
)


class QueryStep(StrEnum):
    """What a query answer allows: read the order's status, or stop at NOT_FOUND/UNKNOWN."""

    READ_STATUS = "READ_STATUS"
    NOT_FOUND = "NOT_FOUND"
    UNKNOWN = "UNKNOWN"


Q = QueryStep

QUERY_RULES: Final[tuple[Rule[QueryStep], ...]] = (
    Rule(
        Q.UNKNOWN, "no answer (transport failure): keep polling", transports=ALL_FAILED_TRANSPORTS
    ),
    Rule(Q.UNKNOWN, "HTTP 5xx: keep polling", statuses=SERVER_ERROR),
    Rule(
        Q.UNKNOWN,
        "unreadable answer (blank, HTML, malformed): keep polling",
        shapes=UNREADABLE_SHAPES,
    ),
    Rule(
        Q.NOT_FOUND,
        "0050: the provider has no order with this payout_cl_id",
        statuses=ANSWERED,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({NOT_FOUND_CODE}),
    ),
    Rule(
        Q.READ_STATUS,
        "0000: the answer carries the order",
        statuses=SUCCESS,
        shapes=frozenset({BodyShape.JSON_OBJECT}),
        codes=frozenset({ACCEPTED_CODE}),
    ),
)
QUERY_DEFAULT: Final = Q.UNKNOWN
QUERY_DEFAULT_WHY: Final = "query answer code not understood: keep polling"

# The status table itself is an option (``GatewayV2Options.statuses``, documented and seen rows).
STATUS_DEFAULT_WHY: Final = "a status outside our table: unknown, keep polling"


def decide_create(seen: Observation) -> Decision[CreateKind]:
    """The create table's verdict for ``seen`` (AMBIGUOUS when no row matches)."""
    return decide(CREATE_RULES, seen, default=CREATE_DEFAULT, default_why=CREATE_DEFAULT_WHY)


def decide_query(seen: Observation) -> Decision[QueryStep]:
    """The query table's verdict for ``seen`` (UNKNOWN when no row matches)."""
    return decide(QUERY_RULES, seen, default=QUERY_DEFAULT, default_why=QUERY_DEFAULT_WHY)


def decide_status(table: Mapping[str, StatusMeaning], status: str | None) -> StatusVerdict:
    """The row of ``table`` for ``status`` (already rendered as text); UNKNOWN when not listed."""
    return read_status(table, status, unknown_why=STATUS_DEFAULT_WHY)
