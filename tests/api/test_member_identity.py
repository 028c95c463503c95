"""Nobody speaks for another member, and two record numbers never become one patient (issue 8,
defects 3 and 4): at the FHIR door, over MLLP, from a HIS database, and in the record store."""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.his_db.connector import HisDbConnector
from connectors.mllp.connector import MllpConnector
from consumers.record_store.models import PatientLink, StoredResource
from consumers.record_store.writer import RecordWriter
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig, ConnectorConfigError
from hub.core.dead_letter import H_REASON
from hub.core.events import Event, Source
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from tests.api.conftest import Community, auth
from tests.api.test_acknowledged_is_visible import _his_database
from tests.api.test_fhir_ingest import PATIENT, ingest, transaction  # noqa: F401 - the fixture
from tests.conftest import free_port
from tests.connectors.test_mllp import PV1, Listener, msa, msh
from tests.factories import BASE_TIME
from tests.record_views import CODEC, apply, dead_letters, published

CTY01_MRN = "urn:hub:facility:cty01:mrn"


def _impostor(local: str = "A77") -> dict:
    """th01 posting a Patient that claims cty01's record number A77 (the community fixture's patient)."""
    patient = copy.deepcopy(PATIENT)
    patient["identifier"] = [{"system": CTY01_MRN, "value": local}]
    patient["name"] = [{"text": "冒名", "family": "冒", "given": ["名"]}]
    patient["birthDate"] = "2001-01-01"
    patient["gender"] = "female"
    return patient


# Defect 3: the FHIR door -------------------------------------------------------------------------------

def test_a_member_may_not_post_another_member_s_record_number(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    response = client.post("/fhir/Patient", json=_impostor(), headers=headers)
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["code"] == "forbidden" and issue["expression"] == ["Patient.identifier[0].system"]
    assert "identifier system of member cty01" in issue["diagnostics"]
    assert outbox.count() == 0


def test_nor_inside_a_transaction_or_a_batch(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    own = copy.deepcopy(PATIENT)
    whole = client.post("/fhir", json=transaction(own, _impostor()), headers=headers)
    assert whole.status_code in (403, 422), whole.text
    assert whole.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.identifier[0].system"]
    assert outbox.count() == 0  # all or nothing
    batch = client.post("/fhir", json=transaction(own, _impostor(), kind="batch"), headers=headers)
    assert batch.status_code == 200
    statuses = [e["response"]["status"] for e in batch.json()["entry"]]
    assert statuses[0].startswith("201") and statuses[1] == "403"
    assert [e.resource["id"] for e in published(outbox)] == ["th01-pat-88001"]
    assert len(dead_letters(outbox)) == 1  # the refused entry is kept, with its reason


def test_nor_name_another_member_s_order_in_a_reference(ingest, community: Community) -> None:  # noqa: F811
    client, _ = ingest
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "K"},
                   "subject": {"reference": "Patient/th01-pat-1"},
                   "basedOn": [{"identifier": {"system": "urn:hub:facility:cty01:order", "value": "O1"}}]}
    response = client.post("/fhir/Observation", json=observation, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 403
    assert response.json()["issue"][0]["expression"] == ["Observation.basedOn[0].identifier.system"]


@pytest.mark.parametrize("subject", ["Patient/cty01-pat-A77", "golden", "Patient/12345"])
def test_nor_file_a_result_under_a_patient_that_is_not_its_own(ingest, community: Community, subject: str) -> None:  # noqa: F811
    """A result about cty01's patient, the community patient or an id the hub never gave would be
    filed out of every view (or into another member's record): refused, with the reason."""
    client, outbox = ingest
    reference = f"Patient/{community.golden}" if subject == "golden" else subject
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "K"},
                   "subject": {"reference": reference}, "valueQuantity": {"value": 6.8, "unit": "mmol/L"}}
    response = client.post("/fhir/Observation", json=observation, headers=auth(community.tokens["connector_th01"]))
    assert response.status_code == 403, response.text
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["Observation.subject"] and "is not one of th01's patients" in issue["diagnostics"]
    assert outbox.count() == 0


def test_the_record_store_never_links_on_another_member_s_record_number(community: Community) -> None:
    """Defence in depth: an event that reached the store without the door's check (an old outbox,
    a connector of another kind) still cannot join or overwrite cty01's patient A77."""
    event = Event("impostor-1", "patient", Source("th01", "test", "x"), BASE_TIME, BASE_TIME, "th01/imp",
                  {**_impostor(), "id": "th01-pat-imp"})
    with community.db.transaction() as session:
        writer = RecordWriter(session)
        writer.apply(event)
        writer.finish()
    with community.db.sessions() as session:
        victim = session.get(PatientLink, "cty01/A77")
        impostor = session.get(PatientLink, "th01/imp")
        assert victim is not None and impostor is not None
        assert impostor.community_patient_id != victim.community_patient_id
        golden = json.loads(session.get(StoredResource, ("Patient", victim.community_patient_id)).content)
    assert golden["name"][0]["text"] == "王秀英" and golden["birthDate"] == "1990-03-07"


# Defect 3: the HIS database door ------------------------------------------------------------------------

