"""Drug supply over HTTP: the stock table with stock-outs first, replenishment, a delivery from request to
receipt (audited) with its fill rate, roles, and the /metrics gauges."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from consumers.drug_supply.hierarchy import save_parents
from hub.core.db.models import AuditLog
from tests.api.conftest import Community, auth
from tests.drug_supply.factories import METFORMIN, apply, bound_consumer, stock_event
from tests.drug_supply.test_consumer import running_out

PARENTS = {"vc01": "th01", "vc02": "th01", "th01": "cty01"}


def stocked(community: Community) -> None:
    settings = community.client.app.state.settings
    with community.db.transaction() as session:
        save_parents(session, PARENTS)
    consumer = bound_consumer(settings, community.db)
    apply(consumer, community.db, *running_out("vc01"))
    apply(consumer, community.db, stock_event("th01", "t1", "snapshot", 400, running_out("x")[1].occurred_at,
                                              drug=METFORMIN, lot="T-EARLY", expiry=date(2027, 2, 1)),
          stock_event("th01", "t2", "snapshot", 600, running_out("x")[1].occurred_at, drug=METFORMIN, lot="T-LATE",
                      expiry=date(2027, 9, 1)),
          stock_event("cty01", "c1", "snapshot", 50, running_out("x")[1].occurred_at, drug="D0006", lot="C1",
                      expiry=date(2028, 1, 1)))


def test_the_stock_table_puts_stock_outs_first_and_only_pharmacists_see_it(community: Community) -> None:
    stocked(community)
    client, tokens = community.client, community.tokens
    assert client.get("/api/pharmacy/stock", headers=auth(tokens["clinician"])).status_code == 403
    answer = client.get("/api/pharmacy/stock", headers=auth(tokens["pharmacist"])).json()
    first = answer["items"][0]
    assert (first["facility"], first["drug"], first["on_hand"], first["warnings"]) == ("vc01", METFORMIN, 0, ["stockout"])
    # th01's T-EARLY expires within 90 days of the consumer's clock.
    assert sorted(w["kind"] for w in answer["warnings"]) == ["near_expiry", "stockout"]


def test_a_delivery_from_suggestion_to_receipt_is_audited_with_its_fill_rate(community: Community) -> None:
    stocked(community)
    client, headers = community.client, auth(community.tokens["pharmacist"])
    plan = client.get("/api/pharmacy/stock/replenishment", headers=headers).json()
    [s] = plan["items"]
    # vc01 uses 10 a day (the 200 of its count over 20 days): 300 to reach 30 days, the earliest township lot first.
    assert (s["village"], s["drug"], s["need"]) == ("vc01", METFORMIN, 300)
    assert s["lines"][0]["source"] == "th01" and s["lines"][0]["lot"] == "T-EARLY"
    body = {"village": "vc01", "source": "th01", "drug": METFORMIN, "quantity": 300,
            "lots": [{"lot": line["lot"], "expiry": line["expiry"], "quantity": line["quantity"]} for line in s["lines"]]}
    created = client.post("/api/pharmacy/stock/deliveries", json=body, headers=headers)
    assert created.status_code == 201, created.text
    delivery = created.json()
    assert delivery["state"] == "requested"
    # On its way: no longer suggested.
    assert client.get("/api/pharmacy/stock/replenishment", headers=headers).json()["items"] == []
    wrong = client.post(f"/api/pharmacy/stock/deliveries/{delivery['id']}", json={"state": "received"}, headers=headers)
    assert wrong.status_code == 409 and "it can go to shipped, cancelled" in wrong.text
    assert client.post(f"/api/pharmacy/stock/deliveries/{delivery['id']}", json={"state": "shipped"},
                       headers=headers).json()["shipped"] == 300
    received = client.post(f"/api/pharmacy/stock/deliveries/{delivery['id']}",
                           json={"state": "received", "quantity": 240}, headers=headers).json()
    assert (received["state"], received["received"], received["on_time"]) == ("received", 240, True)
    listing = client.get("/api/pharmacy/stock/deliveries", headers=headers).json()
    assert listing["fill"] == {"deliveries": 1, "requested": 300, "received": 240, "fill_rate": 0.8, "on_time": 1.0}
    with community.db.reading() as session:
        steps = session.scalars(select(AuditLog.action).where(AuditLog.resource_type == "SupplyDelivery")
                                .order_by(AuditLog.id)).all()
    assert steps == ["supply_requested", "supply_shipped", "supply_received"]
    metrics = client.get("/metrics").text
    assert "hub_supply_delivery_fill_rate 0.8" in metrics
    assert 'hub_supply_warnings_open{kind="stockout"}' in metrics


def test_a_delivery_must_come_from_the_villages_own_township_or_the_county(community: Community) -> None:
    stocked(community)
    client, headers = community.client, auth(community.tokens["pharmacist"])
    body = {"village": "vc01", "source": "th09", "drug": METFORMIN, "quantity": 5}
    answer = client.post("/api/pharmacy/stock/deliveries", json=body, headers=headers)
    assert answer.status_code == 400 and "vc01 is supplied by th01 or cty01, not th09" in answer.text
    answer = client.post("/api/pharmacy/stock/deliveries", json={**body, "village": "th01", "source": "cty01"},
                         headers=headers)
    assert answer.status_code == 400 and "not a village clinic" in answer.text
