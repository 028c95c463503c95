"""HL7 v2 (2.3–2.5) messages to FHIR R4 events. Pure: parsed message in, events out.

ADT A01/A04/A03/A08 -> Patient (+ Encounter from PV1); A40 -> a patient merge event (the
surviving Patient with a `replaces` link to the merged-away record); ORM^O01 -> ServiceRequest for
ECG/imaging orders (OBR) or MedicationRequest (RXO); RDE^O11 -> MedicationRequest (RXE);
RDS^O13 -> MedicationDispense (RXD); ORU^R01 -> DiagnosticReport with its Observations in `related`.
AL1 segments, in whichever message they come with a PID, -> AllergyIntolerance.

Identifiers: PID-3 repetitions with type code MR (or the first) are the member's record number;
a repetition with type NI (national identifier) or PID-19 holding 18 characters is the resident ID.

Fields: `""` (HL7's null) and an empty field both leave the element out (the record store replaces a
resource with each version, so a null in an update clears it). A required field that is absent raises
MappingError (AE); a malformed optional one is noted on the context (`ctx.note`, `ctx.time`), left
out, and tagged on the resource being built (quality.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from connectors.mllp import ack
from connectors.mllp.er7 import Message, Segment, part, repetitions, unescape, value
from connectors.mllp.quality import FieldIssue, flags_of, tag_resource
from hub.core.errors import PermanentError
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.identifiers import RESIDENT_ID, fhir_id, local_mrn_system, local_system, resident_id_valid
from hub.core.limits import LimitError, check_local_id
from hub.core.terminology import (
    ATC,
    ICD10,
    LOCAL_DRUG,
    LOINC,
    NHSA_DRUG,
    UNMAPPED_DRUG_FLAG,
    local_drug_system,
)

CST = ZoneInfo("Asia/Shanghai")
SUPPORTED = {
    ("ADT", "A01"), ("ADT", "A03"), ("ADT", "A04"), ("ADT", "A08"), ("ADT", "A40"),
    ("ORM", "O01"), ("RDE", "O11"), ("RDS", "O13"), ("ORU", "R01"),
}
REQUIRED = {  # segments each message type needs, in the order they must come
    "ADT": ("PID",), "ORM": ("PID", "ORC"), "RDE": ("PID", "ORC", "RXE"),
    "RDS": ("PID", "ORC", "RXD"), "ORU": ("PID", "OBR", "OBX"),
}
ECG_CODES = {"11524-6", "93000", "ECG", "EKG", "XDT"}
# HL7 v2 coding-system names (CE.3) to the FHIR systems the community terminology uses.
CODE_SYSTEMS = {"LN": LOINC, "I10": ICD10, "NHSA": NHSA_DRUG, "YB": NHSA_DRUG, "SCT": "http://snomed.info/sct",
                "WC": ATC, "ATC": ATC}  # WC: WHO ATC (HL7 table 0396); some members write ATC
# RXE-1.2 / RXO timing intervals a member sends, as FHIR Timing.repeat.
REPEATS = {"QD": (1, 1, "d"), "BID": (2, 1, "d"), "TID": (3, 1, "d"), "QID": (4, 1, "d"), "QN": (1, 1, "d"),
           "QHS": (1, 1, "d"), "Q12H": (1, 12, "h"), "Q8H": (1, 8, "h"), "Q6H": (1, 6, "h"), "QOD": (1, 2, "d"),
           "QW": (1, 1, "wk")}


class MappingError(PermanentError, ValueError):
    def __init__(self, message: str, location: str, code: str = ack.REQUIRED_MISSING) -> None:
        super().__init__(message)
        self.location = location
        self.code = code


@dataclass
class MessageContext:
    facility: str
    sender: str  # MSH-3|MSH-4
    control_id: str
    message: Message
    sent_at: str = ""  # MSH-7: some senders reuse control ids (reset daily), never with the same time
    events: list[Event] = field(default_factory=list)
    issues: list[FieldIssue] = field(default_factory=list)  # every optional field left out, for the ACK
    _unclaimed: list[FieldIssue] = field(default_factory=list)  # noted since the last resource was built

    def resource(self, body: dict[str, Any]) -> dict[str, Any]:
        """The finished resource, tagged with the issues noted while it was built (mapping functions
        build one resource at a time and end with this)."""
        resource = tag_resource(_prune(body), self._unclaimed)
        self._unclaimed = []
        return dict(resource)

    def note(self, segment: Segment, n: int, code: str, problem: str, text: str, raw: str | None = None) -> None:
        """An optional field that cannot be read: left out, reported as a warning, tagged, flagged."""
        issue = FieldIssue(segment.name, _sequence(self.message, segment), n, code, problem,
                           value(segment, n) if raw is None else raw, text)
        self.issues.append(issue)
        self._unclaimed.append(issue)

    def time(self, segment: Segment, n: int) -> datetime | None:
        """An optional date/time field; a malformed one is noted and read as absent."""
        location = f"{segment.name}-{n}"
        try:
            return hl7_time(value(segment, n), location)
        except MappingError as exc:
            self.note(segment, n, ack.DATA_TYPE, "invalid-date", f"{exc}; stored without it")
            return None

    def event(self, event_type: str, resource: dict[str, Any], patient_local: str, occurred: datetime,
              related: list[dict[str, Any]] | None = None, flags: tuple[str, ...] = ()) -> None:
        index = len(self.events)
        self.events.append(Event(
            event_id=deterministic_event_id(
                self.facility, "mllp", f"{self.sender}|{self.control_id}|{self.sent_at}|{index}", "0"
            ),
            event_type=event_type,
            source=Source(self.facility, "mllp", f"{self.sender}|{self.control_id}"),
            occurred_at=occurred,
            recorded_at=datetime.now(UTC),
            patient_key=f"{self.facility}/{patient_local}",
            resource=resource,
            related=tuple(related or ()),
            flags=flags + flags_of(resource, *(related or ())),
        ))


# Field access ---------------------------------------------------------------------------------------


def segments(message: Message, name: str) -> list[Segment]:
    return [s for s in message.children if s.name == name]


def _sequence(message: Message, segment: Segment) -> int:
    """Which of the message's segments of that name this is, from 1 (ERR-2's segment sequence)."""
    return next((i for i, s in enumerate(segments(message, segment.name), start=1) if s is segment), 1)


_TIMESTAMP = re.compile(r"(\d{8}|\d{10}|\d{12}|\d{14})(?:\.\d{1,4})?(?:([+-])(\d{2})(\d{2}))?")
_FORMATS = {8: "%Y%m%d", 10: "%Y%m%d%H", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


def hl7_time(text: str, location: str) -> datetime | None:
    """HL7 TS/DTM (YYYYMMDD[HH[MM[SS[.S]]]][+/-ZZZZ]); China Standard Time when no offset is given.
    A 2.3 TS may carry its precision as a second component, which is ignored."""
    stamp = text.split("^")[0].strip()
    if not stamp:
        return None
    match = _TIMESTAMP.fullmatch(stamp)
    if match:
        digits, sign, hours, minutes = match.groups()
        zone = CST if not sign else timezone((1 if sign == "+" else -1) * timedelta(hours=int(hours), minutes=int(minutes)))
        try:
            return datetime.strptime(digits, _FORMATS[len(digits)]).replace(tzinfo=zone)
        except ValueError:
            pass
    raise MappingError(f"{location} {shown(text)!r} is not an HL7 date/time (YYYYMMDD[HHMM[SS]])", location, ack.DATA_TYPE)


def shown(text: str, size: int = 40) -> str:
    """A value quoted in a reason: the start of a long one is enough to find it."""
    return text if len(text) <= size else text[:size] + "…"


def birth_date(text: str) -> str | None:
    """PID-7 as a FHIR date, keeping a year or year-and-month precision as sent."""
    stamp = text.split("^")[0].strip()
    if re.fullmatch(r"\d{4}", stamp) or (re.fullmatch(r"\d{6}", stamp) and 1 <= int(stamp[4:]) <= 12):
        return stamp[:4] + (f"-{stamp[4:]}" if len(stamp) == 6 else "")
    moment = hl7_time(stamp, "PID-7")
    return moment.date().isoformat() if moment else None


def fhir_time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def clean_id(text: str) -> str:
    """A FHIR id for `facility-kind-local`: injective and the same at every door (hub.core.identifiers)."""
    return fhir_id(text)


def coding(ce: str, facility: str, table: str) -> dict[str, Any] | None:
    code, display, system = part(ce, 0), part(ce, 1), part(ce, 2)
    if not code:
        return None
    result = {"system": CODE_SYSTEMS.get(system, local_system(facility, table)), "code": code}
    if display:
        result["display"] = display
    return result


def _prune(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _prune(v) for k, v in node.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(node, list):
        return [v for v in (_prune(x) for x in node) if v not in (None, "", [], {})]
    return node


# Structure ------------------------------------------------------------------------------------------


def check_structure(message: Message, kind: str, trigger: str) -> None:
    names = [s.name for s in message.children]
    required = ("PID", "MRG") if (kind, trigger) == ("ADT", "A40") else REQUIRED.get(kind, ())
    if kind == "ADT" and trigger in ("A01", "A03", "A04"):
        required = ("PID", "PV1")
    if kind == "ORM" and not ({"OBR", "RXO"} & set(names)):
        raise MappingError("ORM^O01 needs an OBR (test or study) or RXO (medication) segment", "OBR", ack.REQUIRED_MISSING)
    last = -1
    for name in required:
        if name not in names:
            raise MappingError(f"{kind}^{trigger} needs a {name} segment", name, ack.REQUIRED_MISSING)
        position = names.index(name)
        if position < last:
            raise MappingError(f"segment {name} is out of order in {kind}^{trigger}", name, ack.SEGMENT_SEQUENCE)
        last = position


# Mapping ---------------------------------------------------------------------------------------------


def map_message(ctx: MessageContext, kind: str, trigger: str, received: datetime) -> list[Event]:
    check_structure(ctx.message, kind, trigger)
    pid = segments(ctx.message, "PID")[0]
    patient, local, flags = map_patient(pid, ctx)
    occurred = received
    if kind == "ADT":
        if trigger == "A40":
            mrg = segments(ctx.message, "MRG")[0]
            merged = part(value(mrg, 1), 0)
            if not merged:
                raise MappingError("A40 needs the merged-away record number in MRG-1", "MRG-1")
            patient["link"] = [{"other": {"reference": f"Patient/{clean_id(f'{ctx.facility}-pat-{merged}')}"},
                                "type": "replaces"}]
            ctx.event("patient_merge", patient, local, occurred, flags=flags)
            return ctx.events
        ctx.event("patient", patient, local, occurred, flags=flags)
        for pv1 in segments(ctx.message, "PV1"):
            ctx.event("encounter", map_encounter(pv1, ctx, trigger, patient["id"]), local, occurred)
        _allergies(ctx, patient["id"], local, occurred)
        return ctx.events
    ctx.event("patient", patient, local, occurred, flags=flags)
    _allergies(ctx, patient["id"], local, occurred)
    if kind == "ORU":
        for report, observations in map_results(ctx, patient["id"]):
            ctx.event("lab_result", report, local, occurred, related=observations)
    elif kind == "RDE":
        orc = segments(ctx.message, "ORC")[0]
        for rxe in segments(ctx.message, "RXE"):
            rx = map_medication(rxe, orc, ctx, patient["id"], "RXE")
            ctx.event("prescription", rx, local, occurred, flags=_medication_flags(rx))
    elif kind == "RDS":
        orc = segments(ctx.message, "ORC")[0]
        for rxd in segments(ctx.message, "RXD"):
            ctx.event("dispense", map_dispense(rxd, orc, ctx, patient["id"]), local, occurred)
    elif kind == "ORM":
        orc = segments(ctx.message, "ORC")[0]
        for rxo in segments(ctx.message, "RXO"):
            rx = map_medication(rxo, orc, ctx, patient["id"], "RXO")
            ctx.event("prescription", rx, local, occurred, flags=_medication_flags(rx))
        for obr in segments(ctx.message, "OBR"):
            ctx.event("imaging_request", map_order(obr, orc, ctx, patient["id"]), local, occurred)
    return ctx.events


PATIENT_CLASSES = {"E", "I", "O", "P", "R", "B", "C", "N", "U"}  # table 0004; all but I and E are outpatient here
SEXES = {"M": "male", "F": "female", "O": "other", "U": "unknown", "A": "other", "N": "unknown"}  # table 0001
_PHONE = re.compile(r"\+?[0-9 ()./#*xX-]*")


def map_patient(pid: Segment, ctx: MessageContext) -> tuple[dict[str, Any], str, tuple[str, ...]]:
    """PID -> Patient. PID-3 and PID-5 are required (refused when absent); birth date, sex and phone
    are optional (a malformed one is noted and left out)."""
    facility = ctx.facility
    ids = repetitions(pid, 3) or [value(pid, 3)]
    local = next((part(r, 0) for r in ids if part(r, 4) == "MR" and part(r, 0)), part(ids[0], 0) if ids else "")
    if not local:
        raise MappingError("PID-3 holds no patient record number", "PID-3")
    try:
        check_local_id(local, "PID-3")
    except LimitError as exc:
        raise MappingError(str(exc), "PID-3", ack.DATA_TYPE) from None
    identifiers: list[dict[str, Any]] = [{"use": "usual", "system": local_mrn_system(facility), "value": local}]
    resident = next((part(r, 0) for r in ids if part(r, 4) in ("NI", "PN") and part(r, 0)), "")
    if not resident and len(value(pid, 19).strip()) == 18:
        resident = value(pid, 19).strip()
    flags: tuple[str, ...] = ()
    if resident:
        identifiers.append({"use": "official", "system": RESIDENT_ID, "value": resident.upper()})
        if not resident_id_valid(resident):
            flags = ("resident-id-check-digit",)
    name = value(pid, 5)
    family, given = part(name, 0), part(name, 1)
    if not (family or given):
        raise MappingError("PID-5 holds no patient name", "PID-5")
    address = value(pid, 11)
    line, city, state = part(address, 0), part(address, 2), part(address, 3)
    patient = ctx.resource({
        "resourceType": "Patient",
        "id": clean_id(f"{facility}-pat-{local}"),
        "meta": {"source": f"urn:hub:facility:{facility}"},
        "identifier": identifiers,
        "name": [{"text": _joined([family, given], [family, given], " "), "family": family,
                  "given": [given] if given else []}],
        "gender": _gender(pid, ctx),
        "birthDate": _birth_date(pid, ctx),
        "telecom": _telecom(pid, ctx),
        "address": [{"text": _joined([state, city, line], [line, city, state], ", "),
                     "line": [line], "city": city, "state": state}] if address else [],
        "managingOrganization": {"reference": f"Organization/{facility}"},
    })
    return patient, local, flags


def _joined(chinese_order: list[str], latin_order: list[str], separator: str) -> str:
    """Chinese names and addresses run together, largest part first; Latin ones are spaced."""
    if all(p.isascii() for p in chinese_order):
        return separator.join(p for p in latin_order if p)
    return "".join(chinese_order)


def _birth_date(pid: Segment, ctx: MessageContext) -> str | None:
    try:
        return birth_date(value(pid, 7))
    except MappingError as exc:
        ctx.note(pid, 7, ack.DATA_TYPE, "invalid-date", f"{exc}; stored without a birth date")
        return None


def _gender(pid: Segment, ctx: MessageContext) -> str | None:
    code = value(pid, 8).strip().upper()
    if code and code not in SEXES:
        ctx.note(pid, 8, ack.TABLE_VALUE, "invalid-code",
                 f"PID-8 {shown(code)!r} is not an HL7 sex code (table 0001: M, F, O, U, A, N); stored without a sex")
    return SEXES.get(code)


def _telecom(pid: Segment, ctx: MessageContext) -> list[dict[str, Any]]:
    """PID-13: the number in XTN-12 (2.3+ style) or XTN-1 (2.1 style), an e-mail address in XTN-4."""
    telecom: list[dict[str, Any]] = []
    for repetition in repetitions(pid, 13):
        number = (part(repetition, 11) or part(repetition, 0)).strip()
        if number and (not _PHONE.fullmatch(number) or sum(c.isdigit() for c in number) < 3):
            ctx.note(pid, 13, ack.DATA_TYPE, "invalid-phone",
                     f"PID-13 {shown(number)!r} is not a telephone number; stored without it", raw=number)
        elif number:
            telecom.append({"system": "phone", "value": number})
        if "@" in part(repetition, 3):
            telecom.append({"system": "email", "value": part(repetition, 3).strip()})
    return telecom


def map_encounter(pv1: Segment, ctx: MessageContext, trigger: str, patient_id: str) -> dict[str, Any]:
    visit = part(value(pv1, 19), 0) or ctx.control_id
    patient_class = value(pv1, 2).strip().upper()
    if patient_class and patient_class not in PATIENT_CLASSES:
        ctx.note(pv1, 2, ack.TABLE_VALUE, "invalid-code", f"PV1-2 {shown(patient_class)!r} is not an HL7 patient class "
                 f"(table 0004: {', '.join(sorted(PATIENT_CLASSES))}); stored as outpatient")
    klass = {"I": ("IMP", "住院"), "O": ("AMB", "门诊"), "E": ("EMER", "急诊")}.get(patient_class, ("AMB", "门诊"))
    admitted = ctx.time(pv1, 44)
    discharged = ctx.time(pv1, 45)
    status = "finished" if trigger == "A03" or discharged else "in-progress"
    location = part(value(pv1, 3), 0)
    return ctx.resource({
        "resourceType": "Encounter",
        "id": clean_id(f"{ctx.facility}-enc-{visit}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "identifier": [{"system": local_system(ctx.facility, "visit"), "value": visit}],
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass[0], "display": klass[1]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "period": {"start": fhir_time(admitted), "end": fhir_time(discharged)},
        "location": [{"location": {"display": location}}] if location else [],
        "serviceProvider": {"reference": f"Organization/{ctx.facility}"},
    })


def drug_coding(seg: Segment, field: int, ctx: MessageContext) -> dict[str, Any]:
    """A drug in a coding system the hub knows keeps it; any other code is the member's own, kept with
    the local-drug system for the central pharmacy to map (never a reason to refuse the message)."""
    given = value(seg, field)
    drug = coding(given, ctx.facility, "drug")
    if drug is None:
        raise MappingError(f"{seg.name}-{field} holds no drug code", f"{seg.name}-{field}")
    if part(given, 2) not in CODE_SYSTEMS:
        drug["system"] = local_drug_system(ctx.facility)
    return drug


def map_medication(seg: Segment, orc: Segment, ctx: MessageContext, patient_id: str, kind: str) -> dict[str, Any]:
    """RXE or RXO -> MedicationRequest, its dosage included."""
    give, amount, units = (2, 3, 5) if kind == "RXE" else (1, 2, 4)
    drug = drug_coding(seg, give, ctx)
    order = part(value(orc, 2), 0) or ctx.control_id
    index = segments(ctx.message, kind).index(seg) + 1
    dose = " ".join(filter(None, [value(seg, amount), part(value(seg, units), 0)]))
    status = {"CA": "cancelled", "DC": "stopped", "HD": "on-hold"}.get(part(value(orc, 1), 0), "active")
    return ctx.resource({
        "resourceType": "MedicationRequest",
        "id": clean_id(f"{ctx.facility}-rx-{order}-{index}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "identifier": [{"system": local_system(ctx.facility, "rx-line"), "value": f"{order}-{index}"}],
        "groupIdentifier": {"system": local_system(ctx.facility, "rx"), "value": order},
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": {"coding": [drug], "text": drug.get("display")},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": fhir_time(ctx.time(orc, 9)),
        "dosageInstruction": [_dosage(seg, ctx.message, kind, dose, value(seg, amount), part(value(seg, units), 0))],
    })


def _dosage(seg: Segment, message: Message, kind: str, text: str, amount: str, unit: str) -> dict[str, Any]:
    """Dose (RXE-3/5, RXO-2/4), timing (RXE-1.2 interval) and route (the RXR after the segment)."""
    dosage: dict[str, Any] = {"text": text}
    try:
        number = float(amount)
    except ValueError:
        number = None
    if number is not None and unit:
        dosage["doseAndRate"] = [{"doseQuantity": {"value": int(number) if number.is_integer() else number,
                                                   "unit": unit}}]
    interval = part(value(seg, 1), 1).upper() if kind == "RXE" else ""
    if interval in REPEATS:
        frequency, period, period_unit = REPEATS[interval]
        dosage["timing"] = {"code": {"text": interval},
                            "repeat": {"frequency": frequency, "period": period, "periodUnit": period_unit}}
    children = list(message.children)
    position = next((i for i, s in enumerate(children) if s is seg), len(children))
    rxr = next((s for s in children[position + 1:] if s.name in ("RXR", "RXE", "RXO")), None)
    if rxr is not None and rxr.name == "RXR":
        route = value(rxr, 1)
        dosage["route"] = {"text": part(route, 1) or part(route, 0)}
    return dosage


def _medication_flags(resource: dict[str, Any]) -> tuple[str, ...]:
    codings = resource.get("medicationCodeableConcept", {}).get("coding", [])
    return (UNMAPPED_DRUG_FLAG,) if codings and all(c["system"].startswith(LOCAL_DRUG)
                                                   for c in codings) else ()


def map_dispense(rxd: Segment, orc: Segment, ctx: MessageContext, patient_id: str) -> dict[str, Any]:
    """RXD (give code, when, amount and unit) -> a completed MedicationDispense that points at the
    prescription line it fills (ORC-2 and the RXD's place, as RDE^O11 numbers its RXE lines)."""
    drug = drug_coding(rxd, 2, ctx)
    order = part(value(orc, 2), 0) or part(value(rxd, 7), 0) or ctx.control_id
    index = segments(ctx.message, "RXD").index(rxd) + 1
    amount = value(rxd, 4).strip()
    try:
        quantity = float(amount) if amount else None
    except ValueError:
        raise MappingError(f"RXD-4 {amount!r} is not a number (the amount dispensed)", "RXD-4", ack.DATA_TYPE) from None
    unit = part(value(rxd, 5), 1) or part(value(rxd, 5), 0)
    status = {"CA": "cancelled", "DC": "stopped"}.get(part(value(orc, 1), 0), "completed")
    return ctx.resource({
        "resourceType": "MedicationDispense",
        "id": clean_id(f"{ctx.facility}-disp-{order}-{index}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "identifier": [{"system": local_system(ctx.facility, "dispense"), "value": f"{order}-{index}"}],
        "status": status,
        "medicationCodeableConcept": {"coding": [drug], "text": drug.get("display")},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{clean_id(f'{ctx.facility}-rx-{order}-{index}')}"}],
        "quantity": {"value": int(quantity) if quantity is not None and quantity.is_integer() else quantity,
                     "unit": unit} if quantity is not None else None,
        "whenHandedOver": fhir_time(ctx.time(rxd, 3)),
        "performer": [{"actor": {"reference": f"Organization/{ctx.facility}"}}],
    })


# AL1-2 allergen type (HL7 table 0127) and AL1-4 severity (table 0128) in FHIR's words.
ALLERGEN_CATEGORY = {"DA": "medication", "FA": "food", "EA": "environment", "AA": "environment",
                     "PA": "environment", "LA": "environment", "MA": None, "MC": None}
SEVERITY_CRITICALITY = {"SV": "high", "MO": "low", "MI": "low", "U": "unable-to-assess"}


def _allergies(ctx: MessageContext, patient_id: str, local: str, occurred: datetime) -> None:
    for al1 in segments(ctx.message, "AL1"):
        ctx.event("allergy", map_allergy(al1, ctx, patient_id, local), local, occurred)


def map_allergy(al1: Segment, ctx: MessageContext, patient_id: str, local: str) -> dict[str, Any]:
    """AL1 -> AllergyIntolerance, one per allergen and patient (a resent AL1 updates the same one)."""
    allergen = value(al1, 3)
    code = coding(allergen, ctx.facility, "allergen")
    text = part(allergen, 1) or part(allergen, 0)
    if not text:
        raise MappingError("AL1-3 holds no allergen (code or name)", "AL1-3")
    category = ALLERGEN_CATEGORY.get(part(value(al1, 2), 0).upper())
    reactions = [unescape(r) for r in (repetitions(al1, 5) or [value(al1, 5)]) if r.strip()]
    identified = ctx.time(al1, 6)
    return ctx.resource({
        "resourceType": "AllergyIntolerance",
        "id": clean_id(f"{ctx.facility}-alg-{local}-{part(allergen, 0) or text}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                       "code": "active"}]},
        "verificationStatus": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "code": "confirmed"}]},
        "type": "allergy",
        "category": [category] if category else [],
        "criticality": SEVERITY_CRITICALITY.get(part(value(al1, 4), 0).upper()),
        "code": {"coding": [code] if code and part(allergen, 0) else [], "text": text},
        "patient": {"reference": f"Patient/{patient_id}"},
        "recordedDate": fhir_time(identified),
        "reaction": [{"manifestation": [{"text": r}]} for r in reactions],
    })


