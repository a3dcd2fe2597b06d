"""The hosted payment page at a checkout session's ``url``: what the customer would see.

In the sandbox it shows the amount and the payment's status and says how to drive the payment
with the test helpers; it needs no API key, as a customer's browser has none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse

from cxpay_conformance.server.store import Store

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}
code{{background:#f4f4f4;padding:0 .2rem}}</style></head>
<body><h1>{title}</h1>{content}
<p><small>CX Pay sandbox: test mode, no real money moves.</small></p></body></html>
"""


def hosted_page(store: Store) -> Callable[[Request], Awaitable[HTMLResponse]]:
    """The Starlette endpoint for ``GET /pay/{id}``."""

    async def page(request: Request) -> HTMLResponse:
        session_id = str(request.path_params["id"])
        session = store.session(session_id)
        if session is None:
            content = "<p>There is no such checkout session.</p>"
            return HTMLResponse(_PAGE.format(title="Payment page not found", content=content), 404)
        intent = store.intent(session.payment_intent)
        status = intent.status.value if intent else "unknown"
        amount = f"{session.amount} {session.currency.upper()} (minor units)"
        content = (
            f"<p>Amount: <strong>{escape(amount)}</strong></p>"
            f"<p>Checkout session <code>{escape(session.id)}</code> is "
            f"<strong>{escape(session.status.value)}</strong>; its payment intent is "
            f"<strong>{escape(status)}</strong>.</p>"
            "<p>To pay in the sandbox, call <code>POST /test-helpers/checkout-sessions/"
            f"{escape(session.id)}/pay</code> with a test card, for example "
            '<code>{"card_number": "4242424242424242"}</code>.</p>'
        )
        return HTMLResponse(_PAGE.format(title="Pay with CX Pay", content=content))

    return page
