"""The one set of size limits on what the hub stores and searches, checked at every door.

Whatever a connector acknowledges (HL7 AA, FHIR 201, a polled row) must fit the record store on
SQLite and PostgreSQL alike and be findable there, so the column widths of the shared record
(consumers/record_store/models.py) are stated here once and checked before the ACK: by the sink
every connector writes through (hub.core.pipeline) and, with a better location, by the door itself.
"""

from __future__ import annotations

from typing import Any

from hub.core.errors import PermanentError
from hub.core.events import Event
from hub.core.fhir_fields import codings

LOCAL_ID_MAX = 64  # a member's patient record number; the patient key `facility/local` fits 100
PATIENT_KEY_MAX = 100
IDENTIFIER_SYSTEM_MAX = 200
IDENTIFIER_VALUE_MAX = 100
CODE_SYSTEM_MAX = 200
CODE_MAX = 100
MAIN_CODE_MAX = 200  # `system|code` of a resource's first coding (kept only when it fits)


class LimitError(PermanentError, ValueError):
    """An input over one of the limits; `expression` names the element (FHIR path or HL7 field)."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


def check_local_id(local: str, where: str) -> None:
    if len(local) > LOCAL_ID_MAX:
        raise LimitError(f"{where}: the patient record number is {len(local)} characters, over the "
                         f"{LOCAL_ID_MAX}-character limit", where)


def check_resource(resource: dict[str, Any], where: str) -> None:
    """The identifiers and codings the record store indexes for search must fit their columns."""
    for i, identifier in enumerate(resource.get("identifier") or []):
        if not isinstance(identifier, dict):
            continue
        _fits(identifier.get("system"), IDENTIFIER_SYSTEM_MAX, f"{where}.identifier[{i}].system", "identifier system")
        _fits(identifier.get("value"), IDENTIFIER_VALUE_MAX, f"{where}.identifier[{i}].value", "identifier value")
    for system, code in codings(resource):
        _fits(system, CODE_SYSTEM_MAX, f"{where}.code", f"code system of code {code[:20]!r}")
        _fits(code, CODE_MAX, f"{where}.code", "code")


def check_event(event: Event) -> None:
    """Every limit on one event: its patient key and each resource it carries."""
    check_local_id(event.patient_key.partition("/")[2], "patient")
    if len(event.patient_key) > PATIENT_KEY_MAX:
        raise LimitError(f"the patient key is {len(event.patient_key)} characters, over the {PATIENT_KEY_MAX}-character "
                         "limit", "patient")
    check_resource(event.resource, str(event.resource.get("resourceType")))
    for related in event.related:
        check_resource(related, str(related.get("resourceType")))


def _fits(value: Any, limit: int, where: str, what: str) -> None:
    if value is not None and len(str(value)) > limit:
        raise LimitError(f"{where}: the {what} is {len(str(value))} characters, over the {limit}-character limit "
                         "the shared record can store and search", where)
