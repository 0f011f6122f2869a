"""gateway_v2: CNY Alipay payouts (seed 000), signed with HMAC-SHA256 (or legacy MD5)."""

from payouts.providers.gateway_v2.adapter import GatewayV2Adapter
from payouts.providers.gateway_v2.config import (
    AnswerSignaturePolicy,
    GatewayV2Credentials,
    GatewayV2Options,
)
from payouts.providers.gateway_v2.signing import CanonicalForm, Md5KeyStyle, SignType

__all__ = [
    "AnswerSignaturePolicy",
    "CanonicalForm",
    "GatewayV2Adapter",
    "GatewayV2Credentials",
    "GatewayV2Options",
    "Md5KeyStyle",
    "SignType",
]
