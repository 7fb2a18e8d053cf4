"""Check an AWS Signature Version 4 as AWS does, with botocore's signer (used by the fake Bedrock upstream)."""

from __future__ import annotations

import datetime as dt
import hmac
import re
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import ReadOnlyCredentials

__all__ = ["AwsKeys", "SignatureProblem", "verify_sigv4"]

_AUTH = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[^,]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)
_MAX_SKEW = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class AwsKeys:
    """The one identity the fake accepts."""

    access_key_id: str = "AKIDFAKEBEDROCK"
    secret_access_key: str = "fake-secret-access-key"
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class SignatureProblem:
    """Why a request is refused, as AWS answers it: the exception name and its message (status 403)."""

    exception: str
    message: str


def verify_sigv4(
    method: str, url: str, headers: list[tuple[str, str]], body: bytes, keys: AwsKeys, *, region: str, service: str
) -> SignatureProblem | None:
    """None when `headers` carry a valid signature of this request by `keys` for `region`/`service`."""
    lower: dict[str, str] = {}
    for name, value in headers:
        lower[name.lower()] = value if name.lower() not in lower else f"{lower[name.lower()]},{value}"
    match = _AUTH.fullmatch(lower.get("authorization", ""))
    if match is None:
        return SignatureProblem("MissingAuthenticationTokenException", "Missing Authentication Token")
    if match["key"] != keys.access_key_id:
        return SignatureProblem("UnrecognizedClientException", "The security token included in the request is invalid.")
    if match["region"] != region or match["service"] != service:
        return SignatureProblem(
            "InvalidSignatureException", f"Credential should be scoped to a valid region/service ({region}/{service})."
        )
    if keys.session_token is not None and lower.get("x-amz-security-token") != keys.session_token:
        return SignatureProblem("UnrecognizedClientException", "The security token included in the request is invalid.")
    stamp = lower.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return SignatureProblem("IncompleteSignatureException", "X-Amz-Date is missing or malformed.")
    if abs(dt.datetime.now(dt.UTC) - signed_at) > _MAX_SKEW:
        return SignatureProblem("InvalidSignatureException", "Signature expired.")
    signed_names = match["signed"].split(";")
    if "host" not in signed_names or any(name not in lower for name in signed_names):
        return SignatureProblem("IncompleteSignatureException", "A signed header is missing from the request.")
    request = AWSRequest(method=method, url=url, data=body, headers={n: lower[n] for n in signed_names})
    request.context["timestamp"] = stamp
    signer = SigV4Auth(
        ReadOnlyCredentials(keys.access_key_id, keys.secret_access_key, keys.session_token), service, region
    )
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, match["signature"]):
        return SignatureProblem(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return None
