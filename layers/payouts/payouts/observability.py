"""One logger, one metrics emitter, one tracer for the whole package (Powertools).

Log with keyword fields (``logger.info("order submitted", payout_id=...)``), never f-strings of
payloads. Beneficiary details, keys and signatures are never logged; use ``redaction.mask``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

# Powertools reads POWERTOOLS_SERVICE_NAME and POWERTOOLS_METRICS_NAMESPACE from the environment
# (set in the template's Globals). These objects are cheap to build and hold no connections.
logger = Logger()
metrics = Metrics()
tracer = Tracer()

__all__ = ["MetricUnit", "logger", "metrics", "tracer"]
