"""What is kept of a payout request once its personal data is erased (the retention rule).

An order terminal for longer than the retention period keeps its ids, amount, currency, method,
statuses, fingerprint and evidence; its beneficiary, description and metadata are replaced by
their masked form (``payouts.domain.redaction``). The stored fingerprint is the hash of the
original request and is kept, so a late duplicate of the request is still recognised as the same
request (and never paid twice), and a different request under the id is still a conflict.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field

from payouts.domain.redaction import is_safe, mask, mask_shapes, mask_text
from payouts.domain.request import Amount, Method, PayoutId, PayoutRequest

# A terminal order whose last change came no later than this after its creation is erased by the
# retention sweep of the orders in creation order (which reaches the orders created
# ``retention + SWEPT_CHANGES_WITHIN`` ago, all due by then); one changed later is listed in the
# erasable index at that change. Writers and the sweep must agree: this may grow but never shrink
# (a shorter one would leave the orders changed in between in neither place).
SWEPT_CHANGES_WITHIN: Final = timedelta(days=1)


def swept_by_creation(created_at: datetime, updated_at: datetime) -> bool:
    """Whether the retention sweep in creation order erases this terminal order (otherwise it
    must be listed as erasable): it last changed within ``SWEPT_CHANGES_WITHIN`` of creation."""
    return updated_at - created_at <= SWEPT_CHANGES_WITHIN


class MaskedBeneficiary(BaseModel):
    """A beneficiary after erasure: the method in clear, every other field masked."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Method
    fields: dict[str, str] = Field(default_factory=dict)


class ErasedRequest(BaseModel):
    """A payout request whose personal data was erased. Same names as ``PayoutRequest`` for
    what is kept (``payout_id``, ``amount``, ``method``, ``metadata``), so code that reads only
    those reads either; nothing can be sent from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    payout_id: PayoutId
    amount: Amount
    beneficiary: MaskedBeneficiary
    description: Annotated[str, Field(max_length=80)] = ""
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def method(self) -> Method:
        """The beneficiary's payout method."""
        return self.beneficiary.method


def erase_request(request: PayoutRequest | ErasedRequest) -> ErasedRequest:
    """``request`` with its personal data replaced by the masked form (already erased: as is)."""
    if isinstance(request, ErasedRequest):
        return request
    beneficiary = request.beneficiary.model_dump(mode="json", exclude={"method"}, exclude_none=True)
    return ErasedRequest(
        payout_id=request.payout_id,
        amount=request.amount,
        beneficiary=MaskedBeneficiary(
            method=request.method,
            fields={name: _masked(name, value) for name, value in beneficiary.items()},
        ),
        description=_masked("description", request.description) if request.description else "",
        # Keys are the publisher's names, kept unless they look like data themselves.
        metadata={
            mask_shapes(name): _masked(name, value) for name, value in request.metadata.items()
        },
    )


def erase_excerpt(excerpt: str) -> str:
    """An invalid request's stored excerpt with everything not known to be safe masked (excerpts
    stored before masking went by shape may still hold personal data in clear)."""
    return mask_text(excerpt)


def _masked(name: str, value: object) -> str:
    # Kept in clear only under a safe key and in that key's shape (pix_key_type "CPF").
    return str(value) if is_safe(name, value) else mask(str(value))
