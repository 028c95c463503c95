"""HL7 v2 acknowledgements: MSA with the outcome, ERR with the HL7 error code, location and reason."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.mllp.quality import FieldIssue

# HL7 table 0357 codes used here.
SEGMENT_SEQUENCE = "100"
REQUIRED_MISSING = "101"
DATA_TYPE = "102"
TABLE_VALUE = "103"
UNSUPPORTED_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_VERSION = "203"
INTERNAL = "207"


@dataclass(frozen=True)
class Ack:
    code: str  # AA, AE, AR
    text: str = ""
    error_code: str | None = None
    location: str | None = None  # e.g. "PID-5"
    warnings: tuple[FieldIssue, ...] = ()  # optional fields left out of an accepted message


def escape(text: str) -> str:
    """HL7 escape sequences, so a reason never breaks the ACK's structure."""
    return (text.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\")
            .replace("~", "\\R\\").replace("\r", " ").replace("\n", " "))


def build_ack(ack: Ack, fields: dict[int, str], receiving_app: str = "COUNTY-HUB") -> str:
    """`fields` are MSH fields of the message answered (3, 4, 9, 10, 12, 18; any may be missing)."""
    now = datetime.now(ZoneInfo("Asia/Shanghai")).strftime("%Y%m%d%H%M%S")
    trigger = fields.get(9, "").split("^")[1] if "^" in fields.get(9, "") else ""
    version = fields.get(12, "") or "2.5"
    msh = ["MSH", "^~\\&", receiving_app, "HUB", fields.get(3, ""), fields.get(4, ""), now, "",
           f"ACK^{trigger}^ACK" if trigger else "ACK", uuid.uuid4().hex[:20], "P", version, "", "", "", "", "",
           fields.get(18, "")]
    segments = ["|".join([msh[0], *msh[2:]]).replace("MSH|", "MSH|^~\\&|", 1)]
    segments.append("|".join(["MSA", ack.code, fields.get(10, ""), escape(ack.text)[:500]]))
    if ack.code != "AA":
        segments.append(_err(_location(ack.location), ack.error_code or INTERNAL, "E", ack.text, version))
    for warning in ack.warnings:
        location = f"{warning.segment}^{warning.sequence}^{warning.field}"
        segments.append(_err(location, warning.code, "W", warning.text, version))
    return "\r".join(segments) + "\r"


def _err(location: str, code: str, severity: str, text: str, version: str) -> str:
    """ERR-2 location (ERL), ERR-3 the table 0357 code, ERR-4 severity (E error, W warning), ERR-8 the
    reason; before 2.5 ERR-1 (ELD) carries location and code as well."""
    err1 = f"{location}^{code}" if version < "2.5" else ""
    return "|".join(["ERR", err1, location, f"{code}^^HL70357", severity, "", "", "", escape(text)[:500]])


def _location(location: str | None) -> str:
    """'PID-5' -> 'PID^1^5' (ERL: segment, sequence, field)."""
    if not location or "-" not in location:
        return location or ""
    segment, _, field = location.partition("-")
    return f"{segment}^1^{field}"
