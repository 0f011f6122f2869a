"""Making an answer whose signature we cannot verify loud.

An adapter that cannot verify a provider's answers treats every create as AMBIGUOUS and every
query as UNKNOWN: safe, but the provider silently stops settling. Each such answer is counted
(``ProviderAnswerSignatureInvalid``, alarmed in template.yaml) and logged on one line naming the
settings to check, so an operator finds the cause (a rotated secret, a signing assumption that
does not hold) before the deadline escalations pile up.
"""

from __future__ import annotations

from typing import Final

from payouts.observability import MetricUnit, logger, metrics

METRIC_ANSWER_SIGNATURE_INVALID: Final = "ProviderAnswerSignatureInvalid"


def report_unverified_answer(provider: str, *, why: str, settings: str) -> None:
    """Count one answer from ``provider`` whose signature did not verify, and log ``settings``
    (what to check) with ``why``. Never logs the signature, the body or a key."""
    metrics.add_metric(name=METRIC_ANSWER_SIGNATURE_INVALID, unit=MetricUnit.Count, value=1)
    logger.warning(
        "provider answer signature not verified: the answer is not believed; check the settings",
        provider=provider,
        why=why,
        settings=settings,
    )
