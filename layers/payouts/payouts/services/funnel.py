"""The payout funnel by provider: how many orders reached each status, per provider.

The services' Powertools metrics carry only the ``service`` dimension (one flush, one dimension
set), so they cannot say which provider an outcome belongs to. The one place that sees every
status change of every order, once it is durable, is the orders table's stream, read by the
status-events function: it counts the status changes it published, by provider and new status
(``StatusChanged``, dimensions ``provider``, ``status``, ``service``). A batch that is retried
counts again, as its events are put again: at least once, like the events themselves.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aws_lambda_powertools.metrics import single_metric

from payouts.observability import MetricUnit, metrics
from payouts.services.status_events import PayoutStatusChanged, stream_events

METRIC_STATUS_CHANGED: Final = "StatusChanged"
# The provider dimension of an order refused before it was routed (an invalid request).
NOT_ROUTED: Final = "none"

type FunnelCounts = dict[tuple[str, str], int]
"""(provider, new status) -> how many orders moved there."""


def status_changes_by_provider(
    records: Sequence[Mapping[str, Any]], failures: Mapping[str, str]
) -> FunnelCounts:
    """The status changes in ``records`` whose events were published (``failures`` are the
    sequence numbers that were not, as ``publish_status_events`` returns them)."""
    counts: Counter[tuple[str, str]] = Counter()
    for record in records:
        sequence_number = str(record.get("dynamodb", {}).get("SequenceNumber", ""))
        if sequence_number in failures:
            continue
        for detail in stream_events(record):
            if isinstance(detail, PayoutStatusChanged):
                counts[(detail.provider or NOT_ROUTED, detail.new_status.value)] += 1
    return dict(counts)


def emit_status_changes(counts: FunnelCounts) -> None:
    """One ``StatusChanged`` datapoint per (provider, status), written at once: its dimensions
    differ from the function's other metrics, which share one dimension set per flush."""
    for (provider, status), count in sorted(counts.items()):
        with single_metric(
            name=METRIC_STATUS_CHANGED,
            unit=MetricUnit.Count,
            value=count,
            namespace=metrics.namespace,
        ) as metric:
            metric.add_dimension(name="provider", value=provider)
            metric.add_dimension(name="status", value=status)