def test_a_his_mapping_naming_another_member_s_system_is_refused(community: Community, tmp_path: Path) -> None:
    """A mapping file that writes cty01's system into th01's rows: every such row is a dead letter."""
    mapping = (Path(__file__).parents[2] / "connectors/his_db/mappings/vendor_a.yaml").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(mapping.replace('system: "urn:hub:facility:{facility}:mrn"', f'system: "{CTY01_MRN}"'),
                     encoding="utf-8")
    config = ConnectorConfig(name="th01-his", kind="his_db", facility_id="th01",
                             options={"database_url": _his_database(tmp_path, "A77"), "mapping": str(wrong)})
    outbox = Outbox(tmp_path / "his.outbox", "his")
    report = Sink("th01-his", "th01", outbox, CODEC, HubSettings(data_dir=tmp_path)).accept(
        HisDbConnector(config, HubSettings()).poll({}))
    refused = [o for o in report.outcomes if not o.accepted]
    assert len(refused) == 1 and "identifier system of member cty01" in (refused[0].reason or "")
    assert all(e.resource["resourceType"] != "Patient" for e in published(outbox))


# Defect 3: MLLP connections are bound to their members ----------------------------------------------------

class BoundListener(Listener):
    """TH01 may connect only from 127.0.0.2; TH02 from loopback (the default)."""

    def __init__(self, tmp_path: Path) -> None:  # noqa: D107 - the plain listener, with allow_from
        self.settings = HubSettings(data_dir=tmp_path, mllp_port=free_port())
        config = ConnectorConfig(name="mllp", kind="mllp", facility_id="cty01", options={
            "senders": {"TH01": {"facility_id": "th01", "allow_from": ["127.0.0.2/32"]},
                        "TH02": {"facility_id": "th02"}},
        })
        self.connector = MllpConnector(config, self.settings)
        self.outbox = Outbox(tmp_path / "bound.db", "mllp")
        self.sink = Sink("mllp", "cty01", self.outbox, CODEC, self.settings, facilities=self.connector.facilities())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.connector.serve, args=(self.stop, self.sink), daemon=True)
        self.thread.start()
        assert self.connector.ready.wait(5)
        self.sock = self.connect("127.0.0.1")

    def connect(self, source: str) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.connector.port), timeout=10, source_address=(source, 0))


@pytest.fixture
def bound(tmp_path: Path) -> Iterator[BoundListener]:
    running = BoundListener(tmp_path)
    yield running
    running.close()


def _a04(sender: str, control: str) -> str:
    pid = "PID|1||000123^^^X^MR||王^秀英||19920610|F"
    return "\r".join([msh("ADT^A04^ADT_A01", control, sender=sender), "EVN|A04|20261123083000", pid, PV1])


def test_a_connection_may_not_speak_for_a_member_it_is_not(bound: BoundListener) -> None:
    ack = bound.send(_a04("TH01", "S1"))  # from 127.0.0.1, but TH01 is bound to 127.0.0.2
    assert msa(ack)[1] == "AR"
    assert "may not send for member th01" in msa(ack)[3] and "127.0.0.1" in msa(ack)[3]
    assert bound.events() == []
    (kept,) = bound.dead_letters()
    assert "may not send for member th01" in dict(kept.record.headers)[H_REASON].decode()
    assert msa(bound.send(_a04("TH02", "S2")))[1] == "AA"  # the same connection for its own member


def test_the_member_s_own_address_is_accepted(bound: BoundListener) -> None:
    bound.sock.close()
    bound.sock = bound.connect("127.0.0.2")
    assert msa(bound.send(_a04("TH01", "S3")))[1] == "AA"
    (event,) = [e for e in bound.events() if e.event_type == "patient"]
    assert event.source.facility_id == "th01"


def test_an_allow_list_that_is_not_an_address_is_a_config_error(tmp_path: Path) -> None:
    config = ConnectorConfig(name="mllp", kind="mllp", facility_id="cty01",
                             options={"senders": {"TH03": {"facility_id": "th03", "allow_from": ["clinic-3"]}}})
    with pytest.raises(ConnectorConfigError, match="allow_from"):
        MllpConnector(config, HubSettings(data_dir=tmp_path))


# Defect 4: two record numbers, two patients ---------------------------------------------------------------

@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    running = Listener(tmp_path)
    yield running
    running.close()


def test_abc_1_and_ABC_1_stay_two_patients_over_mllp(community: Community, listener: Listener) -> None:
    first = "PID|1||abc-1^^^TH01^MR||张^一||19800101|M"
    second = "PID|1||ABC_1^^^TH01^MR||李^二||19900202|F"
    for control, pid in (("D1", first), ("D2", second)):
        assert msa(listener.send("\r".join([msh("ADT^A04^ADT_A01", control), "EVN|A04|20261123083000", pid, PV1])))[1] \
            == "AA"
    patients = [e.resource for e in listener.events() if e.event_type == "patient"]
    assert len({p["id"] for p in patients}) == 2
    apply(community.db, listener.events())
    with community.db.sessions() as session:
        stored = {row.id: json.loads(row.content) for row in session.scalars(
            select(StoredResource).where(StoredResource.id.in_([p["id"] for p in patients])))}
    assert sorted(p["name"][0]["text"] for p in stored.values()) == ["张一", "李二"]


def test_abc_1_and_ABC_1_stay_two_patients_over_fhir(ingest, community: Community) -> None:  # noqa: F811
    client, outbox = ingest
    headers = auth(community.tokens["connector_th01"])
    ids = set()
    for number in ("abc-1", "ABC_1", "abc 1", "x" * 63 + "1", "x" * 63 + "2"):
        body = {**copy.deepcopy(PATIENT), "identifier": [{"system": "urn:hub:facility:th01:mrn", "value": number}]}
        response = client.post("/fhir/Patient", json=body, headers=headers)
        assert response.status_code == 201, response.text
        ids.add(response.json()["id"])
    assert len(ids) == 5
    assert "th01-pat-abc-1" in ids  # a safe lower-case number keeps the id it always had
