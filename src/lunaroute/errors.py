"""The one error tree of the gateway; each error knows its HTTP status and its wire `type` per dialect.

    LunaRouteError
    ├── ConfigError                 (start-up only: file, key path, reason; never an HTTP answer)
    ├── InvalidRequest        400   bad JSON, bad field, unsupported path shape
    │   ├── UnsupportedFeature 400  the target dialect cannot express something the request uses
    │   ├── ContentBlocked    400   the provider refused to answer the prompt (a safety block)
    │   ├── NotFound          404   no such endpoint
    │   ├── MethodNotAllowed  405
    │   ├── RequestTimeout    408   the request head did not arrive within the header deadline
    │   ├── BodyTooLarge      413
    │   ├── UriTooLong        414
    │   ├── UnsupportedMedia  415
    │   └── HeadersTooLarge   431
    ├── AuthenticationError   401
    ├── PermissionDenied      403
    ├── RateLimited           429
    ├── UpstreamError         502   the provider answered with something unusable
    │   ├── UpstreamUnreachable 502 connect refused / DNS / reset before the answer
    │   └── UpstreamTimeout   504   connect, first byte, idle or total deadline passed
    └── Overloaded            503   the gateway sheds load

Errors the upstream *sent* are not in this tree: they pass through to the client unchanged. Each dialect renders
these errors in its own wire shape at the edge (`lunaroute.dialects.errors`).
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BodyTooLarge",
    "ConfigError",
    "ContentBlocked",
    "HeadersTooLarge",
    "InvalidRequest",
    "LunaRouteError",
    "MethodNotAllowed",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "RateLimited",
    "RequestTimeout",
    "UnsupportedFeature",
    "UnsupportedMedia",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "UriTooLong",
]


class LunaRouteError(Exception):
    """Base of every error the gateway raises itself."""

    status: int = 500
    openai_type: str = "server_error"
    anthropic_type: str = "api_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.retry_after = retry_after


class ConfigError(LunaRouteError):
    """A configuration file or value is invalid; raised at start-up or reload, never sent to a client."""

    def __init__(self, message: str, *, source: str | None = None, path: str | None = None) -> None:
        where = ", ".join(part for part in (source, f"at {path}" if path else None) if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.path = path
        self.reason = message


class InvalidRequest(LunaRouteError):
    status = 400
    openai_type = "invalid_request_error"
    anthropic_type = "invalid_request_error"


class UnsupportedFeature(InvalidRequest):
    code = "unsupported_feature"


class ContentBlocked(InvalidRequest):
    """The provider answered, but refused the prompt itself (e.g. Gemini's `promptFeedback.blockReason`)."""

    code = "content_blocked"


class NotFound(InvalidRequest):
    status = 404
    anthropic_type = "not_found_error"
    code = "not_found"


class MethodNotAllowed(InvalidRequest):
    status = 405
    code = "method_not_allowed"


class RequestTimeout(InvalidRequest):
    status = 408
    code = "request_timeout"


class BodyTooLarge(InvalidRequest):
    status = 413
    anthropic_type = "request_too_large"
    code = "request_too_large"


class UriTooLong(InvalidRequest):
    status = 414
    code = "uri_too_long"


class UnsupportedMedia(InvalidRequest):
    status = 415
    code = "unsupported_media_type"


class HeadersTooLarge(InvalidRequest):
    status = 431
    code = "request_header_fields_too_large"


class AuthenticationError(LunaRouteError):
    status = 401
    openai_type = "authentication_error"
    anthropic_type = "authentication_error"
    code = "invalid_api_key"


class PermissionDenied(LunaRouteError):
    status = 403
    openai_type = "permission_error"
    anthropic_type = "permission_error"


class RateLimited(LunaRouteError):
    status = 429
    openai_type = "rate_limit_error"
    anthropic_type = "rate_limit_error"
    code = "rate_limit_exceeded"


class UpstreamError(LunaRouteError):
    status = 502
    openai_type = "api_error"
    anthropic_type = "api_error"
    code = "bad_gateway"


class UpstreamUnreachable(UpstreamError):
    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamError):
    status = 504
    anthropic_type = "timeout_error"
    code = "upstream_timeout"


class Overloaded(LunaRouteError):
    status = 503
    openai_type = "server_error"
    anthropic_type = "overloaded_error"
    code = "overloaded"
