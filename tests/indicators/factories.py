"""A demo month of the county (October 2026) as member events, with the figures a person counts by hand.

Persons: A (王芳) is registered at th01, cty01 and vc01 (one resident ID, so one community patient);
B (李强) at th01; C (赵敏) at vc01. See test_month.py for the hand count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.events import Event, Source, deterministic_event_id
from hub.core.terminology import COMMUNITY_DRUG, LOCAL_DRUG
from tests.consumers.referral_factories import referral_event, task_event
from tests.factories import patient_event

CHINA = ZoneInfo("Asia/Shanghai")
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
GLUCOSE, HBA1C = (LOINC, "2345-7", "葡萄糖"), (LOINC, "4548-4", "糖化血红蛋白")
PEOPLE = {"A": ("王芳", "110101198001011232"), "B": ("李强", "110101197505054565"), "C": ("赵敏", "110101196509097891")}


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=CHINA)


def _event(event_type: str, facility: str, local_id: str, natural: str, when: datetime, resource: dict[str, Any],
           related: tuple[dict[str, Any], ...] = ()) -> Event:
    return Event(deterministic_event_id(facility, "test", natural, "0"), event_type,
                 Source(facility, "test", natural), when, when, f"{facility}/{local_id}", resource, related)


def patient(facility: str, local_id: str, who: str) -> Event:
    name, resident = PEOPLE[who]
    return patient_event(facility, local_id, name=name, resident_id=resident)


def visit(facility: str, local_id: str, visit_id: str, when: datetime, diagnosis: str,
          status: str = "finished", klass: str = "AMB") -> Event:
    resource = {
        "resourceType": "Encounter", "id": f"{facility}-enc-{visit_id}", "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "period": {"start": when.isoformat()},
        "reasonCode": [{"coding": [{"system": ICD10, "code": diagnosis}]}],
    }
    return _event("encounter", facility, local_id, f"enc:{visit_id}", when, resource)


def result(facility: str, local_id: str, result_id: str, when: datetime, test: tuple[str, str, str]) -> Event:
    resource = {
        "resourceType": "Observation", "id": f"{facility}-obs-{result_id}", "status": "final",
        "code": {"coding": [{"system": test[0], "code": test[1], "display": test[2]}]},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"},
        "effectiveDateTime": when.isoformat(), "valueQuantity": {"value": 6.1, "unit": "mmol/L"},
    }
    return _event("lab_result", facility, local_id, f"obs:{result_id}", when, resource)


def prescription(facility: str, local_id: str, rx_id: str, when: datetime, drug: str, name: str,
                 local: bool = False) -> Event:
    coding = {"system": f"{LOCAL_DRUG}{facility}" if local else COMMUNITY_DRUG, "code": drug, "display": name}
    resource = {
        "resourceType": "MedicationRequest", "id": f"{facility}-rx-{rx_id}", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"coding": [coding], "text": name},
        "subject": {"reference": f"Patient/{facility}-pat-{local_id}"}, "authoredOn": when.isoformat(),
    }
    return _event("prescription", facility, local_id, f"rx:{rx_id}", when, resource)


def october() -> list[Event]:
    """The demo month's events, registrations first."""
    events = [patient("th01", "a1", "A"), patient("cty01", "a2", "A"), patient("vc01", "a3", "A"),
              patient("th01", "b1", "B"), patient("vc01", "c1", "C")]
    # A: hypertension follow-ups at the township centre (the 23rd twice), once at the village clinic.
    for n, day in enumerate((2, 9, 16, 23)):
        events.append(visit("th01", "a1", f"a{n}", at(10, day), "I10"))
    events.append(visit("th01", "a1", "a4", at(10, 23, 15), "I10"))
    events.append(visit("vc01", "a3", "a5", at(10, 25), "I10"))
    # A at the county hospital: pneumonia, with glucose and HbA1c; a visit entered in error.
    events.append(visit("cty01", "a2", "a6", at(10, 3, 8), "J18.9"))
    events.append(visit("cty01", "a2", "a7", at(10, 4), "J18.9", status="entered-in-error"))
    events.append(result("cty01", "a2", "g1", at(10, 3, 10), GLUCOSE))
    events.append(result("cty01", "a2", "h1", at(10, 3, 10), HBA1C))
    events.append(result("th01", "a1", "g2", at(10, 9, 10), GLUCOSE))  # glucose again at the township
    # B: two hypertension visits and one for diabetes.
    events += [visit("th01", "b1", "b0", at(10, 5), "I10"), visit("th01", "b1", "b1", at(10, 12), "I10"),
               visit("th01", "b1", "b2", at(10, 19), "E11.9")]
    # C: type 2 diabetes at the village clinic, in August and September too (inside the 12 months).
    events += [visit("vc01", "c1", "c0", at(8, 1), "E11.9"), visit("vc01", "c1", "c1", at(9, 1), "E11.9"),
               visit("vc01", "c1", "c2", at(10, 1), "E11.9"), visit("vc01", "c1", "c3", at(10, 20), "E11.9")]
    # Prescriptions: amlodipine (集采 第一批), nifedipine (not 集采), metformin (集采 第二批), omeprazole, and a
    # line coded only locally (left out).
    events += [prescription("th01", "a1", "1", at(10, 2, 9, 20), "D0006", "苯磺酸氨氯地平片"),
               prescription("th01", "a1", "2", at(10, 9, 9, 20), "D0005", "硝苯地平缓释片"),
               prescription("vc01", "c1", "3", at(10, 1, 9, 20), "D0011", "二甲双胍片"),
               prescription("cty01", "a2", "4", at(10, 3, 8, 30), "D0019", "奥美拉唑肠溶胶囊"),
               prescription("vc01", "c1", "5", at(10, 20, 9, 20), "ZJ001", "院内制剂", local=True)]
    # Referrals: th01 up to the county and back down (a loop), vc01 up to th01 (open), one revoked.
    events += [referral_event("sr-1", facility="th01", target="cty01", local_id="a1",
                              authored=at(10, 9, 11).isoformat()),
               task_event("sr-1", "accepted", when=at(10, 9, 12).isoformat()),
               referral_event("sr-1d", facility="cty01", target="th01", based_on="sr-1", local_id="a2",
                              authored=at(10, 14).isoformat()),
               referral_event("sr-2", facility="vc01", target="th01", local_id="c1", authored=at(10, 20, 10).isoformat()),
               referral_event("sr-3", facility="th01", target="cty01", local_id="b1", authored=at(10, 12, 10).isoformat()),
               referral_event("sr-3", facility="th01", target="cty01", local_id="b1", status="revoked",
                              authored=at(10, 12, 10).isoformat(), version=1)]
    return events


SETTLEMENTS = """settlement_id,settled_on,visit_type,hospital,region,insured_id,diagnosis
YB2026100001,2026-10-04,inpatient,省人民医院,省会,110101198001011232,I21.9
YB2026100002,2026-10-11,门诊,市中心医院,市辖区,,J18.9
YB2026100003,2026-10-30,outpatient,外省某医院,省外,110101197505054565,
"""


