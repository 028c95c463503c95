"""HL7 v2.5 ORU^R01 from a report (DiagnosticReport with its Observations), a critical-value notice
(Communication about an Observation or report) or a prescription review (Task with its DetectedIssues):
pure functions, no I/O.

Built by hand rather than with hl7apy: every field below is written on purpose (HL7 escapes, the
member's character set in MSH-18, China time with its offset), and the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.destinations import MSH18
from hub.core.errors import PermanentError

CHINA = ZoneInfo("Asia/Shanghai")
CODECS = {"UTF-8": "utf-8", "GB18030": "gb18030"}
ST_LIMIT = 199  # longer text, or text with line breaks, goes as TX
_SYSTEMS = {  # FHIR code systems -> HL7 table 0396 coding system names
    "http://loinc.org": "LN",
    "http://snomed.info/sct": "SCT",
    "http://hl7.org/fhir/sid/icd-10": "I10",
    "http://unitsofmeasure.org": "UCUM",
}
# Observation.interpretation (v3 ObservationInterpretation) -> OBX-8 (HL7 table 0078)
_FLAGS = {"H": "H", "L": "L", "HH": "HH", "LL": "LL", "A": "A", "AA": "AA", "N": "N", "<": "<", ">": ">",
          "HU": "HH", "LU": "LL", "POS": "A", "DET": "A", "IND": "I"}
_CRITICAL = {"H": "HH", "HH": "HH", "L": "LL", "LL": "LL"}  # OBX-8 of a critical value; anything else: AA
_REPORT_STATUS = {"final": "F", "amended": "C", "corrected": "C", "appended": "C", "preliminary": "P",
                  "partial": "P", "registered": "I", "cancelled": "X", "entered-in-error": "X"}
_OBS_STATUS = {"final": "F", "amended": "C", "corrected": "C", "preliminary": "P", "registered": "I",
               "cancelled": "X", "entered-in-error": "W"}


class RenderError(PermanentError, ValueError):
    """The result cannot be written as a message (e.g. a report without a code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, "render")


@dataclass(frozen=True)
class Header:
    """Who sends to whom, and the message's own id."""

    message_id: str  # MSH-10: stable per message and destination, so the member can drop a resend
    sending_facility: str  # the county data centre's facility id
    receiving_application: str
    receiving_facility: str
    charset: str  # UTF-8 or GB18030
    at: datetime  # MSH-7


def escape(text: str) -> str:
    """HL7 escape sequences for the default delimiters; line breaks become spaces (callers that keep
    lines split them first)."""
    return (text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
            .replace("~", "\\R\\").replace("\r\n", " ").replace("\r", " ").replace("\n", " "))