def map_order(obr: Segment, orc: Segment, ctx: MessageContext, patient_id: str) -> dict[str, Any]:
    service = value(obr, 4)
    code = part(service, 0)
    is_ecg = code.upper() in ECG_CODES or "心电" in part(service, 1)
    order = part(value(orc, 2), 0) or part(value(obr, 2), 0) or ctx.control_id
    priority = {"S": "stat", "A": "asap", "R": "routine"}.get(part(value(obr, 27), 5) or part(value(orc, 7), 5), "routine")
    coded = ({"system": "http://loinc.org", "code": "11524-6", "display": "EKG study"} if is_ecg
             else coding(service, ctx.facility, "procedure"))
    if coded is None:
        raise MappingError("OBR-4 holds no service code", "OBR-4")
    return ctx.resource({
        "resourceType": "ServiceRequest",
        "id": clean_id(f"{ctx.facility}-sr-{order}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "identifier": [{"system": local_system(ctx.facility, "order"), "value": order}],
        "status": "revoked" if part(value(orc, 1), 0) == "CA" else "active",
        "intent": "order",
        "priority": priority,
        "category": [{"text": "心电图" if is_ecg else (value(obr, 24) or "影像")}],
        "code": {"coding": [coded], "text": part(service, 1)},
        "subject": {"reference": f"Patient/{patient_id}"},
        "authoredOn": fhir_time(ctx.time(orc, 9) or ctx.time(obr, 6)),
        "requester": {"reference": f"Organization/{ctx.facility}"},
        "reasonCode": [{"text": part(value(obr, 31), 1) or part(value(obr, 31), 0)}],
    })


def map_results(ctx: MessageContext, patient_id: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    reports: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    current: tuple[dict[str, Any], list[dict[str, Any]]] | None = None
    for segment in ctx.message.children:
        if segment.name == "OBR":
            current = (_report(segment, ctx, patient_id), [])
            reports.append(current)
        elif segment.name == "OBX":
            if current is None:
                raise MappingError("an OBX comes before any OBR", "OBX", ack.SEGMENT_SEQUENCE)
            current[1].append(_observation(segment, ctx, patient_id, current[0], len(current[1]) + 1))
    for report, observations in reports:
        report["result"] = [{"reference": f"Observation/{o['id']}"} for o in observations]
    return reports


def _report(obr: Segment, ctx: MessageContext, patient_id: str) -> dict[str, Any]:
    filler = part(value(obr, 3), 0) or part(value(obr, 2), 0) or ctx.control_id
    code = coding(value(obr, 4), ctx.facility, "lab")
    if code is None:
        raise MappingError("OBR-4 holds no test code", "OBR-4")
    status = {"F": "final", "P": "preliminary", "C": "corrected", "X": "cancelled"}.get(value(obr, 25), "final")
    return ctx.resource({
        "resourceType": "DiagnosticReport",
        "id": clean_id(f"{ctx.facility}-dr-{filler}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "identifier": [{"system": local_system(ctx.facility, "lab-report"), "value": filler}],
        "status": status,
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "LAB"}]}],
        "code": {"coding": [code], "text": part(value(obr, 4), 1)},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": fhir_time(ctx.time(obr, 7)),
        "issued": fhir_time(ctx.time(obr, 22)),
        "performer": [{"reference": f"Organization/{ctx.facility}"}],
    })


