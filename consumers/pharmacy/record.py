"""The pharmacy's own record per member patient: medications, allergies, renal labs and what the rules
need of the patient; and the county-wide view of one person, gathered through the patient index."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from consumers.pharmacy import medicines, metrics
from consumers.pharmacy.models import (
    PharmacyAllergy,
    PharmacyLab,
    PharmacyLocalCode,
    PharmacyMedication,
    PharmacyPatient,
)
from consumers.pharmacy.review import LabValue, Medicine, PatientContext
from hub.core.events import utcnow
from hub.core.fhir_fields import from_image_archive
from hub.core.services import SharedRecord
from hub.core.terminology import Drug, community_terminology

ACTIVE = "active"
DISPENSE_DAYS = 30  # a dispense without a days' supply counts as taken for this long


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def recognise(session: Session, codings: list[dict[str, Any]], text: str | None) -> Drug | None:
    """The catalogue drug codings name: a community, national or ATC code, or a local code a pharmacist mapped."""
    terminology = community_terminology()
    drug = terminology.find_drug(codings, text)
    if drug is not None:
        return drug
    for coding in medicines.local_drug_codings(codings):
        mapped = session.scalar(select(PharmacyLocalCode.drug_code).where(
            PharmacyLocalCode.system == coding["system"], PharmacyLocalCode.code == coding["code"]))
        if mapped:
            return terminology.drug(mapped)
    return None


def note_local_code(session: Session, facility: str, coding: dict[str, Any], now: datetime) -> None:
    """Counts an unmapped local code in the mapping queue (first and last seen)."""
    row = session.scalar(select(PharmacyLocalCode).where(PharmacyLocalCode.system == coding["system"],
                                                         PharmacyLocalCode.code == coding["code"]))
    if row is None:
        session.add(PharmacyLocalCode(facility_id=facility, system=coding["system"][:120], code=coding["code"][:64],
                                      display=(coding.get("display") or None) and str(coding["display"])[:200],
                                      seen=1, first_seen=now, last_seen=now))
        session.flush()
        waiting = int(session.scalar(select(func.count()).select_from(PharmacyLocalCode)
                                     .where(PharmacyLocalCode.drug_code.is_(None))) or 0)
        event.listen(session, "after_commit", lambda _session: metrics.UNMAPPED.set(waiting), once=True)
    else:
        row.seen += 1
        row.last_seen = now


def keep_medication(session: Session, resource: dict[str, Any], facility: str, patient_key: str,
                    patient_id: str | None, drug: Drug | None) -> PharmacyMedication:
    kind = "request" if resource["resourceType"] == "MedicationRequest" else "dispense"
    ident = f"{resource['resourceType']}/{resource['id']}"
    codings, text = medicines.medication_concept(resource)
    local = next(iter(medicines.local_drug_codings(codings)), None) if drug is None else None
    when = _time(resource.get("authoredOn") or resource.get("whenHandedOver") or resource.get("whenPrepared"))
    values = dict(kind=kind, facility_id=facility, patient_key=patient_key, patient_id=patient_id,
                  status=str(resource.get("status") or "unknown")[:24], name=(drug.name if drug else text or "?")[:200],
                  drug_code=drug.code if drug else None, atc=drug.atc if drug else None,
                  local_system=local["system"][:120] if local else None, local_code=local["code"][:64] if local else None,
                  dose_text=medicines.dose_text(resource), authored_at=when,
                  resource=json.dumps(resource, ensure_ascii=False), updated_at=utcnow())
    row = session.get(PharmacyMedication, ident)
    if row is None:
        row = PharmacyMedication(id=ident, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    return row


def keep_allergy(session: Session, resource: dict[str, Any], facility: str, patient_key: str,
                 patient_id: str | None) -> None:
    codings = [c for c in (resource.get("code") or {}).get("coding") or [] if isinstance(c, dict)]
    drug = community_terminology().find_drug(codings, (resource.get("code") or {}).get("text"))
    values = dict(facility_id=facility, patient_key=patient_key, patient_id=patient_id,
                  substance=medicines.substance(resource)[:200], atc=medicines.allergy_atc(resource, drug),
                  criticality=resource.get("criticality"), status=medicines.clinical_status(resource)[:24],
                  recorded_at=_time(resource.get("recordedDate")), resource=json.dumps(resource, ensure_ascii=False),
                  updated_at=utcnow())
    row = session.get(PharmacyAllergy, resource["id"])
    if row is None:
        session.add(PharmacyAllergy(id=resource["id"], **values))
    else:
        for name, value in values.items():
            setattr(row, name, value)


def keep_labs(session: Session, observations: list[dict[str, Any]], facility: str, patient_key: str,
              fallback: datetime) -> int:
    kept = 0
    for observation in observations:
        found = medicines.renal_value(observation)
        if found is None or not observation.get("id"):
            continue
        analyte, value, unit, when = found
        row = session.get(PharmacyLab, observation["id"])
        values = dict(facility_id=facility, patient_key=patient_key, analyte=analyte, value=value, unit=unit[:32],
                      observed_at=when or fallback)
        if row is None:
            session.add(PharmacyLab(id=observation["id"], **values))
        else:
            for name, item in values.items():
                setattr(row, name, item)
        kept += 1
    return kept


def keep_patient(session: Session, resource: dict[str, Any], patient_key: str) -> bool:
    """Keeps what the rules read of a member's patient; True when that changed (a new patient, or a new
    birth date, sex, weight or pregnancy status), so that reviews held for want of it are done again."""
    pregnant = None
    weight = None
    for extension in resource.get("extension") or []:  # carried by few members; honoured when there
        url = str(extension.get("url") or "")
        if url.endswith("pregnancy-status") or url.endswith(":pregnant"):
            pregnant = bool(extension.get("valueBoolean"))
        if url.endswith("body-weight") or url.endswith(":weight-kg"):
            quantity = extension.get("valueQuantity") or {}
            weight = quantity.get("value") if isinstance(quantity.get("value"), int | float) else None
    row = session.get(PharmacyPatient, patient_key)
    if row is not None and from_image_archive(resource):
        return False  # an image's patient module never overwrites what the registration system said
    values = dict(patient_id=resource.get("id"), birth_date=str(resource.get("birthDate") or "")[:10] or None,
                  sex=resource.get("gender"), weight_kg=weight, pregnant=pregnant, updated_at=utcnow())
    if row is None:
        session.add(PharmacyPatient(patient_key=patient_key, **values))
        return True
    changed = False
    for name, value in values.items():
        if value is not None or name in ("birth_date", "sex"):
            changed |= name in _FACTS and getattr(row, name) != value
            setattr(row, name, value)
    return changed


_FACTS = ("birth_date", "sex", "weight_kg", "pregnant")  # what the rules read of a patient


# The county-wide view of one person ---------------------------------------------------------------------


def keys_of(session: Session, shared: SharedRecord, patient_id: str | None, patient_key: str) -> list[str]:
    """Every member key of the person (through the patient index); the one key when the index does not know them yet."""
    keys = set(shared.patient_keys_for(session, patient_id)) if patient_id else set()
    return sorted(keys | {patient_key}) if patient_key else sorted(keys)


def is_current(row: PharmacyMedication, now: datetime) -> bool:
    """Taken now: an active prescription, or a dispense within its days' supply."""
    if row.kind == "request":
        return row.status == ACTIVE
    if row.status not in ("completed", "in-progress") or row.authored_at is None:
        return False
    days = json.loads(row.resource).get("daysSupply", {}).get("value") or DISPENSE_DAYS
    return row.authored_at + timedelta(days=float(days)) >= now


