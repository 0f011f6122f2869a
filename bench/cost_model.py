"""The cost model: what one payout uses of each AWS service, priced from ``bench/prices.json``.

Pure arithmetic (no AWS, no clock), so every rule here has a unit test: billed Lambda duration
(1 ms steps), 64 KB chunks (SQS, EventBridge), traces at a sampling rate, and the sum of the
components being the total.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

PRICES_PATH: Final = Path(__file__).resolve().parent / "prices.json"
CHUNK_BYTES: Final = 64 * 1024
MILLION: Final = 1_000_000
COMPONENTS: Final = (
    "dynamodb",
    "lambda",
    "sqs",
    "step_functions",
    "api_gateway",
    "eventbridge",
    "cloudwatch_logs",
    "xray",
)


class PriceError(ValueError):
    """The price file is missing a price or holds a value that is not one."""


@dataclass(frozen=True)
class Price:
    """``usd`` for every ``per`` units of ``unit``; where it was read, and whether confirmed."""

    usd: float
    per: float
    unit: str
    source: str
    verified: bool

    def of(self, quantity: float) -> float:
        """Dollars for ``quantity`` units."""
        return quantity * self.usd / self.per


@dataclass(frozen=True)
class Prices:
    """The price list: region, the date it was read, and one price per name."""

    region: str
    read_on: str
    items: Mapping[str, Price]

    def __getitem__(self, name: str) -> Price:
        try:
            return self.items[name]
        except KeyError:
            raise PriceError(f"no price named {name!r} in the price file") from None


REQUIRED_PRICES: Final = (
    "dynamodb_write_request_unit",
    "dynamodb_read_request_unit",
    "lambda_request",
    "lambda_gb_second_arm64",
    "sqs_standard_request",
    "sfn_standard_state_transition",
    "api_gateway_rest_request",
    "eventbridge_custom_event",
    "cloudwatch_logs_ingested_gb",
    "xray_trace_recorded",
)


def load_prices(path: Path = PRICES_PATH) -> Prices:
    """The price file, checked: every required price present, positive, with its source."""
    document = json.loads(path.read_text())
    items: dict[str, Price] = {}
    for name, entry in document["prices"].items():
        usd, per = entry.get("usd"), entry.get("per")
        if not isinstance(usd, int | float) or not isinstance(per, int | float):
            raise PriceError(f"{name}: usd and per must be numbers")
        if usd < 0 or per <= 0:
            raise PriceError(f"{name}: usd must be >= 0 and per > 0")
        if not entry.get("source"):
            raise PriceError(f"{name}: a price needs the page it was read from")
        items[name] = Price(
            float(usd), float(per), str(entry["unit"]), str(entry["source"]), entry["verified"]
        )
    missing = [name for name in REQUIRED_PRICES if name not in items]
    if missing:
        raise PriceError(f"the price file lacks {', '.join(missing)}")
    return Prices(str(document["region"]), str(document["read_on"]), items)


# ---- billing rules -------------------------------------------------------------------------------


def chunks(size_bytes: int, chunk: int = CHUNK_BYTES) -> int:
    """Billed requests for one payload: one per started 64 KB chunk (SQS, EventBridge)."""
    return max(1, math.ceil(size_bytes / chunk))


def billed_ms(duration_ms: float) -> int:
    """Lambda bills each invocation's duration rounded up to the next millisecond."""
    return max(1, math.ceil(duration_ms))


def gb_seconds(memory_mb: int, duration_ms: float, invocations: float) -> float:
    """GB-seconds of ``invocations`` invocations lasting ``duration_ms`` at ``memory_mb``."""
    return memory_mb / 1024 * billed_ms(duration_ms) / 1000 * invocations


def traces_recorded(entry_requests: float, sampling_rate: float) -> float:
    """Traces recorded for ``entry_requests`` requests that start a trace, at a sampling rate
    (X-Ray's default rule: 5% beyond a reservoir of 1 a second, which a steady load exceeds)."""
    if not 0 <= sampling_rate <= 1:
        raise ValueError(f"a sampling rate is between 0 and 1, not {sampling_rate}")
    return entry_requests * sampling_rate


# ---- one payout's usage, and its price -----------------------------------------------------------


@dataclass(frozen=True)
class Usage:
    """What one payout uses of each billed quantity (fractions: shares of batched calls)."""

    write_units: float = 0.0
    read_units: float = 0.0
    lambda_requests: float = 0.0
    lambda_gb_seconds: float = 0.0
    sqs_requests: float = 0.0
    sfn_transitions: float = 0.0
    api_requests: float = 0.0
    eventbridge_events: float = 0.0
    log_bytes: float = 0.0
    xray_traces: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(Usage)}
        )


def cost_per_million(usage: Usage, prices: Prices) -> dict[str, float]:
    """Dollars per million payouts by component, and ``total`` (their sum)."""
    per_payout = {
        "dynamodb": prices["dynamodb_write_request_unit"].of(usage.write_units)
        + prices["dynamodb_read_request_unit"].of(usage.read_units),
        "lambda": prices["lambda_request"].of(usage.lambda_requests)
        + prices["lambda_gb_second_arm64"].of(usage.lambda_gb_seconds),
        "sqs": prices["sqs_standard_request"].of(usage.sqs_requests),
        "step_functions": prices["sfn_standard_state_transition"].of(usage.sfn_transitions),
        "api_gateway": prices["api_gateway_rest_request"].of(usage.api_requests),
        "eventbridge": prices["eventbridge_custom_event"].of(usage.eventbridge_events),
        "cloudwatch_logs": prices["cloudwatch_logs_ingested_gb"].of(usage.log_bytes),
        "xray": prices["xray_trace_recorded"].of(usage.xray_traces),
    }
    costs = {component: value * MILLION for component, value in per_payout.items()}
    costs["total"] = sum(costs.values())
    return costs


def cost_table(columns: Mapping[str, Mapping[str, float]], prices: Prices) -> str:
    """The components as rows, one column per scenario, at most 80 characters wide."""
    names = list(columns)
    header = f"{'$ per million payouts':<24}" + "".join(f"{name:>18.18}" for name in names)
    lines = [header, "-" * len(header)]
    for component in (*COMPONENTS, "total"):
        if component == "total":
            lines.append("-" * len(header))
        cells = "".join(f"{columns[name][component]:>18.2f}" for name in names)
        lines.append(f"{component:<24}{cells}")
    unverified = sorted(name for name, price in prices.items.items() if not price.verified)
    lines.append(f"prices: {prices.region}, read {prices.read_on}, bench/prices.json")
    if unverified:
        text = "not verified (one third-party page): " + ", ".join(unverified)
        lines.extend(textwrap.wrap(text, width=80, subsequent_indent="  "))
    return "\n".join(lines)
