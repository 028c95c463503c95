"""HL7 v2 over MLLP: real messages over a TCP socket, in UTF-8 and GB18030, and the bad-input corpus."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from connectors.mllp.connector import MllpConnector
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.dead_letter import H_REASON
from hub.core.fhir import validate_resource
from hub.core.mllp_framing import END, START
from hub.core.outbox import Outbox
from hub.core.pipeline import Sink
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import DEAD_LETTER
from tests.conftest import free_port

CODEC = EventCodec(FileSchemaRegistry())


class Listener:
    def __init__(self, tmp_path: Path) -> None:
        self.settings = HubSettings(data_dir=tmp_path, mllp_port=free_port())
        config = ConnectorConfig(name="mllp", kind="mllp", facility_id="cty01", options={
            "senders": {"TH01": {"facility_id": "th01"}, "TH02": {"facility_id": "th02", "charset": "GBK"}},
        })
        self.connector = MllpConnector(config, self.settings)
        self.outbox = Outbox(tmp_path / "mllp.db", "mllp")
        self.sink = Sink("mllp", "cty01", self.outbox, CODEC, self.settings, facilities=self.connector.facilities())
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.connector.serve, args=(self.stop, self.sink), daemon=True)
        self.thread.start()
        assert self.connector.ready.wait(5)
        self.sock = socket.create_connection(("127.0.0.1", self.connector.port), timeout=10)

    def send(self, message: str | bytes, charset: str = "utf-8") -> list[str]:
        """Sends one message; returns the ACK's segments (decoded in `charset`)."""
        data = message if isinstance(message, bytes) else message.replace("\n", "\r").encode(charset)
        self.sock.sendall(START + data + END + b"\r")
        answer = b""
        while not answer.endswith(END + b"\r"):
            chunk = self.sock.recv(65536)
            assert chunk, "the listener closed the connection"
            answer += chunk
        return answer[1:-2].decode(charset).strip("\r").split("\r")

    def events(self) -> list:
        return [CODEC.decode(r.record.value) for r in self.outbox.pending(10_000) if r.record.topic != DEAD_LETTER.name]

    def dead_letters(self) -> list:
        return [r for r in self.outbox.pending(10_000) if r.record.topic == DEAD_LETTER.name]

    def close(self) -> None:
        self.sock.close()
        self.stop.set()
        self.thread.join(5)


def msh(kind: str, control: str, charset: str = "UNICODE UTF-8", sender: str = "TH01", version: str = "2.5") -> str:
    return f"MSH|^~\\&|HIS|{sender}|HUB|CTY01|20261123083000||{kind}|{control}|P|{version}|||||CHN|{charset}"


PID = "PID|1||000123^^^TH01^MR~330122199206105328^^^^NI||王^秀英^^^^^L||19920610|F|||李家村8号^^青山县^浙江^^^H||^PRN^PH^^^^^^^^^13812345678"
PV1 = "PV1|1|I|ward-3^01^02|||||||||||||||V0001|||||||||||||||||||||||||20261123080000"


def a01(control: str = "M1", pid: str = PID, charset: str = "UNICODE UTF-8", sender: str = "TH01") -> str:
    return "\r".join([msh("ADT^A01^ADT_A01", control, charset, sender), "EVN|A01|20261123083000", pid, PV1])


def msa(ack: list[str]) -> list[str]:
    return next(s for s in ack if s.startswith("MSA")).split("|")


def err(ack: list[str]) -> list[str]:
    return next(s for s in ack if s.startswith("ERR")).split("|")


def test_admission_in_utf8_becomes_patient_and_encounter(listener: Listener) -> None:
    ack = listener.send(a01())
    assert msa(ack)[:3] == ["MSA", "AA", "M1"]
    assert ack[0].split("|")[8] == "ACK^A01^ACK" and ack[0].endswith("UNICODE UTF-8")
    patient, encounter = listener.events()
    assert patient.resource["id"] == "th01-pat-000123" and patient.patient_key == "th01/000123"
    assert patient.resource["name"][0]["text"] == "王秀英"
    assert patient.source.facility_id == "th01"
    assert encounter.resource["class"]["code"] == "IMP" and encounter.resource["status"] == "in-progress"
    for event in (patient, encounter):
        validate_resource(event.resource)


