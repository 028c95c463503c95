"""A DICOM ECG through the real door, broker and consumer, served by the API to readers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from consumers.ecg.consumer import EcgConsumer
from consumers.ecg.models import EcgStudy
from hub.core.config import HubSettings
from hub.tools.demo.ecgs import EcgSpec
from tests.api.conftest import Community, auth
from tests.ecg.helpers import WHEN, apply, ecg_event, ecg_file
from tests.hub.test_consuming import publish, runner_for, running
from tests.waiting import wait_for


@pytest.mark.broker
def test_dicom_ecg_to_measurements_served(community: Community, broker_settings: HubSettings, settings: HubSettings) -> None:
    event = ecg_event(settings.data_dir, ecg_file(EcgSpec(heart_rate=64), patient="1"))
    publish(broker_settings, [event], name="th01-ecg")
    db = community.db
    with running(runner_for(EcgConsumer(broker_settings), broker_settings, db)):
        def stored() -> bool:
            with db.sessions() as session:
                return session.scalars(select(EcgStudy)).first() is not None
        wait_for(stored)
    study = event.related[0]
    uid = study["identifier"][0]["value"].removeprefix("urn:oid:")
    answer = community.client.get(f"/api/ecg/studies/{uid}", headers=auth(community.tokens["reader"]))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["id"] == study["id"] and body["status"] == "measured" and body["problems"] == []
    bundle = body["observations"]
    assert bundle["resourceType"] == "Bundle" and bundle["total"] == 8
    rate = next(e["resource"] for e in bundle["entry"] if e["resource"]["code"]["coding"][0]["code"] == "8867-4")
    assert abs(rate["valueQuantity"]["value"] - 64) <= 2 and rate["valueQuantity"]["unit"] == "/min"
    assert rate["subject"] == {"reference": "Patient/th01-pat-1"}
    assert rate["derivedFrom"] == [{"reference": f"ImagingStudy/{study['id']}"}]
    assert body["device"]["qt_ms"] == 380  # the cart's own numbers, beside the hub's
    assert [lead["label"] for lead in body["leads"]["leads"]][:2] == ["I", "II"]
    assert body["leads"]["sampling_frequency"] == 500
    # Without leads, by ImagingStudy id; a connector token may not read; an unknown study is a 404.
    slim = community.client.get(f"/api/ecg/studies/{study['id']}?leads=false", headers=auth(community.tokens["clinician"]))
    assert slim.status_code == 200 and slim.json()["leads"] is None
    assert community.client.get(f"/api/ecg/studies/{uid}", headers=auth(community.tokens["connector_th01"])).status_code == 403
    missing = community.client.get("/api/ecg/studies/1.2.3", headers=auth(community.tokens["reader"]))
    assert missing.status_code == 404 and "no ECG study" in missing.json()["issue"][0]["diagnostics"]


def test_history_spans_the_community_patient(community: Community, settings: HubSettings) -> None:
    # th01/1 and cty01/A77 are one person (same resident ID): their ECGs are one history.
    earlier = ecg_event(settings.data_dir, ecg_file(EcgSpec(seed=2), patient="A77", when=WHEN.replace(day=1)),
                        facility="cty01", name="old.dcm")
    latest = ecg_event(settings.data_dir, ecg_file(EcgSpec(seed=4), patient="1"))
    other = ecg_event(settings.data_dir, ecg_file(EcgSpec(seed=6), patient="9"), facility="th02", name="x.dcm")
    apply(community.db, settings, earlier, latest, other)
    answer = community.client.get(f"/api/ecg/studies/{latest.related[0]['id']}/history",
                                  headers=auth(community.tokens["reader"]))
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["facility_id"] for i in items] == ["th01", "cty01"]
    assert all(i["status"] == "measured" for i in items)
