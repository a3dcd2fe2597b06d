"""``GET /events`` paging, and registering and deleting webhook endpoints."""

from __future__ import annotations

from tests.server.sandbox_client import Merchant


def test_events_page_in_creation_order(merchant: Merchant) -> None:
    for _ in range(4):
        merchant.create_session()
    everything = merchant.ok("GET", "/events", params={"limit": 100})
    assert len(everything["data"]) == 8 and everything["has_more"] is False
    ids = [e["id"] for e in everything["data"]]

    first = merchant.ok("GET", "/events", params={"limit": 3})
    assert [e["id"] for e in first["data"]] == ids[:3] and first["has_more"] is True
    second = merchant.ok("GET", "/events", params={"limit": 3, "starting_after": ids[2]})
    assert [e["id"] for e in second["data"]] == ids[3:6] and second["has_more"] is True
    third = merchant.ok("GET", "/events", params={"limit": 3, "starting_after": ids[5]})
    assert [e["id"] for e in third["data"]] == ids[6:] and third["has_more"] is False
    last = merchant.ok("GET", "/events", params={"starting_after": ids[-1]})
    assert last == {"object": "list", "data": [], "has_more": False}


def test_the_default_page_has_ten_events(merchant: Merchant) -> None:
    for _ in range(6):
        merchant.create_session()
    page = merchant.ok("GET", "/events")
    assert len(page["data"]) == 10 and page["has_more"] is True
    exact = merchant.ok(
        "GET", "/events", params={"limit": 2, "starting_after": page["data"][-1]["id"]}
    )
    assert len(exact["data"]) == 2 and exact["has_more"] is False


def test_a_new_merchant_has_no_events(merchant: Merchant) -> None:
    assert merchant.ok("GET", "/events") == {"object": "list", "data": [], "has_more": False}


def test_an_unknown_starting_after_is_404_on_that_param(merchant: Merchant) -> None:
    merchant.fails(
        "GET",
        "/events",
        params={"starting_after": "evt_doesnotexist000000000"},
        status=404,
        code="resource_missing",
        param="starting_after",
    )


def test_a_webhook_endpoint_is_created_with_a_secret_and_deleted_once(merchant: Merchant) -> None:
    endpoint = merchant.add_endpoint("http://127.0.0.1:9/cxpay/webhooks")
    assert endpoint["object"] == "webhook_endpoint"
    assert endpoint["url"] == "http://127.0.0.1:9/cxpay/webhooks"
    assert endpoint["secret"].startswith("whsec_")
    other = merchant.add_endpoint("http://127.0.0.1:9/cxpay/webhooks")
    assert other["secret"] != endpoint["secret"] and other["id"] != endpoint["id"]
    deleted = merchant.ok("DELETE", f"/webhook-endpoints/{endpoint['id']}")
    assert deleted == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    merchant.fails(
        "DELETE", f"/webhook-endpoints/{endpoint['id']}", status=404, code="resource_missing"
    )
    merchant.fails(
        "DELETE", "/webhook-endpoints/we_unknown0000000000000", status=404, code="resource_missing"
    )
    assert merchant.events() == []  # endpoints are not payment objects: no events
