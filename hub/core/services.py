"""Services one part offers to the application and to other parts, defined here so neither side
imports the other. A part names its implementation in `Part.provides`; the application builds it
once and hands it out (`request.app.state.services`, the runner's context)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy.orm import Session

SHARED_RECORD = "shared_record"
MEMBER_ACTIVITY = "member_activity"


class SharedRecord(Protocol):
    """Who a patient is across members, and what the shared record holds (the record store)."""

    def community_ids(self, session: Session, patient_ids: set[str], patient_keys: set[str]) -> dict[str, str | None]:
        """Every patient id (and every member patient behind the keys) with its community patient;
        a community id maps to itself, an unknown id to None."""
        ...

    def community_id_for(self, session: Session, patient_id: str) -> str | None:
        """The community patient of one member or community Patient id, or None."""
        ...

    def patients_of_blob(self, session: Session, sha256: str) -> set[str]:
        """The Patient ids of the studies that reference a stored binary."""
        ...

    def patient_keys_for(self, session: Session, patient_id: str) -> list[str]:
        """Every member patient key (facility/local id) of the person behind a member or community
        Patient id: what finds one person's items across members."""
        ...

    def source_patient_ids(self, session: Session, community_id: str) -> set[str]:
        """Every member's Patient id linked to a community patient (empty if it is unknown)."""
        ...

    def find_by_identifier(self, session: Session, resource_type: str, system: str | None, value: str,
                           facility_id: str, limit: int) -> tuple[list[str], int]:
        """Ids (up to `limit`) and total of a member's own stored resources carrying an identifier."""
        ...

    def current_version(self, session: Session, resource_type: str, resource_id: str) -> tuple[int, str | None] | None:
        """(version id, facility) of a stored resource as the record holds it now (None for a community
        record's facility), or None when it is not stored: what `If-Match` on an update compares."""
        ...


class NoSharedRecord:
    """Where no part keeps a shared record (a connector-only installation): nobody is known."""

    def community_ids(self, session: Session, patient_ids: set[str], patient_keys: set[str]) -> dict[str, str | None]:
        return dict.fromkeys(patient_ids)

    def community_id_for(self, session: Session, patient_id: str) -> str | None:
        return None

    def patients_of_blob(self, session: Session, sha256: str) -> set[str]:
        return set()

    def patient_keys_for(self, session: Session, patient_id: str) -> list[str]:
        return []

    def source_patient_ids(self, session: Session, community_id: str) -> set[str]:
        return set()

    def find_by_identifier(self, session: Session, resource_type: str, system: str | None, value: str,
                           facility_id: str, limit: int) -> tuple[list[str], int]:
        return [], 0

    def current_version(self, session: Session, resource_type: str, resource_id: str) -> tuple[int, str | None] | None:
        return None


@dataclass(frozen=True)
class MemberState:
    """One member facility judged against its own usual traffic at this hour of the week.

    `state`: "ok", "silent" (quiet longer than `threshold_s`), "learning" (too little history to judge yet)
    or "sparse" (its usual traffic is too thin to ever expect a message in the history window)."""

    facility_id: str
    state: str
    last_event_at: float | None  # Unix time of its newest event (when the hub accepted it)
    quiet_for_s: float | None  # now - last_event_at
    threshold_s: float | None  # how long it may stay quiet after its last event; None: not judged
    usual_per_hour: float  # its usual events in this hour of the week
    expected_since_last: float  # events its usual traffic would have brought since its last one
    history_days: float  # how much of its traffic the hub has seen

    @property
    def silent(self) -> bool:
        return self.state == "silent"


class MemberActivity(Protocol):
    """Which members have gone quiet, judged from each member's own traffic (consumers/member_traffic)."""

    def members(self, session: Session, settings: Any, now: datetime) -> list[MemberState]:
        """Every member the hub has heard from, judged at `now`, in facility order."""
        ...


class NoMemberActivity:
    """Where no part watches the members' traffic: nobody is listed."""

    def members(self, session: Session, settings: Any, now: datetime) -> list[MemberState]:
        return []


DEFAULTS: Mapping[str, Any] = {SHARED_RECORD: NoSharedRecord(), MEMBER_ACTIVITY: NoMemberActivity()}
T = TypeVar("T")


@dataclass(frozen=True)
class Services:
    """The services of the registered parts by name, with a default where none is offered."""

    offered: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, kind: type[T] | None = None) -> T:
        if name in self.offered:
            return cast(T, self.offered[name])
        if name in DEFAULTS:
            return cast(T, DEFAULTS[name])
        raise KeyError(f"no part offers the service {name!r}")

    @property
    def shared_record(self) -> SharedRecord:
        return self.get(SHARED_RECORD)

    @property
    def member_activity(self) -> MemberActivity:
        return self.get(MEMBER_ACTIVITY)
