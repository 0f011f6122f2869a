"""Provider balances: read each configured provider's balance, and publish it as a metric.

The scheduled balance check (``functions/balance_check``) and ``payouts providers balance`` both
read through here. One provider that cannot answer never hides the others: its failure is a row
of its own (and the check's ``BalanceCheckErrors`` metric), and its balance metric goes missing,
which its low-balance alarm treats as breaching.

Each balance is one ``ProviderAvailableBalance`` datapoint, in major units (CNY 1234.56, not
123456 fen: the alarm thresholds are written by people), with the dimensions ``provider`` and
``currency`` (and Powertools' ``service``), the ones each low-balance alarm names.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from aws_lambda_powertools.metrics import single_metric

from payouts.domain.money import MoneyError, exponent_of
from payouts.observability import MetricUnit, logger, metrics
from payouts.providers.base import PayoutProvider, ProviderUnavailable

METRIC_AVAILABLE: Final = "ProviderAvailableBalance"
METRIC_ERRORS: Final = "BalanceCheckErrors"


@dataclass(frozen=True)
class ProviderBalance:
    """One currency's balance at one provider, in minor units."""

    provider: str
    currency: str
    available_minor: int
    frozen_minor: int

    @property
    def available_major(self) -> Decimal:
        """The available balance in major units, exactly (CNY 123456 -> 1234.56)."""
        return to_major(self.available_minor, self.currency)

    @property
    def frozen_major(self) -> Decimal:
        """The frozen balance in major units, exactly."""
        return to_major(self.frozen_minor, self.currency)


@dataclass(frozen=True)
class BalanceUnavailable:
    """A provider whose balance could not be read, and why."""

    provider: str
    error: str


type BalanceRow = ProviderBalance | BalanceUnavailable


def to_major(minor_units: int, currency: str) -> Decimal:
    """Integer minor units as an exact decimal of major units (a negative balance stays so)."""
    return Decimal(minor_units).scaleb(-exponent_of(currency))


async def read_balances(providers: Mapping[str, PayoutProvider]) -> list[BalanceRow]:
    """Every provider's balances, read concurrently, sorted by provider then currency."""
    names = sorted(providers)
    answers = await asyncio.gather(
        *(providers[name].balance() for name in names), return_exceptions=True
    )
    rows: list[BalanceRow] = []
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, ProviderUnavailable | MoneyError):
            rows.append(BalanceUnavailable(name, str(answer) or type(answer).__name__))
        elif isinstance(answer, BaseException):
            raise answer  # a bug, not a provider's bad day: let the function fail and alarm
        else:
            rows.extend(
                ProviderBalance(name, entry.currency, entry.available_minor, entry.frozen_minor)
                for entry in sorted(answer, key=lambda entry: entry.currency)
            )
    return rows


type EmitBalance = Callable[[ProviderBalance], None]


def emit_balance_metric(balance: ProviderBalance) -> None:
    """One ``ProviderAvailableBalance`` datapoint (EMF on stdout) with its own dimensions: a
    single metric, since every balance needs different dimension values."""
    with single_metric(
        name=METRIC_AVAILABLE,
        unit=MetricUnit.NoUnit,
        value=float(balance.available_major),
        namespace=metrics.namespace,
    ) as metric:
        metric.add_dimension(name="provider", value=balance.provider)
        metric.add_dimension(name="currency", value=balance.currency)


def publish_balances(rows: list[BalanceRow], emit: EmitBalance = emit_balance_metric) -> int:
    """Publish each balance as a metric; count the providers that could not answer (also as the
    ``BalanceCheckErrors`` metric). Returns how many balances were published."""
    published = 0
    for row in rows:
        if isinstance(row, BalanceUnavailable):
            logger.warning("provider balance unavailable", provider=row.provider, error=row.error)
            metrics.add_metric(name=METRIC_ERRORS, unit=MetricUnit.Count, value=1)
            continue
        emit(row)
        published += 1
        logger.info(
            "provider balance",
            provider=row.provider,
            currency=row.currency,
            available=str(row.available_major),
        )
    return published