def hl7_time(value: str | datetime | None) -> str:
    """A FHIR date or dateTime as HL7 DTM, in China time with its offset (a date stays a date)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        if len(value) <= 10:  # YYYY, YYYY-MM, YYYY-MM-DD
            return value.replace("-", "")
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise RenderError(f"{value!r} is not a FHIR dateTime") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)  # FHIR requires an offset with a time; members mean China time
    return value.astimezone(CHINA).strftime("%Y%m%d%H%M%S%z")


def coded(concept: dict[str, Any] | None) -> str:
    """CodeableConcept -> CWE `code^text^system` (the first coding, LOINC preferred)."""
    if not concept:
        return ""
    codings = [c for c in concept.get("coding") or [] if c.get("code")]
    codings.sort(key=lambda c: c.get("system") != "http://loinc.org")
    text = concept.get("text") or ""
    if not codings:
        return f"^{escape(text)}" if text else ""
    first = codings[0]
    system = _SYSTEMS.get(first.get("system", ""), "L")
    return "^".join([escape(first["code"]), escape(first.get("display") or text), system])


def _text_lines(text: str) -> list[str]:
    return [escape(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


def _value(observation: dict[str, Any]) -> tuple[str, str, str]:
    """OBX-2 value type, OBX-5 value and OBX-6 units."""
    if "valueQuantity" in observation:
        quantity = observation["valueQuantity"]
        number = quantity.get("value")
        unit = quantity.get("unit") or quantity.get("code") or ""
        units = escape(unit)
        if quantity.get("code") and quantity.get("system") == "http://unitsofmeasure.org":
            units = f"{escape(quantity['code'])}^{escape(unit)}^UCUM"
        comparator = quantity.get("comparator", "")
        if comparator:  # "<0.01" has no NM form: structured numeric
            return "SN", f"{escape(comparator)}^{_number(number)}", units
        return "NM", _number(number), units
    if "valueInteger" in observation:
        return "NM", str(observation["valueInteger"]), ""
    if "valueString" in observation:
        text = str(observation["valueString"])
        if len(text) <= ST_LIMIT and "\n" not in text and "\r" not in text:
            return "ST", escape(text), ""
        return "TX", "~".join(_text_lines(text)), ""  # one repetition per line
    if "valueCodeableConcept" in observation:
        return "CWE", coded(observation["valueCodeableConcept"]), ""
    if "valueBoolean" in observation:
        return "ST", "true" if observation["valueBoolean"] else "false", ""
    if "valueDateTime" in observation:
        return "DTM", hl7_time(observation["valueDateTime"]), ""
    return "ST", "", ""  # no value (dataAbsentReason): the OBX still says the test was done


def _number(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return text[:-2] if text.endswith(".0") and isinstance(value, float) else text


def reference_range(observation: dict[str, Any]) -> str:
    ranges = observation.get("referenceRange") or []
    if not ranges:
        return ""
    first = ranges[0]
    low, high = (first.get("low") or {}).get("value"), (first.get("high") or {}).get("value")
    if low is not None and high is not None:
        return f"{_number(low)}-{_number(high)}"
    if low is not None:
        return f">{_number(low)}"
    if high is not None:
        return f"<{_number(high)}"
    return escape(first.get("text") or "")


def abnormal_flag(observation: dict[str, Any], critical: bool = False) -> str:
    """OBX-8 from Observation.interpretation; a critical value is at least AA (HH/LL when high/low)."""
    codes = [c.get("code", "") for i in observation.get("interpretation") or [] for c in i.get("coding") or []]
    flag = next((_FLAGS[c] for c in codes if c in _FLAGS), "")
    if critical:
        return _CRITICAL.get(flag, "AA")
    return flag


def msh(header: Header) -> str:
    fields = ["MSH", "^~\\&", "COUNTY-HUB", escape(header.sending_facility.upper()),
              escape(header.receiving_application), escape(header.receiving_facility), hl7_time(header.at), "",
              "ORU^R01^ORU_R01", header.message_id, "P", "2.5", "", "", "", "", "", MSH18[header.charset]]
    return "MSH|" + "|".join(fields[1:])


def pid(local_id: str, facility_id: str, subject: dict[str, Any] | None) -> str:
    name = escape((subject or {}).get("display") or "")
    return f"PID|1||{escape(local_id)}^^^{escape(facility_id.upper())}^MR||{name}"


def obx(n: int, observation: dict[str, Any], critical: bool = False) -> str:
    value_type, value, units = _value(observation)
    status = _OBS_STATUS.get(str(observation.get("status", "final")), "F")
    when = hl7_time(observation.get("effectiveDateTime") or (observation.get("effectivePeriod") or {}).get("start"))
    fields = ["OBX", str(n), value_type, coded(observation.get("code")), "", value, units,
              reference_range(observation), abnormal_flag(observation, critical), "", "", status, "", "", when]
    return "|".join(fields).rstrip("|")


def nte(n: int, text: str) -> str:
    return f"NTE|{n}|L|" + "\\.br\\".join(_text_lines(text))  # NTE-3 is FT: line breaks as \.br\


def _identifier_value(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("value") or "")
    return ""


def order_numbers(report: dict[str, Any]) -> tuple[str, str]:
    """(placer, filler): the order the member placed (basedOn) and the report's own number."""
    placer = ""
    for based_on in report.get("basedOn") or []:
        placer = _identifier_value(based_on.get("identifier")) or str(based_on.get("reference", "")).rpartition("/")[2]
        if placer:
            break
    identifiers = report.get("identifier") or []
    filler = _identifier_value(identifiers[0]) if identifiers else ""
    return escape(placer), escape(filler or str(report.get("id", "")))


def obr(report: dict[str, Any], code: str, status: str) -> str:
    placer, filler = order_numbers(report)
    when = hl7_time(report.get("effectiveDateTime") or (report.get("effectivePeriod") or {}).get("start"))
    fields = ["OBR", "1", placer, filler, code, "", "", when] + [""] * 14
    fields += [hl7_time(report.get("issued")), "", coded((report.get("category") or [None])[0]).partition("^")[0],
               status]
    return "|".join(fields)


def report_message(header: Header, report: dict[str, Any], observations: Sequence[dict[str, Any]],
                   local_id: str, facility_id: str) -> bytes:
    """ORU^R01 for a reader's report: OBR, one OBX per Observation, NTE with the conclusion."""
    code = coded(report.get("code"))
    if not code:
        raise RenderError("the DiagnosticReport has no code (DiagnosticReport.code); OBR-4 needs one")
    status = _REPORT_STATUS.get(str(report.get("status", "")), "")
    if not status:
        raise RenderError(f"DiagnosticReport.status {report.get('status')!r} is not a report status")
    segments = [msh(header), pid(local_id, facility_id, report.get("subject")), _orc(report), obr(report, code, status)]
    segments += [obx(n, o) for n, o in enumerate(observations, start=1)]
    notes = _conclusion(report)
    segments += [nte(n, text) for n, text in enumerate(notes, start=1)]
    return _encode(segments, header.charset)


