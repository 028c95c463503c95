"""Through the real broker: two members' prescriptions for one person (linked by the patient index) are
reviewed by the running consumer, and the pharmacist's decision arrives on hub.prescription-review.v1."""

from __future__ import annotations

import pytest

from consumers.pharmacy.models import PharmacyReview
from consumers.pharmacy.reviewing import review_id
from hub.core import pipeline
from hub.core.config import HubSettings
from hub.core.events import PollResult
from hub.core.outbox import Outbox, OutboxRelay
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.api.conftest import Community, auth
from tests.hub.test_consuming import count, runner_for, running
from tests.hub.test_outbox import read_all
from tests.pharmacy.factories import IBUPROFEN, WARFARIN, bound_consumer, coded, prescription, results_outbox
from tests.waiting import wait_for

pytestmark = pytest.mark.broker


@pytest.fixture
def settings(broker_settings: HubSettings) -> HubSettings:
    """The community's app on the test broker too, so its decisions go to this test's topics."""
    return broker_settings


def publish(settings: HubSettings, events: list) -> None:
    """As the members' connectors would (th01 and cty01 through one test connector)."""
    outbox = Outbox(settings.outbox_path("members"), "members")
    sink = pipeline.Sink("members", "th01", outbox, EventCodec(FileSchemaRegistry(), settings.topic_prefix), settings,
                         facilities={"th01", "cty01"})
    sink.accept(PollResult(events=list(events)))
    relay = OutboxRelay(outbox, settings)
    relay.check_epoch(force=True)
    while outbox.backlog():
        relay.publish_pending()
    relay.close()


def relay_results(settings: HubSettings, community: Community) -> None:
    results = results_outbox(settings, community.db)
    relay = OutboxRelay(results, settings)
    relay.check_epoch(force=True)
    while results.backlog():
        relay.publish_pending()
    relay.close()


def test_a_held_prescription_and_its_decision_reach_the_prescribing_member(
        community: Community, broker_settings: HubSettings) -> None:
    consumer = bound_consumer(broker_settings, community.db)
    with running(runner_for(consumer, broker_settings, community.db)):
        # The county hospital's warfarin first (another partition, so in its own time), then th01's ibuprofen.
        publish(broker_settings, [prescription("9", coded(WARFARIN), facility="cty01", local_id="A77", dose=2.5,
                                               unit="mg", per_day=1)])
        wait_for(lambda: count(community.db, PharmacyReview) == 1)
        publish(broker_settings, [prescription("2", coded(IBUPROFEN), dose=0.3, per_day=2)])
        wait_for(lambda: count(community.db, PharmacyReview) == 2)
    with community.db.sessions() as session:
        held = session.get(PharmacyReview, review_id("MedicationRequest/th01-rx-2"))
        assert held is not None and (held.outcome, held.status) == ("hold", "ready")
        rid = held.id
    answer = community.client.post(f"/api/pharmacy/reviews/{rid}/decision",
                                   json={"action": "return", "reason_code": "interaction", "text": "与县医院华法林合用"},
                                   headers=auth(community.tokens["pharmacist"]))
    assert answer.status_code == 200, answer.text
    relay_results(broker_settings, community)
    codec = EventCodec(FileSchemaRegistry(), broker_settings.topic_prefix)
    messages = read_all(broker_settings, spec_for("prescription_review").topic(broker_settings), 3)
    events = [codec.decode(m.value) for m in messages]
    mine = [e for e in events if e.resource["id"] == rid]
    assert [e.resource["businessStatus"]["coding"][0]["code"] for e in mine] == ["hold", "return"]
    decided = mine[-1]
    assert decided.patient_key == "th01/1" and decided.source.facility_id == "th01"
    assert decided.resource["statusReason"]["coding"][0]["code"] == "interaction"
    assert any(r["resourceType"] == "MedicationRequest" and r["id"] == "th01-rx-2" for r in decided.related)
    assert {m.key for m in messages} == {b"th01/1", b"cty01/A77"}

