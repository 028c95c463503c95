"""Labelled record sets for `hub mpi evaluate` and `hub mpi estimate`, read from CSV or FHIR.

CSV: one row a record. Columns (all but record_id optional): record_id, facility, person (the
label: rows of one person share it), given (space-separated), family, birth_date (YYYY-MM-DD),
sex (male/female/m/f), phone, line, city, postal_code, state, country, and
`identifier:<system>` for each identifier system (`identifier:http://example.org/insurance`).
An `errors` column (space-separated) only groups the missed pairs in the report.

FHIR: a Bundle (JSON) or NDJSON of Patient resources; the label is the identifier of system
`label_system`, removed before matching so the matcher never sees it.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hub.core.errors import PermanentError
from hub.core.events import Event, Source, deterministic_event_id
from hub.tools.demo.matching_dataset import LabelledSet

LABEL_SYSTEM = "urn:hub:label"
_SEX = {"male": "male", "m": "male", "female": "female", "f": "female"}


class LabelledSetError(PermanentError, ValueError):
    """A labelled set that cannot be read; the message names the file and the record."""


def read(path: Path, label: str = "person", label_system: str = LABEL_SYSTEM, labelled: bool = True) -> LabelledSet:
    """Records of a CSV file (by its .csv suffix) or of a FHIR Bundle / NDJSON file, as events."""
    try:
        if path.suffix.lower() == ".csv":
            with path.open(encoding="utf-8", newline="") as source:
                pairs = [_from_row(row, i + 2, path, label, labelled) for i, row in enumerate(csv.DictReader(source))]
        else:
            pairs = [_from_fhir(r, path, label_system, labelled) for r in _fhir_patients(path)]
    except OSError as exc:
        raise LabelledSetError(f"{path}: cannot read: {exc.strerror}") from None
    if not pairs:
        raise LabelledSetError(f"{path}: no records")
    return _as_set(pairs)


def patient_from_row(row: dict[str, str]) -> dict[str, Any]:
    """The FHIR Patient a CSV row describes (empty cells are left out)."""
    cell = {k: (v or "").strip() for k, v in row.items() if k}
    patient: dict[str, Any] = {"resourceType": "Patient", "id": cell.get("record_id", "")}
    name: dict[str, Any] = {}
    if cell.get("family"):
        name["family"] = cell["family"]
    if cell.get("given"):
        name["given"] = cell["given"].split()
    if name:
        patient["name"] = [name]
    if cell.get("sex", "").lower() in _SEX:
        patient["gender"] = _SEX[cell["sex"].lower()]
    if cell.get("birth_date"):
        patient["birthDate"] = cell["birth_date"]
    if cell.get("phone"):
        patient["telecom"] = [{"system": "phone", "value": cell["phone"]}]
    address: dict[str, Any] = {key: cell[column] for column, key in (("city", "city"), ("postal_code", "postalCode"),
                                                     ("state", "state"), ("country", "country")) if cell.get(column)}
    if cell.get("line"):
        address["line"] = [cell["line"]]
    if address.keys() - {"state", "country"}:
        patient["address"] = [address]
    identifiers = [{"system": k.split(":", 1)[1], "value": v} for k, v in cell.items() if k.startswith("identifier:") and v]
    if identifiers:
        patient["identifier"] = identifiers
    return patient


def _from_row(row: dict[str, str], line: int, path: Path, label: str, labelled: bool) -> tuple[Event, str, tuple[str, ...]]:
    record_id = (row.get("record_id") or "").strip()
    if not record_id:
        raise LabelledSetError(f"{path}: line {line}: record_id is empty")
    person = (row.get(label) or "").strip()
    if labelled and not person:
        raise LabelledSetError(f"{path}: line {line}: the label column {label!r} is empty or missing")
    facility = (row.get("facility") or "csv").strip()
    return _event(patient_from_row(row), facility, record_id), person, tuple((row.get("errors") or "").split())


def _fhir_patients(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".ndjson":
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        else:
            loaded = json.loads(text)
            items = [e.get("resource") for e in loaded.get("entry") or []] if loaded.get("resourceType") == "Bundle" else [loaded]
    except (json.JSONDecodeError, AttributeError) as exc:
        raise LabelledSetError(f"{path}: not a FHIR Bundle or NDJSON of Patients: {exc}") from None
    patients = [r for r in items if isinstance(r, dict) and r.get("resourceType") == "Patient"]
    if len(patients) != len(items):
        raise LabelledSetError(f"{path}: {len(items) - len(patients)} entries are not Patient resources")
    return patients


def _from_fhir(patient: dict[str, Any], path: Path, label_system: str, labelled: bool) -> tuple[Event, str, tuple[str, ...]]:
    if not patient.get("id"):
        raise LabelledSetError(f"{path}: a Patient has no id")
    kept = [i for i in patient.get("identifier") or [] if i.get("system") != label_system]
    labels = [str(i.get("value")) for i in patient.get("identifier") or [] if i.get("system") == label_system]
    if labelled and not labels:
        raise LabelledSetError(f"{path}: Patient/{patient['id']} has no identifier of system {label_system}")
    resource = {**patient, "identifier": kept} if kept else {k: v for k, v in patient.items() if k != "identifier"}
    facility = str((patient.get("meta") or {}).get("source") or "fhir")
    return _event(resource, facility, str(patient["id"])), labels[0] if labels else "", ()


def _event(patient: dict[str, Any], facility: str, record_id: str) -> Event:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    return Event(event_id=deterministic_event_id(facility, "labelled-set", record_id, "0"), event_type="patient",
                 source=Source(facility, "labelled-set", record_id), occurred_at=when, recorded_at=when,
                 patient_key=f"{facility}/{record_id}", resource={**patient, "id": f"{facility}-{record_id}"[:64]})


def _as_set(pairs: list[tuple[Event, str, tuple[str, ...]]]) -> LabelledSet:
    people: dict[str, int] = {}
    events: list[Event] = []
    labels: dict[str, int] = {}
    errors: dict[str, tuple[str, ...]] = {}
    for i, (event, person, errs) in enumerate(pairs):
        if event.patient_key in labels:
            raise LabelledSetError(f"record {event.patient_key} appears twice; record ids must be unique per facility")
        event = Event(event.event_id, event.event_type, event.source, event.occurred_at + timedelta(seconds=i),
                      event.recorded_at, event.patient_key, event.resource)
        events.append(event)
        labels[event.patient_key] = people.setdefault(person, len(people))
        errors[event.patient_key] = errs
    return LabelledSet(events, labels, errors)
