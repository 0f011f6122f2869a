"""The cost model's arithmetic: billing steps, chunks, sampling, and components summing to the
total; the price file is complete and says where each price came from."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path

import pytest

from bench.cost_model import (
    COMPONENTS,
    REQUIRED_PRICES,
    Price,
    PriceError,
    Prices,
    Usage,
    billed_ms,
    chunks,
    cost_per_million,
    cost_table,
    gb_seconds,
    load_prices,
    traces_recorded,
)


def _prices(**overrides: float) -> Prices:
    """Round prices (1 dollar per million of everything) unless overridden, per unit."""
    items = {
        name: Price(overrides.get(name, 1.0), 1_000_000, "unit", "test", verified=True)
        for name in REQUIRED_PRICES
    }
    return Prices("us-east-1", "2026-12-01", items)


@pytest.mark.parametrize(
    ("size", "expected"), [(0, 1), (1, 1), (65_536, 1), (65_537, 2), (256 * 1024, 4)]
)
def test_one_request_per_started_64_kb_chunk(size: int, expected: int) -> None:
    assert chunks(size) == expected


@pytest.mark.parametrize(("ms", "expected"), [(0.2, 1), (1.0, 1), (12.01, 13), (100.0, 100)])
def test_lambda_bills_whole_milliseconds_rounded_up(ms: float, expected: int) -> None:
    assert billed_ms(ms) == expected


def test_gb_seconds_at_memory_size_and_share_of_invocations() -> None:
    # 512 MB for 100 ms, one invocation per ten payouts.
    assert gb_seconds(512, 99.5, 0.1) == pytest.approx(0.5 * 0.1 * 0.1)


def test_traces_at_a_sampling_rate_and_a_rate_out_of_range_is_refused() -> None:
    assert traces_recorded(1.2, 0.05) == pytest.approx(0.06)
    with pytest.raises(ValueError, match="between 0 and 1"):
        traces_recorded(1.0, 5.0)


def test_each_component_is_priced_from_its_own_quantity() -> None:
    prices = _prices(dynamodb_write_request_unit=0.625, dynamodb_read_request_unit=0.125)
    usage = Usage(write_units=12, read_units=2, api_requests=1)

    costs = cost_per_million(usage, prices)

    assert costs["dynamodb"] == pytest.approx(12 * 0.625 + 2 * 0.125)
    assert costs["api_gateway"] == pytest.approx(1.0)
    assert costs["lambda"] == 0


def test_the_components_sum_to_the_total() -> None:
    usage = Usage(**{f.name: 1.0 + number for number, f in enumerate(fields(Usage))})

    costs = cost_per_million(usage, _prices(lambda_gb_second_arm64=0.0000133334 * 1_000_000))

    assert set(costs) == {*COMPONENTS, "total"}
    assert costs["total"] == pytest.approx(sum(costs[name] for name in COMPONENTS))


def test_usages_add_field_by_field() -> None:
    total = Usage(write_units=20, sqs_requests=1.2) + Usage(write_units=7, sfn_transitions=0.1)

    assert total == Usage(write_units=27, sqs_requests=1.2, sfn_transitions=0.1)


def test_the_table_fits_80_columns_and_names_unverified_prices() -> None:
    prices = _prices()
    unverified = {**prices.items, "lambda_request": Price(0.2, 1e6, "x", "one page", False)}
    prices = Prices(prices.region, prices.read_on, unverified)
    costs = cost_per_million(Usage(write_units=21.5, lambda_requests=1.11), prices)

    table = cost_table({"callback path": costs, "+ pending check": costs}, prices)

    assert max(len(line) for line in table.splitlines()) <= 80
    assert "not verified" in table
    assert "lambda_request" in table


def test_the_price_file_has_every_price_with_region_date_and_source() -> None:
    prices = load_prices()

    assert prices.region == "us-east-1"
    assert prices.read_on == "2026-12-01"
    for name in REQUIRED_PRICES:
        assert prices[name].usd > 0
        assert prices[name].source


def _write(tmp_path: Path, prices: Mapping[str, object]) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"region": "us-east-1", "read_on": "2026-12-01", "prices": prices}))
    return path


def _entry(usd: object = 1.0, source: str = "a page") -> dict[str, object]:
    return {"usd": usd, "per": 1_000_000, "unit": "u", "source": source, "verified": True}


def test_a_price_file_missing_a_price_is_refused(tmp_path: Path) -> None:
    entries = {name: _entry() for name in REQUIRED_PRICES[1:]}

    with pytest.raises(PriceError, match=REQUIRED_PRICES[0]):
        load_prices(_write(tmp_path, entries))


@pytest.mark.parametrize(
    ("entry", "message"),
    [(_entry(usd=-1.0), "usd must be"), (_entry(usd="1"), "numbers"), (_entry(source=""), "page")],
)
def test_a_bad_price_is_refused(tmp_path: Path, entry: dict[str, object], message: str) -> None:
    entries = {name: _entry() for name in REQUIRED_PRICES} | {REQUIRED_PRICES[0]: entry}

    with pytest.raises(PriceError, match=message):
        load_prices(_write(tmp_path, entries))
