"""The listener against HL7 v2 messages as vendors send them (tests/fixtures/hl7/, versions 2.3 to
2.5.1): each over a real MLLP socket, with CR, LF or CR LF between segments; the ACK and what is
published are checked, and every published resource is valid FHIR R4."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from hub.core.fhir import validate_resource
from tests.connectors.test_mllp import Listener, msa

SAMPLES = Path(__file__).parents[1] / "fixtures" / "hl7"


@dataclass(frozen=True)
class Sample:
    file: str
    ack: str  # MSA-1
    events: tuple[str, ...] = ()  # event types published, in order
    errs: tuple[str, ...] = ()  # ERR-2^ERR-3^ERR-4 of every ERR segment
    check: Callable[[dict[str, Any]], None] = field(default=lambda by_type: None)
    separator: str = "\r"
    charset: str = "utf-8"


def _email_and_2_3_layout(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert patient["telecom"] == [{"system": "phone", "value": "(999)999-1111"},
                                  {"system": "email", "value": "marge@example.com"}]
    assert patient["birthDate"] == "1958-03-19" and patient["name"][0]["text"] == "SIMPSON MARGE"
    assert by["encounter"].resource["identifier"][0]["value"] == "V135769"


def _zsegment_and_check_digit(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert patient["id"] == "th01-pat-PATID1234" and patient["gender"] == "male"
    assert patient["address"][0]["text"] == "1200 N ELM STREET, GREENSBORO, NC"
    assert by["encounter"].resource["class"]["code"] == "IMP"


def _ghh_lab(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert "birthDate" not in patient and patient["gender"] == "female"
    assert {t["code"] for t in patient["meta"]["tag"]} == {"PID-7:invalid-date"}
    assert by["patient"].flags == ("data-quality:PID-7:invalid-date",)
    glucose, two_hours = by["lab_result"].related
    assert glucose["valueQuantity"]["value"] == 182 and glucose["interpretation"][0]["coding"][0]["code"] == "H"
    assert two_hours["valueQuantity"] == {"value": 5, "comparator": "<", "unit": "mg/dl",
                                          "system": "http://unitsofmeasure.org", "code": "mg/dl"}


def _escapes(by: dict[str, Any]) -> None:
    report, note = by["lab_result"].related
    assert report["valueString"] == "双肺纹理清晰\n未见明确结节\n印象: A|B ^ C&D ~ E\\F OK 重点"
    assert note["valueString"] == "家属张三陪同"
    assert by["lab_result"].resource["effectiveDateTime"] == "2026-11-23T09:00:00+08:00"  # TS with ^M precision


def _nulls(by: dict[str, Any]) -> None:
    patient, encounter = by["patient"].resource, by["encounter"].resource
    for absent in ("birthDate", "gender", "telecom", "address"):
        assert absent not in patient, absent
    assert "meta" in patient and "tag" not in patient["meta"]  # a null is no data-quality problem
    assert encounter["status"] == "in-progress" and "end" not in encounter["period"]
    assert "location" not in encounter


def _discharge(by: dict[str, Any]) -> None:
    patient, encounter = by["patient"].resource, by["encounter"].resource
    assert patient["name"][0]["text"] == "欧阳娜娜" and patient["birthDate"] == "1992-06"
    assert patient["address"][0]["line"] == ["青山县^李家村8号"]
    assert patient["telecom"] == [{"system": "phone", "value": "13800001111"}]
    assert encounter["status"] == "finished" and encounter["period"]["end"] == "2026-11-24T08:30:00+08:00"


def _sft_in_2_3(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert patient["telecom"] == [{"system": "phone", "value": "13912345678"}]  # XTN-12 in a 2.3 message
    assert patient["name"][0]["text"] == "李四"


def _merge(by: dict[str, Any]) -> None:
    assert by["patient_merge"].resource["link"][0]["other"]["reference"] == "Patient/th01-pat-000099"


def _ecg_order(by: dict[str, Any]) -> None:
    order = by["imaging_request"].resource
    assert order["code"]["coding"][0]["code"] == "11524-6" and order["priority"] == "stat"
    assert order["authoredOn"] == "2002-02-15T09:30:00+08:00"
    assert by["patient"].resource["birthDate"] == "1965-03-01"


def _prescription(by: dict[str, Any]) -> None:
    (dosage,) = by["prescription"].resource["dosageInstruction"]
    assert dosage["timing"]["repeat"]["frequency"] == 2 and dosage["route"] == {"text": "口服"}


def _own_separators(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert patient["id"] == "th01-pat-000555" and patient["name"][0]["text"] == "赵六"
    assert patient["identifier"][1]["value"] == "330122199206105328"
    assert patient["address"][0]["line"] == ["幸福路1^2&3号"] and patient["address"][0]["city"] == "青山县"


def _numeric_sex(by: dict[str, Any]) -> None:
    patient = by["patient"].resource
    assert "gender" not in patient and patient["birthDate"] == "1976-07-13"
    assert by["patient"].flags == ("data-quality:PID-8:invalid-code",)
    assert patient["meta"]["tag"][0]["extension"][0]["valueString"] == "1"


SAMPLE_LIST = [
    Sample("v23_adt_a04_email.hl7", "AA", ("patient", "encounter"), check=_email_and_2_3_layout),
    Sample("v231_adt_a01_zsegment.hl7", "AA", ("patient", "encounter"), check=_zsegment_and_check_digit,
           separator="\n"),
    Sample("v24_oru_r01_ghh_lab.hl7", "AA", ("patient", "lab_result"), ("PID^1^7^102^^HL70357^W",), _ghh_lab),
    Sample("v24_oru_r01_escapes.hl7", "AA", ("patient", "lab_result"), check=_escapes, separator="\r\n"),
    Sample("v25_adt_a08_nulls.hl7", "AA", ("patient", "encounter"), check=_nulls),
    Sample("v251_adt_a03_sft_gb18030.hl7", "AA", ("patient", "encounter"), check=_discharge, charset="gb18030"),
    Sample("v23_adt_a08_sft_xtn12.hl7", "AA", ("patient", "encounter"), check=_sft_in_2_3, separator="\n"),
    Sample("v25_adt_a40_merge.hl7", "AA", ("patient_merge",), check=_merge),
    Sample("v23_orm_o01_ecg.hl7", "AA", ("patient", "imaging_request"), check=_ecg_order),
    Sample("v25_rde_o11_truncated.hl7", "AA", ("patient", "prescription"), check=_prescription),
    Sample("v25_adt_a04_numeric_sex.hl7", "AA", ("patient", "encounter"), ("PID^1^8^103^^HL70357^W",),
           _numeric_sex, charset="ascii"),
    Sample("v25_adt_a04_own_separators.hl7", "AA", ("patient", "encounter"), check=_own_separators),
    # Refused, with the reason: Japanese ISO 2022 text, and events the hub does not take.
    Sample("v25_adt_a08_iso_ir87.hl7", "AR", errs=("MSH^1^18^203^^HL70357^E",)),
    Sample("v24_adt_a31_epic.hl7", "AR", errs=("MSH^1^9^200^^HL70357^E",)),
    Sample("v25_omp_o09.hl7", "AR", errs=("MSH^1^9^200^^HL70357^E",)),
]


@pytest.mark.parametrize("sample", SAMPLE_LIST, ids=[s.file.removesuffix(".hl7") for s in SAMPLE_LIST])
def test_vendor_sample(listener: Listener, sample: Sample) -> None:
    segments = (SAMPLES / sample.file).read_text(encoding="utf-8").splitlines()
    ack = listener.send(sample.separator.join(segments).encode(sample.charset), charset=sample.charset)
    assert msa(ack)[1] == sample.ack, ack
    errs = ["^".join(s.split("|")[2:5]) for s in ack if s.startswith("ERR")]
    assert errs == list(sample.errs), ack
    assert all(s.split("|")[8] for s in ack if s.startswith("ERR"))  # ERR-8: a reason a person can read
    events = listener.events()
    assert tuple(e.event_type for e in events) == sample.events
    for event in events:
        for resource in (event.resource, *event.related):
            validate_resource(resource)
    sample.check({e.event_type: e for e in events})
    assert len(listener.dead_letters()) == (0 if sample.ack == "AA" else 1)
