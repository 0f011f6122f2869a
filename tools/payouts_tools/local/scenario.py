"""The demo's scenario: which payouts it publishes, and the trouble the provider sandbox makes.

Everything is drawn from one seed, so ``payouts demo --seed 7`` publishes the same payouts with
the same fault mix every time (which calls a ratio fault hits still depends on timing).
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Final

from payouts_tools.sandbox import (
    CallbackOptions,
    Fault,
    FaultKind,
    Operation,
    OutcomeMix,
    SandboxConfig,
)

# The four routes the system pays (settings DEFAULT_ROUTES) and realistic amounts for each, in
# minor units: CNY 10-5,000, INR 100-50,000, BRL 10-2,000.
ROUTES: Final[dict[str, tuple[str, int, int]]] = {
    "ALIPAY": ("CNY", 1_000, 500_000),
    "UPI": ("INR", 10_000, 5_000_000),
    "BANK_ACCOUNT": ("INR", 10_000, 5_000_000),
    "PIX": ("BRL", 1_000, 200_000),
}


class ScenarioError(ValueError):
    """A demo option that cannot be used (one line, for the CLI)."""


@dataclass(frozen=True)
class FaultMix:
    """The trouble the sandbox makes, as ratios (0-1) of calls, callbacks or payouts."""

    # Creates and queries answered late, by ``slow_ms``.
    slow: float = 0.25
    slow_ms: int = 300
    # Create processed (the payout exists), then the answer never comes: the client times out.
    lost_answer: float = 0.03
    # Create processed, then a 500 / a blank 200 / a proxy's HTML 502.
    http_500: float = 0.03
    blank_200: float = 0.02
    html_502: float = 0.01
    # Create held past the client's timeout, nothing created (the query says "not found").
    timeout: float = 0.01
    # Queries answered with a 500 (the reconcile loop keeps polling).
    query_500: float = 0.05
    duplicate_callbacks: float = 0.10
    dropped_callbacks: float = 0.10
    reordered_callbacks: float = 0.05
    # Payouts the provider fails or cancels after accepting them.
    failures: float = 0.03
    cancels: float = 0.01

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "slow_ms":
                if not 0 <= value <= 10_000:
                    raise ScenarioError("slow_ms must be between 0 and 10000")
            elif not 0 <= value <= 1:
                raise ScenarioError(f"{item.name} must be a ratio between 0 and 1, not {value}")
        if self.failures + self.cancels > 1:
            raise ScenarioError("failures + cancels cannot exceed 1")

    def as_json(self) -> dict[str, Any]:
        """The mix as a JSON object."""
        return asdict(self)


PRESETS: Final[dict[str, FaultMix]] = {
    "realistic": FaultMix(),
    "none": FaultMix(
        slow=0,
        lost_answer=0,
        http_500=0,
        blank_200=0,
        html_502=0,
        timeout=0,
        query_500=0,
        duplicate_callbacks=0,
        dropped_callbacks=0,
        reordered_callbacks=0,
        failures=0,
        cancels=0,
    ),
    "heavy": FaultMix(
        slow=0.5,
        lost_answer=0.08,
        http_500=0.08,
        blank_200=0.05,
        html_502=0.03,
        timeout=0.03,
        query_500=0.15,
        duplicate_callbacks=0.25,
        dropped_callbacks=0.25,
        reordered_callbacks=0.15,
        failures=0.08,
        cancels=0.04,
    ),
}


def parse_fault_mix(text: str) -> FaultMix:
    """``realistic`` | ``none`` | ``heavy``, optionally followed by ``name=ratio`` overrides,
    comma-separated: ``none,lost_answer=0.2`` or ``timeout=0.05`` (on top of ``realistic``)."""
    mix = PRESETS["realistic"]
    known = {item.name for item in fields(FaultMix)}
    changes: dict[str, float | int] = {}
    for token in (part.strip() for part in text.split(",")):
        if not token:
            continue
        if "=" not in token:
            if token not in PRESETS:
                raise ScenarioError(f"unknown fault preset {token!r} (have {sorted(PRESETS)})")
            mix = PRESETS[token]
            continue
        name, _, raw = token.partition("=")
        name = name.strip()
        if name not in known:
            raise ScenarioError(f"unknown fault {name!r} (have {', '.join(sorted(known))})")
        try:
            changes[name] = int(raw) if name == "slow_ms" else float(raw)
        except ValueError:
            raise ScenarioError(f"{name} needs a number, not {raw!r}") from None
    return replace(mix, **changes)  # type: ignore[arg-type]


# The sandbox's timing in the demo: payouts settle a few seconds after they are created, as a
# real provider's would, and a provider "timeout" holds the connection past the adapters' read
# timeout (the local stack's PROVIDER_READ_TIMEOUT).
SETTLE_AFTER_S: Final = 2.0
CALLBACK_RETRY_DELAYS_S: Final = (1.0, 2.0, 4.0, 8.0)
# The providers' fee in the demo, as payout providers price: a fixed part (1.00 in the payout's
# currency) plus 0.5 % of the amount. The report's fee totals are checked against the ledger's.
FEE_FIXED_MINOR: Final = 100
FEE_BASIS_POINTS: Final = 50


def sandbox_config(mix: FaultMix, seed: int, provider_read_timeout_s: float) -> SandboxConfig:
    """The sandbox configuration for ``mix``: outcomes and callbacks (the per-call faults are
    ``sandbox_faults``)."""
    return SandboxConfig(
        seed=seed,
        settle_after_s=SETTLE_AFTER_S,
        mix=OutcomeMix(
            success=1 - mix.failures - mix.cancels, failure=mix.failures, cancel=mix.cancels
        ),
        callbacks=CallbackOptions(
            retry_delays_s=CALLBACK_RETRY_DELAYS_S,
            timeout_s=5.0,
            duplicate_ratio=mix.duplicate_callbacks,
            drop_ratio=mix.dropped_callbacks,
            reorder_ratio=mix.reordered_callbacks,
            reorder_delay_s=1.0,
        ),
        fault_sleep_s=provider_read_timeout_s + 1.0,
        fee_minor=FEE_FIXED_MINOR,
        fee_basis_points=FEE_BASIS_POINTS,
    )


def sandbox_faults(mix: FaultMix) -> list[Fault]:
    """The per-call faults to arm (ratios drawn per call with the sandbox's seed)."""
    create, query = Operation.CREATE, Operation.QUERY
    wanted: list[tuple[float, FaultKind, Operation | None, dict[str, Any]]] = [
        (mix.slow, FaultKind.LATENCY, None, {"latency_ms": max(mix.slow_ms, 1)}),
        (mix.lost_answer, FaultKind.LOST_ANSWER, create, {}),
        (mix.http_500, FaultKind.HTTP_500, create, {"applied": True}),
        (mix.blank_200, FaultKind.BLANK_200, create, {"applied": True}),
        (mix.html_502, FaultKind.HTML_502, create, {"applied": True}),
        (mix.timeout, FaultKind.READ_TIMEOUT, create, {}),
        (mix.query_500, FaultKind.HTTP_500, query, {}),
    ]
    return [
        Fault(kind=kind, operation=operation, ratio=ratio, **extra)
        for ratio, kind, operation, extra in wanted
        if ratio > 0 and not (kind is FaultKind.LATENCY and mix.slow_ms == 0)
    ]


def payout_requests(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` valid payout requests spread over the four routes, drawn from ``seed``.

    Beneficiaries are obviously fake. Ids are ``DEMO-<seed>-<n>``: unique within one demo.
    """
    if count < 1:
        raise ScenarioError("count must be at least 1")
    rng = random.Random(seed)
    methods = list(ROUTES)
    requests = []
    for index in range(1, count + 1):
        method = (
            methods[(index - 1) % len(methods)] if index <= len(methods) else rng.choice(methods)
        )
        currency, low, high = ROUTES[method]
        requests.append(
            {
                "payout_id": f"DEMO-{seed}-{index:05d}",
                "amount": {"value": rng.randint(low, high), "currency": currency},
                "beneficiary": _beneficiary(method, index, rng),
                "description": "local demo payout",
                "metadata": {"source": "payouts-demo"},
            }
        )
    return requests


def _beneficiary(method: str, index: int, rng: random.Random) -> dict[str, Any]:
    if method == "ALIPAY":
        return {"method": "ALIPAY", "account_name": f"demo_user_{index}", "surname": "d"}
    if method == "UPI":
        return {"method": "UPI", "vpa": f"demo{index}@okdemo", "payee_name": "Demo Payee"}
    if method == "BANK_ACCOUNT":
        return {
            "method": "BANK_ACCOUNT",
            "account_number": f"{rng.randrange(10**11, 10**12)}",
            "ifsc": "DEMO0000001",
            "payee_name": "Demo Payee",
        }
    return {
        "method": "PIX",
        "pix_key_type": "EMAIL",
        "pix_key": f"demo{index}@example.com",
        "payee_name": "Demo Payee",
    }
