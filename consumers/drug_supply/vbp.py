"""集采 (volume-based procurement): the agreed annual volumes per member and drug (a data file of this part),
and the figures of use: dispensed against the agreed volume, the share of 集采 drugs among their equivalents
(same ATC 5th level) dispensed, and prescriptions written for another drug while a 集采 equivalent existed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consumers.drug_supply.models import StockEntry, SupplyPrescription
from hub.core.errors import PermanentError
from hub.core.terminology import Drug, Terminology

DEFAULT_FILE = Path(__file__).with_name("vbp_volumes.yaml")
_FACILITY = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class VbpFileError(PermanentError, ValueError):
    """The agreed-volume file cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class AgreedVolumes:
    source: Path
    year: int
    volumes: dict[tuple[str, str], int]  # (member, community drug code) -> units per year
    notes: tuple[str, ...]  # entries whose drug the catalogue does not mark as 集采 ("member code name")


def load_volumes(path: Path, terminology: Terminology) -> AgreedVolumes:
    source = Path(path)
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise VbpFileError(f"cannot read the 集采 volume file {source}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise VbpFileError(f"the 集采 volume file {source} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or set(data) != {"year", "volumes"}:
        raise VbpFileError(f"{source}: must be a mapping with exactly year and volumes")
    year = data["year"]
    if not isinstance(year, int) or not 2000 <= year <= 2100:
        raise VbpFileError(f"{source}: year must be a year such as 2026, not {year!r}")
    if not isinstance(data["volumes"], dict):
        raise VbpFileError(f"{source}: volumes must map each member to {{drug code: units per year}}")
    known = terminology.section("drugs")
    volumes: dict[tuple[str, str], int] = {}
    notes = []
    for member, drugs in data["volumes"].items():
        if not isinstance(member, str) or not _FACILITY.fullmatch(member):
            raise VbpFileError(f"{source}: volumes: {member!r} is not a facility id (letters, digits, - and _)")
        if not isinstance(drugs, dict) or not drugs:
            raise VbpFileError(f"{source}: volumes.{member} must map drug codes to units per year")
        for code, volume in drugs.items():
            if code not in known:
                raise VbpFileError(f"{source}: volumes.{member}.{code}: not a drug of the community catalogue")
            if not isinstance(volume, int) or isinstance(volume, bool) or volume <= 0:
                raise VbpFileError(f"{source}: volumes.{member}.{code}: the volume must be a whole number of units "
                                   f"above zero, not {volume!r}")
            drug: Drug = terminology.drug(code)
            if not drug.vbp:
                notes.append(f"{member} {code} {drug.name}")  # an agreed volume, but no 集采 batch in the catalogue
            volumes[(member, code)] = volume
    return AgreedVolumes(source, year, volumes, tuple(notes))


def equivalent_vbp(drug: Drug, terminology: Terminology) -> Drug | None:
    """A 集采 drug of the same ATC 5th level (same substance), when the drug is not itself 集采."""
    if drug.vbp or not drug.atc or len(drug.atc) < 7:
        return None
    return next((d for d in terminology.drugs if d.vbp and d.atc == drug.atc and d.code != drug.code), None)


def _year_start(year: int) -> datetime:
    return datetime(year, 1, 1, tzinfo=UTC)


def figures(session: Session, volumes: AgreedVolumes, terminology: Terminology, now: datetime) -> dict[str, Any]:
    """The 集采 figures for the page and the API."""
    start = _year_start(volumes.year)
    dispensed: dict[tuple[str, str], float] = {}
    for facility, drug_key, total in session.execute(
            select(StockEntry.facility_id, StockEntry.drug_key, func.sum(StockEntry.quantity))
            .where(StockEntry.kind == "dispense", StockEntry.at >= start, StockEntry.at <= now)
            .group_by(StockEntry.facility_id, StockEntry.drug_key)):
        dispensed[(facility, drug_key)] = -float(total or 0)
    elapsed = max(0.0, min(1.0, (now - start).total_seconds() / (365 * 86400)))
    use = []
    for (member, code), volume in sorted(volumes.volumes.items()):
        used = dispensed.get((member, code), 0.0)
        use.append({"facility": member, "drug": code, "name": terminology.drug(code).name, "agreed": volume,
                    "dispensed": used, "share": round(used / volume, 4), "expected_share": round(elapsed, 4)})
    drugs = {d.code: d for d in terminology.drugs}
    groups: dict[str, dict[str, Any]] = {}
    for (_facility, key), used in dispensed.items():
        drug = drugs.get(key)
        if drug is None or not drug.atc or len(drug.atc) < 7:
            continue
        if not any(d.vbp and d.atc == drug.atc for d in terminology.drugs):
            continue  # no 集采 drug for this substance: no share to speak of
        group = groups.setdefault(drug.atc, {"atc": drug.atc, "vbp": 0.0, "all": 0.0})
        group["all"] += used
        if drug.vbp:
            group["vbp"] += used
    shares = [{**g, "share": round(g["vbp"] / g["all"], 4) if g["all"] else None} for g in groups.values()]
    missed = session.execute(
        select(SupplyPrescription.facility_id, func.count()).where(SupplyPrescription.equivalent.is_not(None))
        .group_by(SupplyPrescription.facility_id)).all()
    totals = dict(session.execute(select(SupplyPrescription.facility_id, func.count())
                                  .group_by(SupplyPrescription.facility_id)).all())
    return {"year": volumes.year, "use": use, "equivalents": sorted(shares, key=lambda g: g["atc"]),
            "missed": [{"facility": f, "prescriptions": int(n), "of": int(totals.get(f, 0))} for f, n in missed],
            "notes": list(volumes.notes)}
