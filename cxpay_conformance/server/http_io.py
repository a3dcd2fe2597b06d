"""The HTTP edge of the API: who is calling (the bearer key), the request body (within the
size limit), and JSON answers.

Bodies larger than the limit are refused with 400 ``body_invalid`` (not 413), so that every
error the API gives is one of the contract's; the body is read in chunks and reading stops at
the limit, or when the body has not all arrived in time. A client that hangs up mid-body is
no server error. Answers are JSON in ASCII, so any string a client sent (even a lone
surrogate) can be echoed back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.api_errors import ApiError
from cxpay_conformance.server.config import ServerConfig
from cxpay_conformance.server.faults import injected
from cxpay_conformance.server.idempotency import Answer
from cxpay_conformance.server.json_codec import encode


class JsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


def answer_response(answer: Answer, *, replayed: bool = False) -> Response:
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return JsonResponse(dict(answer.body), status_code=answer.status, headers=headers)


def error_response(error: ApiError) -> Response:
    return JsonResponse(error.body(), status_code=error.status, headers=dict(error.headers))


def merchant_of(request: Request, config: ServerConfig) -> str:
    """The merchant whose key the request carries, or a 401 (also for two keys: which one
    would be the caller's?)."""
    sent = len(request.headers.getlist("authorization"))
    if sent > 1:
        raise api_errors.api_key_ambiguous(sent)
    if (
        "authorization" not in request.headers
        and request.url.path.startswith("/test-helpers/")
        and injected(config.faults, "test_helpers_without_key")
    ):
        return next(iter(config.api_keys.values()))
    return merchant_of_headers(request.headers, config)


def merchant_of_headers(headers: Mapping[str, str], config: ServerConfig) -> str:
    authorization = headers.get("authorization", "")
    scheme, _, key = authorization.strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        if injected(config.faults, "missing_key_reported_invalid"):
            raise api_errors.api_key_invalid(key)
        raise api_errors.api_key_missing()
    merchant = config.merchant_for(key)
    if merchant is None:
        raise api_errors.api_key_invalid(key)
    return merchant


class ClientGone(Exception):
    """The client closed the connection before sending its whole body: nobody is left to
    answer, and nothing went wrong in the server."""


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The whole body, or a 400 as soon as it is known to exceed ``limit`` bytes or when it has
    not all arrived within ``timeout`` seconds. Raises :class:`ClientGone` when the client
    disconnects first."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise api_errors.body_invalid(
            f"The body did not arrive within {timeout:g} seconds ({size} bytes came); send the "
            "whole body at once.",
            headers={"Connection": "close"},  # the rest of it must not be read as a request
        ) from None
    except ClientDisconnect:
        raise ClientGone from None
    return b"".join(chunks)


def _too_large(limit: int) -> ApiError:
    return api_errors.body_invalid(
        f"The body is larger than {limit} bytes, the most this API accepts; send only the "
        "documented parameters."
    )


def page_base(request: Request, public_url: str | None) -> str:
    """Where this server's hosted pages live: ``public_url`` (``serve --public-url``), else the
    address the request reached on this server's socket. Never the Host header: the client
    writes that, and a session's ``url`` must not point wherever a client says."""
    if public_url:
        return public_url
    scheme = "https" if request.url.scheme == "https" else "http"
    host, port = request.scope.get("server") or ("127.0.0.1", None)
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default_port) else f"{scheme}://{host}:{port}"
