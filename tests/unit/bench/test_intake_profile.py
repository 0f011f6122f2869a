"""The intake bench's profile by library: each profiled function is charged to the library it
belongs to, so the table says where a payout's CPU goes (botocore, the HTTP stack, this code)."""

from __future__ import annotations

import cProfile
import json
import pstats

import pytest

from bench.bench_intake import library_of, library_table, own_time_by_library


@pytest.mark.parametrize(
    ("filename", "library"),
    [
        ("/w/.venv/lib/python3.13/site-packages/botocore/endpoint.py", "botocore"),
        ("/w/.venv/lib/python3.13/site-packages/h11/_connection.py", "h11"),
        ("/w/.venv/lib/python3.13/site-packages/typing_extensions.py", "typing_extensions"),
        ("/opt/python/3.13.0/lib/python3.13/email/feedparser.py", "email"),
        ("/opt/python/3.13.0/lib/python3.13/threading.py", "threading"),
        ("<frozen _collections_abc>", "_collections_abc"),
        ("<frozen importlib._bootstrap>", "importlib"),
        ("~", "builtins"),
        ("/work/main/layers/payouts/payouts/services/intake.py", "payouts"),
        ("/work/main/functions/intake/app.py", "payouts"),
    ],
)
def test_a_profiled_file_is_charged_to_its_library(filename: str, library: str) -> None:
    assert library_of(filename) == library


def _work() -> str:
    return json.dumps({"payout_id": "PO-1", "amount": 100}).lower()


def test_every_call_and_all_own_time_of_a_profile_is_charged_once() -> None:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(50):
        _work()
    profile.disable()
    stats = pstats.Stats(profile)

    shares = own_time_by_library(stats)

    assert sum(share.calls for share in shares.values()) == stats.total_calls  # type: ignore[attr-defined]
    assert shares["json"].calls >= 50
    # _work and the str.lower it calls (C code) are both charged to this repository's code
    assert shares["payouts"].calls >= 100
    # only the profiler's own disable() has no profiled caller
    assert shares["builtins"].calls == 1
    table = library_table(shares, payouts=50)
    assert table.splitlines()[0] == "own CPU time by library (profiled pass)"
    assert any(line.startswith("json ") for line in table.splitlines())
