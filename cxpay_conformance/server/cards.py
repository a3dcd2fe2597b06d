"""The test cards: which numbers the sandbox accepts and what the card network does with each.

The numbers are the ones the payments world already knows from Stripe's test mode. A card
either approves or declines with a decline code, and may first need 3D Secure; a 3D Secure
card that declines does so only once the customer has authenticated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

CARD_DECLINED = "card_declined"
INSUFFICIENT_FUNDS = "insufficient_funds"
PROCESSING_ERROR = "processing_error"
AUTHENTICATION_FAILED = "authentication_failed"

#: What the customer is told for each failure code (``last_payment_error.message``).
FAILURE_MESSAGES: Mapping[str, str] = MappingProxyType(
    {
        CARD_DECLINED: "The card was declined.",
        INSUFFICIENT_FUNDS: "The card has insufficient funds to complete the purchase.",
        PROCESSING_ERROR: "An error occurred while processing the card; try again.",
        AUTHENTICATION_FAILED: "The customer did not pass 3D Secure authentication.",
    }
)


@dataclass(frozen=True, slots=True)
class TestCard:
    """One test card: its number, whether it needs 3D Secure, and the network's answer
    (``decline_code`` None means the network approves)."""

    __test__ = False  # not a pytest test class, despite the name

    number: str
    needs_authentication: bool
    decline_code: str | None

    @property
    def approves(self) -> bool:
        return self.decline_code is None


TEST_CARDS: Mapping[str, TestCard] = MappingProxyType(
    {
        card.number: card
        for card in (
            TestCard("4242424242424242", needs_authentication=False, decline_code=None),
            TestCard("4000000000000002", needs_authentication=False, decline_code=CARD_DECLINED),
            TestCard(
                "4000000000009995", needs_authentication=False, decline_code=INSUFFICIENT_FUNDS
            ),
            TestCard("4000000000000119", needs_authentication=False, decline_code=PROCESSING_ERROR),
            TestCard("4000000000003220", needs_authentication=True, decline_code=None),
            TestCard("4000008400001629", needs_authentication=True, decline_code=CARD_DECLINED),
        )
    }
)


def find_card(number: str) -> TestCard | None:
    """The test card with ``number``, or None: ``find_card("4242424242424242").approves``."""
    return TEST_CARDS.get(number)
