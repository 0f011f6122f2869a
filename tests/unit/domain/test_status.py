"""The transition table, checked exhaustively against the design's list of allowed moves."""

from itertools import product

import pytest

from payouts.domain.status import (
    PERSON_ONLY,
    TERMINAL,
    TRANSITIONS,
    UNRESOLVED,
    OrderStatus,
    can_transition,
    is_terminal,
    provider_may_move,
)

S = OrderStatus

# Written out independently of the table in the code: every move the design allows.
ALLOWED = {
    (S.RECEIVED, S.SUBMITTING),
    (S.RECEIVED, S.REJECTED),
    (S.RECEIVED, S.SUCCEEDED),  # a person's close only
    (S.RECEIVED, S.FAILED),  # a person's close only
    (S.SUBMITTING, S.RECEIVED),
    (S.SUBMITTING, S.SUBMITTED),
    (S.SUBMITTING, S.REJECTED),
    (S.SUBMITTING, S.UNKNOWN),
    (S.SUBMITTING, S.SUCCEEDED),
    (S.SUBMITTING, S.FAILED),
    (S.SUBMITTING, S.REVERSED),
    (S.SUBMITTED, S.SUCCEEDED),
    (S.SUBMITTED, S.FAILED),
    (S.SUBMITTED, S.REVERSED),
    (S.UNKNOWN, S.SUBMITTING),
    (S.UNKNOWN, S.SUBMITTED),
    (S.UNKNOWN, S.SUCCEEDED),
    (S.UNKNOWN, S.FAILED),
    (S.UNKNOWN, S.REVERSED),
    (S.SUCCEEDED, S.REVERSED),
}

# The moves above that only a person's close makes: a RECEIVED order never left the system.
BY_A_PERSON_ONLY = {(S.RECEIVED, S.SUCCEEDED), (S.RECEIVED, S.FAILED)}


@pytest.mark.parametrize(("current", "target"), list(product(S, S)))
def test_every_pair_is_allowed_or_refused_as_designed(current: S, target: S) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize(("current", "target"), list(product(S, S)))
def test_every_pair_a_provider_answer_may_make_is_as_designed(current: S, target: S) -> None:
    expected = (current, target) in ALLOWED - BY_A_PERSON_ONLY
    assert provider_may_move(current, target) is expected


def test_the_person_only_moves_are_in_the_table() -> None:
    assert PERSON_ONLY == BY_A_PERSON_ONLY
    assert all(can_transition(current, target) for current, target in PERSON_ONLY)


def test_every_status_has_a_row() -> None:
    assert set(TRANSITIONS) == set(S)


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_terminal_orders_never_move_backwards(terminal: S) -> None:
    # The one modelled exception: a paid order may be reversed.
    allowed = {S.REVERSED} if terminal is S.SUCCEEDED else set()
    assert set(TRANSITIONS[terminal]) == allowed
    for earlier in (S.RECEIVED, S.SUBMITTING, S.SUBMITTED, S.UNKNOWN):
        assert not can_transition(terminal, earlier)


def test_nothing_but_a_provider_answer_or_a_person_reaches_failed() -> None:
    # RECEIVED has not been sent: a provider answer can never fail it, only a person's close.
    assert not provider_may_move(S.RECEIVED, S.FAILED)
    assert can_transition(S.RECEIVED, S.FAILED)
    assert {s for s in S if can_transition(s, S.FAILED)} == set(UNRESOLVED | {S.RECEIVED})
    # REJECTED means "no money moved": only reachable before or at the create's answer.
    assert {s for s in S if can_transition(s, S.REJECTED)} == {S.RECEIVED, S.SUBMITTING}


def test_unknown_is_never_settled_as_rejected() -> None:
    assert not can_transition(S.UNKNOWN, S.REJECTED)
    assert not can_transition(S.SUBMITTED, S.REJECTED)


def test_terminal_and_unresolved_sets() -> None:
    assert {s for s in S if is_terminal(s)} == {S.SUCCEEDED, S.FAILED, S.REJECTED, S.REVERSED}
    assert {S.SUBMITTING, S.SUBMITTED, S.UNKNOWN} == UNRESOLVED
    assert not (UNRESOLVED & TERMINAL)


def test_no_status_moves_to_itself() -> None:
    assert all(not can_transition(s, s) for s in S)
