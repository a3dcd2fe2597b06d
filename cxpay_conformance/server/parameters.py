"""The parameters each operation takes, parsed and checked into typed values.

One frozen class per operation with a ``parse`` that either answers the values or raises the
400 for the first problem: an unknown field, then a missing one, then each field in the order
listed here. Operations without parameters accept no body, or ``{}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from cxpay_conformance.server import api_errors
from cxpay_conformance.server.cards import TEST_CARDS, TestCard, find_card
from cxpay_conformance.server.validation import (
    JsonObject,
    choice,
    currency,
    expect_fields,
    http_url,
    integer,
    metadata,
    query_integer,
    query_values,
    string,
)

#: The largest amount, in minor units: what acquirers accept (and Stripe), $999,999.99.
MAX_AMOUNT = 99_999_999
DEFAULT_EXPIRES_IN = 86_400
MIN_EXPIRES_IN = 1_800
#: The longest single advance of a test clock: ten 365-day years (a decision of the spec,
#: so that every time stays an integer any client and database can hold).
MAX_ADVANCE_SECONDS = 315_360_000


def no_parameters(body: JsonObject | None) -> None:
    """For operations that take nothing: any field is unknown."""
    expect_fields(body, required=())


def no_query(query: Sequence[tuple[str, str]]) -> None:
    query_values(query, allowed=())


@dataclass(frozen=True, slots=True)
class CreateSessionParams:
    amount: int
    currency: str
    success_url: str
    cancel_url: str
    expires_in: int
    metadata: Mapping[str, str]

    @classmethod
    def parse(cls, body: JsonObject | None) -> CreateSessionParams:
        body = expect_fields(
            body,
            required=("amount", "currency", "success_url", "cancel_url"),
            optional=("expires_in", "metadata"),
        )
        amount = integer(body, "amount", minimum=1, maximum=MAX_AMOUNT)
        code = currency(body, "currency")
        success_url = http_url(body, "success_url")
        cancel_url = http_url(body, "cancel_url")
        expires_in = DEFAULT_EXPIRES_IN
        if "expires_in" in body:
            expires_in = integer(body, "expires_in", MIN_EXPIRES_IN, DEFAULT_EXPIRES_IN)
        pairs = metadata(body, "metadata") if "metadata" in body else {}
        return cls(amount, code, success_url, cancel_url, expires_in, MappingProxyType(pairs))


@dataclass(frozen=True, slots=True)
class PayParams:
    card: TestCard

    @classmethod
    def parse(cls, body: JsonObject | None) -> PayParams:
        body = expect_fields(body, required=("card_number",))
        number = string(body, "card_number", ' of digits, e.g. "4242424242424242"')
        card = find_card(number)
        if card is None:
            raise api_errors.parameter_invalid(
                "card_number",
                "card_number must be one of the test cards ("
                + ", ".join(TEST_CARDS)
                + "); see docs/sandbox.md for what each one does.",
            )
        return cls(card)


@dataclass(frozen=True, slots=True)
class AuthenticateParams:
    passed: bool

    @classmethod
    def parse(cls, body: JsonObject | None) -> AuthenticateParams:
        body = expect_fields(body, required=("outcome",))
        return cls(choice(body, "outcome", ("pass", "fail")) == "pass")


@dataclass(frozen=True, slots=True)
class AdvanceClockParams:
    seconds: int

    @classmethod
    def parse(cls, body: JsonObject | None) -> AdvanceClockParams:
        body = expect_fields(body, required=("seconds",))
        return cls(integer(body, "seconds", minimum=1, maximum=MAX_ADVANCE_SECONDS))


@dataclass(frozen=True, slots=True)
class CreateEndpointParams:
    url: str

    @classmethod
    def parse(cls, body: JsonObject | None) -> CreateEndpointParams:
        body = expect_fields(body, required=("url",))
        return cls(http_url(body, "url"))


@dataclass(frozen=True, slots=True)
class ListEventsParams:
    limit: int
    starting_after: str | None

    @classmethod
    def parse(cls, query: Sequence[tuple[str, str]]) -> ListEventsParams:
        values = query_values(query, allowed=("limit", "starting_after"))
        limit = 10
        if "limit" in values:
            limit = query_integer("limit", values["limit"], 1, 100)
        starting_after = values.get("starting_after")
        if starting_after == "":
            raise api_errors.parameter_invalid(
                "starting_after", "starting_after must be an event id (evt_...); it is empty."
            )
        return cls(limit, starting_after)
