"""The error answers of the API: one exception, :class:`ApiError`, and one constructor per
error the contract names.

Every failure a client can cause is raised as an ``ApiError`` somewhere below the routes and
turned into ``{"error": {"type", "code", "message", "param"}}`` by one handler, so that no
route formats errors by hand. Messages are sentences that say what to do instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

INVALID_REQUEST = "invalid_request_error"
IDEMPOTENCY = "idempotency_error"
AUTHENTICATION = "authentication_error"
API_ERROR = "api_error"


class ApiError(Exception):
    """An answer other than success: HTTP status, error type and code, message, param.

    Not a frozen dataclass: the exception machinery (contextlib, anyio) writes
    ``__traceback__`` on exceptions it passes through.
    """

    def __init__(
        self,
        status: int,
        type: str,
        code: str,
        message: str,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.headers: Mapping[str, str] = dict(headers or {})

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {
            "error": {
                "type": self.type,
                "code": self.code,
                "message": self.message,
                "param": self.param,
            }
        }


# --- 400 -----------------------------------------------------------------------------------


def body_invalid(message: str, headers: Mapping[str, str] | None = None) -> ApiError:
    return ApiError(400, INVALID_REQUEST, "body_invalid", message, headers=headers)


def webhook_host_not_allowed(url: str) -> ApiError:
    host = urlsplit(url).hostname or url
    return ApiError(
        400,
        INVALID_REQUEST,
        "parameter_invalid",
        f"This sandbox does not deliver webhooks to {host!r}: by default only to loopback and "
        "private addresses and localhost, so that it cannot be made to send requests anywhere. "
        f"Whoever runs it can allow the host with: cxpay-conformance serve --webhook-allow-host "
        f"{host}",
        "url",
    )


def parameter_missing(param: str, hint: str = "") -> ApiError:
    message = f"Missing required parameter '{param}'."
    return ApiError(400, INVALID_REQUEST, "parameter_missing", f"{message} {hint}".strip(), param)


def parameter_unknown(param: str, allowed: tuple[str, ...]) -> ApiError:
    accepted = ", ".join(allowed) if allowed else "no parameters"
    message = f"Unknown parameter '{param}'; this operation accepts {accepted}."
    return ApiError(400, INVALID_REQUEST, "parameter_unknown", message, param)


def parameter_invalid(param: str, message: str) -> ApiError:
    return ApiError(400, INVALID_REQUEST, "parameter_invalid", message, param)


def idempotency_key_reused() -> ApiError:
    return ApiError(
        400,
        IDEMPOTENCY,
        "idempotency_key_reused",
        "This Idempotency-Key was already used with different parameters; send a new key for "
        "a new request, or the same parameters to get the first answer again.",
    )


# --- 401 -----------------------------------------------------------------------------------

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="CX Pay"'}


def api_key_missing() -> ApiError:
    return ApiError(
        401,
        AUTHENTICATION,
        "api_key_missing",
        "Send your secret key as 'Authorization: Bearer <key>'.",
        headers=_CHALLENGE,
    )


def api_key_invalid(api_key: str) -> ApiError:
    shown = f"the API key {api_key[:8]}...{api_key[-4:]}" if len(api_key) > 16 else "that API key"
    return ApiError(
        401,
        AUTHENTICATION,
        "api_key_invalid",
        f"No merchant owns {shown}; check the key your integration sends "
        "(the sandbox prints its keys when it starts).",
        headers=_CHALLENGE,
    )


def api_key_ambiguous(count: int) -> ApiError:
    return ApiError(
        401,
        AUTHENTICATION,
        "api_key_invalid",
        f"The request carries {count} Authorization headers; send exactly one, "
        "'Authorization: Bearer <key>', so that it is clear which merchant is calling.",
        headers=_CHALLENGE,
    )


# --- 404, 405 ------------------------------------------------------------------------------


def resource_missing(kind: str, object_id: str, param: str | None = None) -> ApiError:
    """No such object for this merchant. The same answer for an unknown id and another
    merchant's, so that ids cannot be probed across merchants."""
    return ApiError(
        404, INVALID_REQUEST, "resource_missing", f"No such {kind}: {object_id!r}.", param
    )


def route_missing(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        INVALID_REQUEST,
        "resource_missing",
        f"No such route: {method} {path}. See docs/sandbox.md or spec/openapi.yaml for the paths.",
    )


def method_not_allowed(method: str, path: str, allowed: tuple[str, ...]) -> ApiError:
    return ApiError(
        405,
        INVALID_REQUEST,
        "method_not_allowed",
        f"{path} does not take {method}; use {' or '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )


# --- 409 -----------------------------------------------------------------------------------


def invalid_state(message: str) -> ApiError:
    return ApiError(409, INVALID_REQUEST, "invalid_state", message)


def idempotency_key_in_use() -> ApiError:
    return ApiError(
        409,
        IDEMPOTENCY,
        "idempotency_key_in_use",
        "A request with this Idempotency-Key is still in progress; retry once it has answered.",
    )


# --- 500 -----------------------------------------------------------------------------------


def internal_error() -> ApiError:
    return ApiError(
        500,
        API_ERROR,
        "internal_error",
        "The sandbox failed to handle this request; its log has the details. Please report it.",
    )