def medications(session: Session, keys: list[str]) -> list[PharmacyMedication]:
    if not keys:
        return []
    return list(session.scalars(select(PharmacyMedication).where(PharmacyMedication.patient_key.in_(keys))
                                .order_by(PharmacyMedication.authored_at.desc(), PharmacyMedication.id)))


def allergies(session: Session, keys: list[str]) -> list[PharmacyAllergy]:
    if not keys:
        return []
    return list(session.scalars(select(PharmacyAllergy).where(PharmacyAllergy.patient_key.in_(keys))
                                .order_by(PharmacyAllergy.id)))


def labs(session: Session, keys: list[str], limit: int = 20) -> list[PharmacyLab]:
    if not keys:
        return []
    return list(session.scalars(select(PharmacyLab).where(PharmacyLab.patient_key.in_(keys))
                                .order_by(PharmacyLab.observed_at.desc(), PharmacyLab.id).limit(limit)))


@dataclass(frozen=True)
class Person:
    keys: list[str]
    medications: list[PharmacyMedication]
    allergies: list[PharmacyAllergy]
    labs: list[PharmacyLab]
    patient: PharmacyPatient | None


def person(session: Session, shared: SharedRecord, patient_id: str | None, patient_key: str) -> Person:
    keys = keys_of(session, shared, patient_id, patient_key)
    own = session.get(PharmacyPatient, patient_key)
    patients = [p for p in (session.get(PharmacyPatient, k) for k in keys) if p is not None]
    return Person(keys, medications(session, keys), allergies(session, keys), labs(session, keys, 50),
                  own or (patients[0] if patients else None))


def _age(birth: str | None, now: datetime) -> float | None:
    if not birth:
        return None
    try:
        born = date.fromisoformat(birth)
    except ValueError:
        return None
    return (now.date() - born).days / 365.25


def context(session: Session, found: Person, reviewed: str, now: datetime,
            weight_kg: float | None = None) -> PatientContext:
    """What the rules know of the person: the latest renal values from any member, every member's
    allergies and current medicines (not the prescription under review); `weight_kg` is the weight
    written on that prescription, which wins over the one the patient record carries."""
    latest: dict[str, LabValue] = {}
    for lab in found.labs:  # newest first
        if lab.analyte not in latest:
            latest[lab.analyte] = medicines.lab_value(lab.value, lab.unit, lab.observed_at, lab.facility_id, lab.id)
    active: list[Medicine] = []
    terminology = community_terminology()
    for row in found.medications:
        if row.id == reviewed or not is_current(row, now):
            continue
        drug = terminology.drug(row.drug_code) if row.drug_code else None
        active.append(medicines.medicine(json.loads(row.resource), drug, row.facility_id))
    known_allergies = tuple(medicines.allergy(json.loads(a.resource), a.atc, a.facility_id)
                            for a in found.allergies if a.status == ACTIVE)
    patient = found.patient
    return PatientContext(
        age_years=_age(patient.birth_date if patient else None, now), sex=patient.sex if patient else None,
        weight_kg=weight_kg or (patient.weight_kg if patient else None), pregnant=patient.pregnant if patient else None,
        egfr=latest.get("egfr"), creatinine=latest.get("creatinine"), allergies=known_allergies, active=tuple(active))
