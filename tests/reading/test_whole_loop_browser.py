"""The remote ECG centre's whole loop, every part real: a township's order and a real 12-lead DICOM ECG
through the broker; the ECG part measures it; a reader in Chromium claims the item, sees all twelve
leads on ECG paper, measures with the calipers, writes and signs the report; the report reaches the
shared record and arrives as an ORU^R01 at the township's own MLLP listener (GB18030); the item has left
the worklist."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from consumers.delivery.consumer import DeliveryConsumer
from consumers.delivery.sender import Pacing, run_senders
from consumers.ecg.consumer import EcgConsumer
from consumers.reading.consumer import ReadingConsumer
from consumers.reading.models import ReadingItem
from consumers.record_store.consumer import RecordStoreConsumer
from consumers.record_store.writer import RecordWriter
from hub.app import parts as registered
from hub.app.api.app import create_app
from hub.core import kafka_io
from hub.core.connector import ConnectorConfig
from hub.core.db import Database
from hub.core.parts import PartContext
from hub.core.web.auth import issue_token
from hub.tools.demo.ecgs import EcgSpec, Subject, ecg_dataset
from tests.delivery.members import MllpMember, field_of
from tests.ecg.helpers import WHEN, dicom_bytes, ecg_event
from tests.factories import patient_event
from tests.hub.test_consuming import publish
from tests.reading.conftest import LIVE_ADMIN, LiveHub, serving
from tests.reading.factories import order
from tests.waiting import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.broker]
ITEM = "rd-th01-sr-W1"
MM = 96 / 25.4  # CSS pixels per millimetre at zoom 1 (the viewer's honest scale)


@pytest.fixture
def township() -> Iterator[MllpMember]:
    member = MllpMember(charset="gb18030").start()
    yield member
    member.stop()


@pytest.fixture
def whole_hub(broker_settings: Any, db: Database, township: MllpMember) -> Iterator[LiveHub]:
    kafka_io.ensure_topics(broker_settings)
    settings = broker_settings.model_copy(update={"admin_token": SecretStr(LIVE_ADMIN)})
    with db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(patient_event("th01", "1", name="王秀英", resident_id="110101199003074573"))
        writer.finish()
        tokens = {"reader": issue_token(session, "reader-zhang", "reader", "cty01"), "admin": LIVE_ADMIN}
    th01 = ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01", options={},
                           deliver_to=[{"kind": "mllp", "host": "127.0.0.1", "port": township.port,
                                        "charset": "GB18030", "timeout_s": 5}])
    app = create_app(settings, db)
    context = PartContext(settings, db, registered.services(), app.state.results, connector_configs=[th01])
    consumers = [RecordStoreConsumer(settings), ReadingConsumer(settings), EcgConsumer(settings),
                 DeliveryConsumer(settings)]
    for consumer in consumers:
        consumer.bind(context)
    pacing = Pacing(down_initial_s=0.2)
    senders = (lambda stop: run_senders(context, stop, pacing), ())
    with serving(app, settings, db, consumers, [senders]) as url:
        yield LiveHub(url, db, settings, tokens, app)


def _item(hub: LiveHub) -> ReadingItem | None:
    with hub.db.reading() as session:
        return session.get(ReadingItem, ITEM)


def test_a_reader_reads_a_township_ecg_and_the_report_reaches_the_township(
        whole_hub: LiveHub, township: MllpMember, tmp_path: Path, page) -> None:
    # The township's cart recorded the ordered ECG: its accession number is the HIS order number.
    ds = ecg_dataset(EcgSpec(), Subject("1", "王^秀英", "F", "19900307"), WHEN)
    ds.AccessionNumber = "W1"
    arrival = ecg_event(whole_hub.settings.data_dir, dicom_bytes(ds))
    publish(whole_hub.settings, [order(number="W1", priority="stat"), arrival])
    wait_for(lambda: (item := _item(whole_hub)) is not None and item.state == "ready", 90)
    # Measured on arrival by the ECG part, before anyone opens it.
    study = arrival.related[0]["id"] if arrival.related else arrival.resource["id"]
    wait_for(lambda: whole_hub.api("GET", f"/api/ecg/studies/{study}").json().get("status") == "measured", 90)

    page.goto(f"{whole_hub.url}/reading")
    page.fill("#token", whole_hub.tokens["reader"])
    page.click("text=Use token")
    row = f'#worklist tr[data-id="{ITEM}"]'
    page.wait_for_selector(row)
    page.click(f"{row} button.claim")
    page.wait_for_selector("#bench:not([hidden])")

    # All twelve leads and the rhythm strip on ECG paper, in the real viewer.
    viewer = page.locator("#viewer .ecg-viewer")
    page.wait_for_function("(document.querySelector('#viewer .ecg-viewer')?.dataset.leads || '').includes('rhythm')")
    drawn = set(viewer.get_attribute("data-leads").split(","))
    assert {"I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"} <= drawn
    # Calipers: 25 mm across at 25 mm/s is one second; 10 mm up at 10 mm/mV is one millivolt.
    # Measured once the page has settled: the viewer's stylesheet applied, the report form prefilled.
    page.wait_for_function("getComputedStyle(document.querySelector('#viewer .hub-ecg-paper')).overflow === 'auto'")
    page.wait_for_function("document.querySelector('#report [name=rate]').value !== ''")
    canvas = page.locator("#viewer .hub-ecg-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    x0, y0 = box["x"] + 40 * MM, box["y"] + 30 * MM
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 25 * MM, y0 - 10 * MM, steps=5)
    page.mouse.up()
    page.wait_for_function("document.querySelector('#viewer .ecg-viewer').dataset.caliperMs !== undefined")
    assert float(viewer.get_attribute("data-caliper-ms")) == pytest.approx(1000, abs=15)
    assert float(viewer.get_attribute("data-caliper-mv")) == pytest.approx(1.0, abs=0.03)

    # The report started from the automatic measurements (above); the reader concludes and signs.
    page.fill("#report [name=rhythm]", "窦性心律")
    page.fill("#report [name=conclusion]", "窦性心律，正常心电图")
    page.click("#sign")
    page.wait_for_function("document.querySelector('#report-message').textContent.includes('已签发')")
    page.wait_for_selector(row, state="detached")  # the item left the worklist
    page.screenshot(path=str(tmp_path / "whole-loop.png"), full_page=True)

    # In the shared record, and at the township as an ORU^R01 in its own character set.
    wait_for(lambda: whole_hub.api("GET", "/fhir/DiagnosticReport", params={"patient": "th01-pat-1"})
             .json().get("total", 0) >= 1, 60)
    wait_for(lambda: any("ORU^R01" in m for m in township.received), 60)
    oru = next(m for m in township.received if "ORU^R01" in m)
    assert field_of(oru, "MSH", 18) == "GB 18030-2000"
    assert field_of(oru, "PID", 3).startswith("1^")
    assert "窦性心律，正常心电图" in oru
    assert "OBX" in oru and "8867-4" in oru  # the heart rate went with it