def _filler(report: dict[str, Any]) -> str:
    return str(report["identifier"][0]["value"])


def _observation(obx: Segment, ctx: MessageContext, patient_id: str, report: dict[str, Any], n: int) -> dict[str, Any]:
    kind = value(obx, 2).upper()
    raw = value(obx, 5)
    code = coding(value(obx, 3), ctx.facility, "lab")
    where = f"OBX-5 (OBX {n})"
    if code is None:
        raise MappingError(f"OBX-3 of OBX {n} holds no observation code", "OBX-3")
    result: dict[str, Any] = {}
    if kind in ("NM", "SN"):
        # SN is comparator^number^separator^number: "^182", "<^5", ">=^10"; a ratio or range ("1^:^128") is text.
        comparator, number = (part(raw, 0), part(raw, 1)) if kind == "SN" else ("", raw.strip())
        if kind == "SN" and (part(raw, 2) or part(raw, 3)):
            result["valueString"] = "".join(part(raw, i) for i in range(4))
        else:
            try:
                parsed = float(number)
            except ValueError:
                raise MappingError(f"{where} {raw!r} is not a number but OBX-2 says {kind}", "OBX-5",
                                   ack.DATA_TYPE) from None
            unit = part(value(obx, 6), 0)
            result["valueQuantity"] = {"value": int(parsed) if parsed.is_integer() and "." not in number else parsed,
                                       "comparator": comparator if comparator in ("<", "<=", ">=", ">") else None,
                                       "unit": unit, "system": "http://unitsofmeasure.org" if unit else None,
                                       "code": unit or None}
    elif kind in ("CE", "CWE"):
        result["valueCodeableConcept"] = {"coding": [coding(raw, ctx.facility, "result")], "text": part(raw, 1)}
    elif raw:  # ST, TX, FT: a text in several repetitions is several lines
        result["valueString"] = "\n".join(unescape(r) for r in repetitions(obx, 5))
    low, _, high = value(obx, 7).partition("-")
    flag = value(obx, 8).upper()
    return ctx.resource({
        "resourceType": "Observation",
        "id": clean_id(f"{ctx.facility}-obs-{_filler(report)}-{n}"),
        "meta": {"source": f"urn:hub:facility:{ctx.facility}"},
        "status": {"F": "final", "P": "preliminary", "C": "corrected"}.get(value(obx, 11), "final"),
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "laboratory"}]}],
        "code": {"coding": [code], "text": part(value(obx, 3), 1)},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": fhir_time(ctx.time(obx, 14)) or report.get("effectiveDateTime"),
        **result,
        "interpretation": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                                        "code": flag}]}] if flag in ("H", "L", "N", "A", "HH", "LL") else [],
        "referenceRange": [{"low": _number(low), "high": _number(high)}] if (low or high) else [],
    })


def _number(text: str) -> dict[str, Any] | None:
    try:
        return {"value": float(text.strip())}
    except ValueError:
        return None