def test_gb18030_names_arrive_intact(listener: Listener) -> None:
    pid = PID.replace("王^秀英", "欧阳^𠀀娜")
    ack = listener.send(a01("G1", pid, "GB 18030-2000"), charset="gb18030")
    assert msa(ack)[1] == "AA"
    assert listener.events()[0].resource["name"][0]["text"] == "欧阳𠀀娜"


def test_sender_default_charset_when_msh18_is_empty(listener: Listener) -> None:
    ack = listener.send(a01("K1", charset="", sender="TH02").replace("^^^TH01^MR", "^^^TH02^MR"), charset="gbk")
    assert msa(ack)[1] == "AA"
    assert listener.events()[0].resource["name"][0]["text"] == "王秀英"


def test_resent_message_is_acknowledged_but_stored_once(listener: Listener) -> None:
    assert msa(listener.send(a01("D1")))[1] == "AA"
    again = msa(listener.send(a01("D1")))
    assert again[1] == "AA" and "duplicate" in again[3]
    assert len(listener.events()) == 2


def test_a_reused_control_id_with_a_new_time_is_a_new_message(listener: Listener) -> None:
    # Some HIS interfaces restart their control ids every day: MSH-7 tells the messages apart.
    assert msa(listener.send(a01("R1")))[1] == "AA"
    next_day = a01("R1").replace("|20261123083000||ADT", "|20261124083000||ADT")
    ack = msa(listener.send(next_day))
    assert ack[1] == "AA" and "duplicate" not in "|".join(ack)
    assert len(listener.events()) == 4


