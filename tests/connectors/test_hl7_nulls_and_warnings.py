"""HL7 v2 as the standard reads it: `""` is an explicit null that clears an element on an update, an
empty field is simply not sent, and a malformed optional field is left out of an accepted message
with a warning (ERR severity W) in the ACK, a data-quality tag on the resource and a flag on the event.
Messages go over a real MLLP socket; the updates are applied by the record store (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from connectors.mllp import ack as acks
from connectors.mllp.quality import FieldIssue
from consumers.record_store.models import PatientLink, StoredResource
from hub.core.db import Database
from hub.core.fhir import validate_resource
from tests.connectors.test_mllp import PID, Listener, msa, msh
from tests.consumers.test_a40_merge import deliver


def stored(db: Database, rtype: str, rid: str) -> dict[str, Any]:
    with db.sessions() as session:
        row = session.get(StoredResource, (rtype, rid))
        assert row is not None, f"{rtype}/{rid} is not stored"
        return dict(json.loads(row.content))


def golden(db: Database, key: str) -> dict[str, Any]:
    with db.sessions() as session:
        community = session.get(PatientLink, key).community_patient_id
    return stored(db, "Patient", community)


def errs(ack: list[str]) -> list[list[str]]:
    return [s.split("|") for s in ack if s.startswith("ERR")]


def pv1(**fields: str) -> str:
    """PV1 with visit number V0001 (PV1-19) and admission (PV1-44); `f45="..."` and so on add fields."""
    values = {2: "I", 3: "ward-3^01^02", 19: "V0001", 44: "20261123080000"} | {int(k[1:]): v for k, v in fields.items()}
    return "|".join(["PV1", "1", *(values.get(n, "") for n in range(2, max(values) + 1))])


PV1 = pv1()
DISCHARGED = pv1(f45="20261125100000")


def adt(trigger: str, control: str, pid: str = PID, visit: str = PV1) -> str:
    return "\r".join([msh(f"ADT^{trigger}^ADT_A01", control), f"EVN|{trigger}|20261123083000", pid, visit])


def a01(control: str, pid: str = PID) -> str:
    return adt("A01", control, pid)


def test_a_null_in_an_update_clears_the_element_in_the_shared_record(listener: Listener, db: Database) -> None:
    assert msa(listener.send(a01("U1")))[1] == "AA"
    assert msa(listener.send(adt("A03", "U2", visit=DISCHARGED)))[1] == "AA"
    deliver(db, listener.events())
    assert stored(db, "Patient", "th01-pat-000123")["birthDate"] == "1992-06-10"
    assert stored(db, "Encounter", "th01-enc-V0001")["status"] == "finished"
    assert golden(db, "th01/000123")["birthDate"] == "1992-06-10"

    # The registrar deletes a wrong birth date and phone; the discharge is undone.
    nulls = PID.replace("||19920610|", '||""|').replace("^PRN^PH^^^^^^^^^13812345678", '""')
    answer = listener.send(adt("A08", "U3", pid=nulls, visit=pv1(f45='""')))
    assert msa(answer)[1] == "AA" and errs(answer) == []  # a null is not a data-quality problem
    update = listener.events()[-2:]
    assert '""' not in json.dumps([e.resource for e in update], ensure_ascii=False)
    deliver(db, update)
    patient, encounter = stored(db, "Patient", "th01-pat-000123"), stored(db, "Encounter", "th01-enc-V0001")
    assert "birthDate" not in patient and "telecom" not in patient
    assert patient["meta"]["versionId"] == "3" and patient["name"][0]["text"] == "王秀英"  # A01, A03, A08; the rest is kept
    assert "end" not in encounter["period"] and encounter["status"] == "in-progress"
    assert "birthDate" not in golden(db, "th01/000123")


def test_an_empty_field_is_not_sent_and_not_an_error(listener: Listener) -> None:
    answer = listener.send(a01("E1", PID.replace("|19920610|F|", "|||")))
    assert msa(answer)[1] == "AA" and errs(answer) == []
    patient = listener.events()[0]
    assert "birthDate" not in patient.resource and "gender" not in patient.resource and patient.flags == ()


ORU = "\r".join([
    msh("ORU^R01^ORU_R01", "W5", version="2.4"), PID,
    "OBR|1|P100|F100|2345-7^血糖^LN|||20261123080000|||||||||||||||20261123090000|||F",
    "OBX|1|NM|2345-7^葡萄糖^LN||7.2|mmol/L|3.9-6.1|H|||F|||20261123080000",
    "OBX|2|NM|2345-7^葡萄糖^LN||6.1|mmol/L|3.9-6.1|N|||F|||2026112399",
])

MALFORMED = [
    # field, message, ERR-2, ERR-3 (table 0357), the event type carrying it, what is left out
    ("PID-7", a01("W1", PID.replace("||19920610|", "||196203520|")), "PID^1^7", acks.DATA_TYPE, "patient", "birthDate"),
    ("PID-8", a01("W2", PID.replace("19920610|F|", "19920610|W|")), "PID^1^8", acks.TABLE_VALUE, "patient", "gender"),
    ("PID-13", a01("W3", PID.replace("13812345678", "无")), "PID^1^13", acks.DATA_TYPE, "patient", "telecom"),
    ("PV1-45", adt("A01", "W4", visit=pv1(f45="2026-11-24")), "PV1^1^45", acks.DATA_TYPE, "encounter", "period.end"),
    ("PV1-2", adt("A01", "W6", visit=pv1(f2="住院")), "PV1^1^2", acks.TABLE_VALUE, "encounter", "-"),
    ("OBX-14", ORU, "OBX^2^14", acks.DATA_TYPE, "lab_result", "effectiveDateTime"),
]


@pytest.mark.parametrize("field, message, location, code, event_type, left_out", MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_a_malformed_optional_field_is_left_out_with_a_warning(
    listener: Listener, field: str, message: str, location: str, code: str, event_type: str, left_out: str
) -> None:
    answer = listener.send(message)
    assert msa(answer)[1] == "AA", answer
    (err,) = errs(answer)
    assert err[2] == location and err[3] == f"{code}^^HL70357" and err[4] == "W"
    assert field in err[8] and ("stored without" in err[8] or "stored as" in err[8])
    assert listener.dead_letters() == []
    event = next(e for e in listener.events() if e.event_type == event_type)
    problem = {acks.TABLE_VALUE: "invalid-code"}.get(code, "invalid-phone" if field == "PID-13" else "invalid-date")
    assert event.flags == (f"data-quality:{field}:{problem}",)
    tagged = [r for r in (event.resource, *event.related) if (r.get("meta") or {}).get("tag")]
    (resource,) = tagged
    (tag,) = resource["meta"]["tag"]
    assert tag["system"] == "urn:hub:data-quality" and tag["code"] == f"{field}:{problem}"
    assert tag["extension"][0]["url"] == "urn:hub:data-quality:raw-value" and tag["extension"][0]["valueString"]
    if left_out == "-":  # a class is always given: outpatient unless the code says otherwise
        assert resource["class"]["code"] == "AMB"
    elif left_out == "effectiveDateTime":  # an observation without its own time takes the report's
        assert resource[left_out] == event.resource["effectiveDateTime"]
    else:
        parent, _, child = left_out.partition(".")
        assert (child not in resource.get(parent, {})) if child else (parent not in resource)
    for r in (event.resource, *event.related):
        validate_resource(r)


def test_the_data_quality_tag_reaches_the_shared_record_and_goes_with_a_correction(
    listener: Listener, db: Database
) -> None:
    assert msa(listener.send(a01("T1", PID.replace("||19920610|", "||196203520|"))))[1] == "AA"
    deliver(db, listener.events())
    (tag,) = stored(db, "Patient", "th01-pat-000123")["meta"]["tag"]
    assert tag["code"] == "PID-7:invalid-date" and tag["extension"][0]["valueString"] == "196203520"
    assert msa(listener.send(adt("A08", "T2")))[1] == "AA"  # the member corrects it
    deliver(db, listener.events()[-2:])
    patient = stored(db, "Patient", "th01-pat-000123")
    assert patient["birthDate"] == "1992-06-10" and "tag" not in patient["meta"]


def test_required_fields_still_refuse(listener: Listener) -> None:
    answer = listener.send(a01("Q1", PID.replace("000123^^^TH01^MR~330122199206105328^^^^NI", '""')))
    assert msa(answer)[1] == "AE" and "PID-3" in msa(answer)[3]
    (err,) = errs(answer)
    assert err[4] == "E" and err[3] == "101^^HL70357"
    assert listener.events() == [] and len(listener.dead_letters()) == 1


def test_before_2_5_a_warning_fills_err_1_as_well() -> None:
    issue = FieldIssue("PID", 1, 7, acks.DATA_TYPE, "invalid-date", "196203520", "PID-7 is not a date")
    text = acks.build_ack(acks.Ack("AA", warnings=(issue,)), {10: "C1", 12: "2.3"})
    (err,) = [s.split("|") for s in text.split("\r") if s.startswith("ERR")]
    assert err[1] == "PID^1^7^102" and err[2] == "PID^1^7" and err[4] == "W"


def test_a_long_malformed_value_is_quoted_short_and_kept_in_part(listener: Listener) -> None:
    answer = listener.send(a01("L1", PID.replace("||19920610|", "||" + "9" * 5000 + "|")))
    assert msa(answer)[1] == "AA"
    (err,) = errs(answer)
    assert len(err[8]) < 200 and "…" in err[8]
    (tag,) = listener.events()[0].resource["meta"]["tag"]
    assert len(tag["display"]) < 200 and tag["extension"][0]["valueString"] == "9" * 200
