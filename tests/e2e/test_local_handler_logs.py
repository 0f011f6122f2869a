"""The local stack's handler output goes to its log file, never to the terminal or the CLI's
stdout: Powertools' EMF lines included, those of a ``single_metric`` too (the balance check and
the status funnel publish datapoints with dimensions of their own that way)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from payouts_tools.local.handler_logs import HandlerLogs

pytestmark = pytest.mark.e2e


def test_a_single_metric_goes_to_the_log_file_not_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = HandlerLogs(tmp_path / "handlers.log")
    logs.open()
    try:
        with single_metric(
            name="ProviderAvailableBalance", unit=MetricUnit.NoUnit, value=1.5, namespace="Payouts"
        ) as metric:
            metric.add_dimension(name="provider", value="pg_v2")
    finally:
        logs.close()

    assert "ProviderAvailableBalance" not in capsys.readouterr().out
    assert "ProviderAvailableBalance" in (tmp_path / "handlers.log").read_text(encoding="utf-8")