def test_lab_results(listener: Listener) -> None:
    oru = "\r".join([
        msh("ORU^R01^ORU_R01", "L1", version="2.4"), PID,
        "OBR|1|P100|F100|2345-7^血糖^LN|||20261123080000|||||||||||||||20261123090000|||F",
        "OBX|1|NM|2345-7^葡萄糖^LN||7.2|mmol/L|3.9-6.1|H|||F",
        "OBX|2|ST|NOTE^备注^L||空腹采血||||||F",
    ])
    assert msa(listener.send(oru))[1] == "AA"
    report = next(e for e in listener.events() if e.event_type == "lab_result")
    assert report.resource["id"] == "th01-dr-F100" and len(report.related) == 2
    glucose = report.related[0]
    assert glucose["valueQuantity"] == {"value": 7.2, "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                        "code": "mmol/L"}
    assert glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert glucose["referenceRange"] == [{"low": {"value": 3.9}, "high": {"value": 6.1}}]
    assert report.related[1]["valueString"] == "空腹采血"
    for resource in (report.resource, *report.related):
        validate_resource(resource)


def test_ecg_order_and_prescriptions(listener: Listener) -> None:
    orm = "\r".join([msh("ORM^O01", "E1"), PID, "ORC|NW|ECG77|||||^^^^^S||20261123081000",
                     "OBR|1|ECG77||11524-6^十二导联心电图^LN|||20261123081000"])
    assert msa(listener.send(orm))[1] == "AA"
    rde = "\r".join([msh("RDE^O11", "R1"), PID, "ORC|NW|RX9||||||||20261123081500",
                     "RXE|1|XJ01^二甲双胍片^NHSA|0.5||g"])
    assert msa(listener.send(rde))[1] == "AA"
    by_type = {e.event_type: e for e in listener.events()}
    ecg = by_type["imaging_request"].resource
    assert ecg["code"]["coding"][0]["code"] == "11524-6" and ecg["priority"] == "stat"
    rx = by_type["prescription"].resource
    assert rx["medicationCodeableConcept"]["coding"][0] == {"system": "urn:hub:code:nhsa-drug", "code": "XJ01",
                                                             "display": "二甲双胍片"}
    validate_resource(ecg)
    validate_resource(rx)


def test_a_local_drug_code_nobody_mapped_is_kept_flagged_and_acknowledged(listener: Listener) -> None:
    """The member's own code reaches the central pharmacy's mapping queue; the prescription is not lost."""
    rde = "\r".join([msh("RDE^O11", "R2"), PID, "ORC|NW|RX10||||||||20261123081500",
                     "RXE|^TID^^20261123|YN-0042^院内制剂·止咳合剂^L|10||ml", "RXR|PO^口服",
                     "RXE|^QD|B01AC06^阿司匹林^WC|100||mg"])
    assert msa(listener.send(rde))[1] == "AA"
    assert listener.dead_letters() == []
    local, atc = [e for e in listener.events() if e.event_type == "prescription"]
    assert local.resource["medicationCodeableConcept"]["coding"] == [
        {"system": "urn:hub:code:local-drug:th01", "code": "YN-0042", "display": "院内制剂·止咳合剂"}]
    assert local.flags == ("unmapped-local-drug-code",)
    (dosage,) = local.resource["dosageInstruction"]
    assert dosage["doseAndRate"] == [{"doseQuantity": {"value": 10, "unit": "ml"}}]
    assert dosage["timing"]["repeat"] == {"frequency": 3, "period": 1, "periodUnit": "d"}
    assert dosage["route"] == {"text": "口服"}
    assert atc.resource["medicationCodeableConcept"]["coding"][0]["system"] == "http://www.whocc.no/atc"
    assert atc.flags == () and "route" not in atc.resource["dosageInstruction"][0]
    for event in (local, atc):
        validate_resource(event.resource)


def test_merge_is_a_patient_merge_event(listener: Listener) -> None:
    a40 = "\r".join([msh("ADT^A40^ADT_A39", "X1"), "EVN|A40|20261123083000", PID, "MRG|000099^^^TH01^MR"])
    assert msa(listener.send(a40))[1] == "AA"
    (merge,) = listener.events()
    assert merge.event_type == "patient_merge"
    assert merge.resource["link"] == [{"other": {"reference": "Patient/th01-pat-000099"}, "type": "replaces"}]


def test_wrong_check_digit_is_accepted_and_flagged(listener: Listener) -> None:
    pid = PID.replace("330122199206105328", "330122199206105329")
    assert msa(listener.send(a01("C1", pid)))[1] == "AA"
    assert listener.events()[0].flags == ("resident-id-check-digit",)


def test_injection_looking_text_is_stored_verbatim(listener: Listener) -> None:
    pid = PID.replace("王^秀英", "Robert'); DROP TABLE patient;--^<script>alert(1)</script>")
    assert msa(listener.send(a01("I1", pid)))[1] == "AA"
    name = listener.events()[0].resource["name"][0]
    assert name["family"] == "Robert'); DROP TABLE patient;--" and name["given"] == ["<script>alert(1)</script>"]


BAD = [
    ("no MSH", "PID|1||1^^^TH01^MR||王^五", "utf-8", "AR", "does not start with an MSH"),
    ("broken MSH", "MSH", "utf-8", "AR", "does not start with an MSH"),
    ("unknown type", "\r".join([msh("QRY^Q01", "B3"), PID]), "utf-8", "AR", "unsupported message type"),
    ("unknown version", "\r".join([msh("ADT^A01", "B4", version="3.0"), PID, PV1]), "utf-8", "AR", "version"),
    ("unknown charset", a01("B5", charset="KLINGON"), "utf-8", "AR", "KLINGON"),
    ("out of order", "\r".join([msh("ADT^A01", "B6"), PV1, PID]), "utf-8", "AE", "out of order"),
    ("missing PV1", "\r".join([msh("ADT^A01", "B7"), PID]), "utf-8", "AE", "needs a PV1"),
    ("no name", a01("B8", PID.replace("王^秀英^^^^^L", "")), "utf-8", "AE", "PID-5"),
    # Required fields refuse when absent, and HL7's explicit null `""` is absent. (A malformed optional
    # field such as a bad birth date is accepted with a warning: test_hl7_nulls_and_warnings.py.)
    ("null record number", a01("B9", PID.replace("000123^^^TH01^MR~", '""~')), "utf-8", "AE", "PID-3"),
    ("null name", a01("B15", PID.replace("王^秀英^^^^^L", '""')), "utf-8", "AE", "PID-5"),
    ("not a segment", a01("B16") + "\rthis is not HL7", "utf-8", "AE", "cannot be parsed"),
    ("GB18030 declared UTF-8", a01("B10").encode("gb18030"), None, "AE", "PID-5"),
    ("UTF-8 declared GB18030", a01("B11", charset="GB18030").encode("utf-8"), None, "AE", "PID-5"),
    # These UTF-8 bytes happen to be valid GB18030 ("中国" reads as "涓浗"): caught as mojibake.
    ("mojibake", a01("B14", "PID|1||000123^^^TH01^MR||中^国||19920610|F", charset="GB18030").encode("utf-8"), None, "AE",
     "looks like UTF-8 bytes read as GB18030"),
    ("replacement chars", a01("B12", PID.replace("秀英", "\ufffd\ufffd")), "utf-8", "AE", "U+FFFD"),
    ("unknown sender", a01("B13", sender="NOWHERE"), "utf-8", "AR", "NOWHERE"),
]


@pytest.mark.parametrize("name, message, charset, code, reason", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_an_answer_and_a_dead_letter(listener: Listener, name, message, charset, code, reason) -> None:
    data = message if isinstance(message, bytes) else message.encode(charset)
    ack = listener.send(data, charset="latin-1" if charset is None else charset)
    assert msa(ack)[1] == code, ack
    assert reason in msa(ack)[3]
    assert err(ack)[3].endswith("^^HL70357")
    (dead,) = listener.dead_letters()
    assert reason in dict(dead.record.headers)[H_REASON].decode()
    assert listener.events() == []
    assert msa(listener.send(a01("after-" + name.replace(" ", "-"))))[1] == "AA"  # the connection still works


def test_oversized_message_is_refused_and_the_connection_survives(listener: Listener) -> None:
    huge = a01("BIG", PID.replace("李家村8号", "长" * 600_000))
    ack = listener.send(huge)
    assert msa(ack)[1] == "AR" and "over the" in msa(ack)[3]
    assert msa(listener.send(a01("small")))[1] == "AA"


def test_accepted_plus_rejected_equals_sent(listener: Listener) -> None:
    sent = [a01(f"N{i}") for i in range(20)] + [m for _, m, c, _, _ in BAD if c][:6]
    answers = [msa(listener.send(m))[1] for m in sent]
    accepted = answers.count("AA")
    rejected = answers.count("AE") + answers.count("AR")
    assert accepted + rejected == len(sent)
    messages_in_outbox = {e.source.position for e in listener.events()}
    assert len(messages_in_outbox) == accepted and len(listener.dead_letters()) == rejected


def _reason(record: object) -> str:
    return dict(record.record.headers)[H_REASON].decode()  # type: ignore[attr-defined]


def test_raw_hl7_without_framing_is_refused_and_dead_lettered(listener: Listener) -> None:
    listener.sock.sendall(a01("RAW1").replace("\n", "\r").encode() + b"\r")
    answer = b""
    while not answer.endswith(END + b"\r"):
        chunk = listener.sock.recv(65536)
        assert chunk, "the listener closed the connection without an answer"
        answer += chunk
    ack = answer[1:-2].decode().strip("\r").split("\r")
    assert msa(ack)[1] == "AR" and msa(ack)[2] == "RAW1" and "not MLLP-framed" in msa(ack)[3]
    assert listener.sock.recv(10) == b""  # then closed: the stream is not MLLP
    [dead] = listener.dead_letters()
    assert "not MLLP-framed" in _reason(dead) and b"MSH|" in dead.record.value
    assert listener.events() == []


def test_a_truncated_frame_does_not_swallow_the_next_one(listener: Listener) -> None:
    cut = a01("CUT1").replace("\n", "\r").encode()[:60]
    listener.sock.sendall(START + cut)  # a sender that died mid-message, then starts again
    ack = listener.send(a01("WHOLE1"))
    assert msa(ack)[1] == "AA" and msa(ack)[2] == "WHOLE1"
    assert len(listener.events()) == 2  # the complete message: Patient and Encounter
    [dead] = listener.dead_letters()
    assert "cut short after 60 bytes" in _reason(dead) and dead.record.value == cut


def test_a_10_mb_message_is_refused_and_kept_whole(listener: Listener) -> None:
    from hub.core.blobs import FileBlobStore
    from hub.core.dead_letter import H_QUARANTINE

    huge = a01("HUGE", PID.replace("李家村8号", "x" * 10_000_000)).replace("\n", "\r").encode()
    ack = listener.send(huge)
    assert msa(ack)[1] == "AR" and "over the" in msa(ack)[3]
    [dead] = listener.dead_letters()
    ref = dict(dead.record.headers)[H_QUARANTINE].decode()
    assert ref.startswith("blob:sha256/")
    kept = FileBlobStore(listener.settings.data_dir / "blobs").get(ref)
    assert kept == huge  # every byte, not the first 4 KB
    assert msa(listener.send(a01("after-huge")))[1] == "AA"


def test_allergies_in_an_admission_become_allergy_intolerances(listener: Listener) -> None:
    adt = "\r".join([msh("ADT^A01", "AL1"), PID, PV1,
                     "AL1|1|DA|J01CA^青霉素类^ATC|SV|皮疹~呼吸困难|20200101",
                     "AL1|2|FA|^海鲜|MI||"])
    assert msa(listener.send(adt))[1] == "AA"
    allergies = [e for e in listener.events() if e.event_type == "allergy"]
    assert [a.resource["code"]["text"] for a in allergies] == ["青霉素类", "海鲜"]
    penicillin = allergies[0].resource
    assert penicillin["category"] == ["medication"] and penicillin["criticality"] == "high"
    assert penicillin["code"]["coding"][0] == {"system": "http://www.whocc.no/atc", "code": "J01CA",
                                               "display": "青霉素类"}
    assert [r["manifestation"][0]["text"] for r in penicillin["reaction"]] == ["皮疹", "呼吸困难"]
    assert penicillin["patient"]["reference"] == "Patient/th01-pat-000123"
    assert allergies[0].patient_key == "th01/000123"
    for allergy in allergies:
        validate_resource(allergy.resource)


def test_dispense_becomes_medication_dispense(listener: Listener) -> None:
    rds = "\r".join([msh("RDS^O13", "D1"), PID, "ORC|RE|RX9||||||||20261123081500",
                     "RXD|1|XJ01^二甲双胍片^NHSA|20261123090000|28|^片"])
    assert msa(listener.send(rds))[1] == "AA"
    dispense = next(e for e in listener.events() if e.event_type == "dispense").resource
    assert dispense["resourceType"] == "MedicationDispense" and dispense["status"] == "completed"
    assert dispense["quantity"] == {"value": 28, "unit": "片"}
    assert dispense["authorizingPrescription"][0]["reference"] == "MedicationRequest/th01-rx-RX9-1"
    assert dispense["medicationCodeableConcept"]["coding"][0]["code"] == "XJ01"
    validate_resource(dispense)


def test_a_dispense_without_a_drug_is_refused_with_the_field(listener: Listener) -> None:
    rds = "\r".join([msh("RDS^O13", "D2"), PID, "ORC|RE|RX9", "RXD|1||20261123090000|28"])
    answer = msa(listener.send(rds))
    assert answer[1] == "AE" and "RXD-2" in answer[3]
    assert not [e for e in listener.events() if e.event_type == "dispense"]
    assert len(listener.dead_letters()) == 1