def notice_message(header: Header, communication: dict[str, Any], about: Sequence[dict[str, Any]],
                   local_id: str, facility_id: str) -> bytes:
    """ORU^R01 for a critical-value notice: the values it is about with OBX-8 AA/HH/LL, and its text
    (Communication.payload) as NTE."""
    observations = [r for r in about if r.get("resourceType") == "Observation"]
    reports = [r for r in about if r.get("resourceType") == "DiagnosticReport"]
    texts = [str(p["contentString"]) for p in communication.get("payload") or [] if p.get("contentString")]
    if not observations and not texts:
        raise RenderError("the critical-value Communication names no Observation (in related) and has no "
                          "payload text; there is nothing to tell the member")
    order = dict(reports[0]) if reports else {"id": communication.get("id", "")}
    order.setdefault("basedOn", communication.get("basedOn") or [])
    order.setdefault("issued", communication.get("sent"))
    if observations and not order.get("effectiveDateTime"):
        order["effectiveDateTime"] = observations[0].get("effectiveDateTime")
    if not order.get("code"):
        order["code"] = (observations[0].get("code") if observations else None) or {"text": "危急值 critical value"}
    subject = communication.get("subject") if (communication.get("subject") or {}).get("display") else next(
        (r["subject"] for r in about if (r.get("subject") or {}).get("display")), communication.get("subject"))
    # A withdrawn notice (the result was corrected: Communication entered-in-error) is a correction
    # (OBR-25 C) whose values are no longer flagged critical.
    withdrawn = communication.get("status") == "entered-in-error"
    segments = [msh(header), pid(local_id, facility_id, subject), _orc(order),
                obr(order, coded(order["code"]), "C" if withdrawn else "F")]
    rows = [obx(n, o, critical=not withdrawn) for n, o in enumerate(observations, start=1)]
    if not rows:  # the notice's text is its only content: one text result flagged AA
        rows = [obx(1, {"code": {"text": "危急值 critical value"}, "valueString": "\n".join(texts),
                        "interpretation": [] if withdrawn else [{"coding": [{"code": "AA"}]}]},
                    critical=not withdrawn)]
        texts = []
    segments += rows
    segments += [nte(n, text) for n, text in enumerate(texts, start=1)]
    return _encode(segments, header.charset)


def review_message(header: Header, task: dict[str, Any], related: Sequence[dict[str, Any]], local_id: str,
                   facility_id: str) -> bytes:
    """ORU^R01 for the central pharmacy's review of a prescription (a Task, code prescription-review): OBR for
    the prescription line (the member's own number as placer), one text OBX with the outcome, one per
    finding (OBX-8 A for a hold), and the pharmacist's reason or note as NTE."""
    prescription = next((r for r in related if r.get("resourceType") == "MedicationRequest"), None)
    issues = [r for r in related if r.get("resourceType") == "DetectedIssue"]
    outcome = task.get("businessStatus") or {}
    code = next((c.get("code") for c in outcome.get("coding") or [] if c.get("code")), "")
    if not code:
        raise RenderError("the review Task has no businessStatus code (pass, warn, hold, approve, return, override)")
    order: dict[str, Any] = {"id": task.get("id", ""), "identifier": task.get("identifier") or [],
                             "effectiveDateTime": task.get("authoredOn"), "issued": task.get("lastModified")}
    if prescription is not None:
        order["basedOn"] = [{"identifier": (prescription.get("identifier") or [{}])[0],
                             "reference": f"MedicationRequest/{prescription.get('id')}"}]
    subject = prescription.get("subject") if prescription else None
    rows: list[dict[str, Any]] = [{"code": {"text": "处方审核结果 prescription review"},
             "valueString": f"{code} {outcome.get('text') or ''}".strip()}]
    for issue in issues:
        hold = any(e.get("valueCode") == "hold" for e in issue.get("extension") or [])
        rows.append({"code": issue.get("code") or {"text": "finding"}, "valueString": str(issue.get("detail") or ""),
                     "interpretation": [{"coding": [{"code": "A"}]}] if hold else []})
    notes = [str((task.get("statusReason") or {}).get("text") or "")]
    notes += [str(n.get("text") or "") for n in task.get("note") or []]
    segments = [msh(header), pid(local_id, facility_id, subject), _orc(order),
                obr(order, "prescription-review^处方审核^L", "F")]
    segments += [obx(n, row) for n, row in enumerate(rows, start=1)]
    segments += [nte(n, text) for n, text in enumerate([t for t in notes if t], start=1)]
    return _encode(segments, header.charset)


def _orc(report: dict[str, Any]) -> str:
    placer, filler = order_numbers(report)
    return f"ORC|RE|{placer}|{filler}"


def _conclusion(report: dict[str, Any]) -> list[str]:
    notes = [str(report["conclusion"])] if report.get("conclusion") else []
    codes = [c.get("text") or next((x.get("display") for x in c.get("coding") or [] if x.get("display")), "")
             for c in report.get("conclusionCode") or []]
    notes += [c for c in codes if c and c not in notes]
    return notes


def _encode(segments: Iterable[str], charset: str) -> bytes:
    return ("\r".join(segments) + "\r").encode(CODECS[charset])
