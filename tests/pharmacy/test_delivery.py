"""A review outcome goes to the prescribing member's outbound destinations through the delivery part's
queue (the same path as reports and notices): an ORU^R01 over MLLP and a FHIR transaction Bundle."""

from __future__ import annotations

import json

from sqlalchemy import select

from consumers.delivery.consumer import DeliveryConsumer
from consumers.delivery.models import OutboundMessage
from consumers.delivery.routing import routes_from
from hub.core.connector import ConnectorConfig
from hub.core.consumer import Delivery
from hub.core.db.models import ResultOutboxRow
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from tests.api.conftest import Community, auth
from tests.pharmacy.factories import IBUPROFEN, WARFARIN, apply, bound_consumer, coded, prescription

CONFIG = ConnectorConfig(name="th01-his", kind="mllp", facility_id="th01", options={}, deliver_to=[
    {"kind": "mllp", "host": "127.0.0.1", "port": 2576}, {"kind": "fhir", "url": "http://th01.example/fhir"}])


def test_a_return_reaches_the_members_destinations(community: Community, settings) -> None:
    apply(bound_consumer(settings, community.db), community.db,
          prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5, unit="mg", per_day=1),
          prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2))
    headers = auth(community.tokens["pharmacist"])
    [held] = community.client.get("/api/pharmacy/queue", headers=headers).json()["items"]
    rid = held["id"]
    community.client.post(f"/api/pharmacy/reviews/{rid}/decision", json={"action": "return", "reason_code": "interaction",
                          "text": "请改药"}, headers=headers)
    codec = EventCodec(FileSchemaRegistry())
    with community.db.sessions() as session:
        rows = session.scalars(select(ResultOutboxRow).where(ResultOutboxRow.topic == "hub.prescription-review.v1")
                               .order_by(ResultOutboxRow.seq)).all()
        events = [codec.decode(r.value) for r in rows]
    decided = events[-1]
    consumer = DeliveryConsumer(settings, routes=routes_from([CONFIG]))
    with community.db.transaction() as session:
        consumer.apply(session, Delivery("t", 0, 0, None, None, (), 0, decided))
    with community.db.sessions() as session:
        messages = {m.destination: m for m in session.scalars(select(OutboundMessage))}
    assert set(messages) == {"th01/mllp", "th01/fhir"}
    hl7 = messages["th01/mllp"].body.decode("utf-8")
    segments = hl7.strip("\r").split("\r")
    assert segments[0].split("|")[8] == "ORU^R01^ORU_R01"
    assert segments[1].startswith("PID|") and "|1^" in segments[1]
    assert segments[2] == f"ORC|RE|th01-rx-2|{rid}"  # the member's prescription is the placer order
    results = [s for s in segments if s.startswith("OBX|")]
    assert "return" in results[0] and any("|A|" in s for s in results[1:])
    assert any(s.startswith("NTE|") and "请改药" in s for s in segments)
    bundle = json.loads(messages["th01/fhir"].body)
    kinds = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert kinds[0] == "Task" and "DetectedIssue" in kinds
