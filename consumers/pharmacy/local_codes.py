"""The mapping queue: members' local drug codes nobody mapped, counted with first and last seen. Mapping
one to a catalogue drug (a pharmacist's step, audited) recognises every prescription that carried it and
reviews again each one still waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.pharmacy import metrics, reviewing
from consumers.pharmacy.models import PharmacyLocalCode, PharmacyMedication
from consumers.pharmacy.rulesets import active_rules
from hub.core.errors import PermanentError
from hub.core.terminology import community_terminology
from hub.core.web.audit import Step, record_step


class UnknownDrug(PermanentError, ValueError):
    """The catalogue has no such drug."""


@dataclass(frozen=True)
class Mapped:
    code: PharmacyLocalCode
    recognised: int  # medication rows now recognised
    reviewed: list[str]  # reviews done again


def waiting(session: Session) -> list[PharmacyLocalCode]:
    return list(session.scalars(select(PharmacyLocalCode).where(PharmacyLocalCode.drug_code.is_(None))
                                .order_by(PharmacyLocalCode.seen.desc(), PharmacyLocalCode.first_seen)))


def count_waiting(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PharmacyLocalCode)
                              .where(PharmacyLocalCode.drug_code.is_(None))) or 0)


def map_code(session: Session, desk: reviewing.Desk, code_id: int, drug_code: str, actor: str, role: str,
             facility: str | None, now: datetime) -> Mapped:
    """Maps a waiting (or earlier mapped) local code; KeyError for an unknown code id."""
    row = session.get(PharmacyLocalCode, code_id, with_for_update=True)
    if row is None:
        raise KeyError(code_id)
    try:
        drug = community_terminology().drug(drug_code)
    except KeyError:
        raise UnknownDrug(f"{drug_code!r} is not a drug of the community catalogue") from None
    before = row.drug_code
    row.drug_code, row.mapped_by, row.mapped_at = drug.code, actor[:100], now
    record_step(session, Step(actor, role, facility, "pharmacy_code_mapped", "CodeSystem", f"{row.facility_id}:{row.code}"[:64],
                              None, f"{row.system}|{row.code} ({row.display or ''}) -> {drug.code} {drug.name}"
                              + (f" (was {before})" if before else "")), desk.shared_record)
    rules = active_rules(session)
    medications = session.scalars(select(PharmacyMedication).where(PharmacyMedication.local_system == row.system,
                                                                    PharmacyMedication.local_code == row.code)).all()
    reviewed: list[str] = []
    for medication in medications:
        medication.drug_code, medication.atc, medication.name = drug.code, drug.atc, drug.name
        medication.local_system = medication.local_code = None
        done = reviewing.review_waiting(session, desk, rules, medication, drug, now)
        if done is not None:
            reviewed.append(done.id)
    session.flush()
    left = count_waiting(session)
    reviewing.after_commit(session, lambda: metrics.UNMAPPED.set(left))
    return Mapped(row, len(medications), reviewed)


def item(row: PharmacyLocalCode) -> dict[str, object]:
    drug = community_terminology().drug(row.drug_code) if row.drug_code else None
    return {"id": row.id, "facility": row.facility_id, "system": row.system, "code": row.code, "display": row.display,
            "seen": row.seen, "first_seen": row.first_seen.isoformat(), "last_seen": row.last_seen.isoformat(),
            "drug": {"code": drug.code, "name": drug.name} if drug else None, "mapped_by": row.mapped_by,
            "mapped_at": row.mapped_at.isoformat() if row.mapped_at else None}


def waiting_prescriptions(session: Session, row: PharmacyLocalCode) -> int:
    return int(session.scalar(select(func.count()).select_from(PharmacyMedication).where(
        PharmacyMedication.local_system == row.system, PharmacyMedication.local_code == row.code)) or 0)
