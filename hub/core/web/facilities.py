"""Which member facilities the hub knows, for callers (admins) who name one in X-Hub-Facility.

A member is known when it is the hub's own facility (HUB_FACILITY_ID), is listed in
HUB_FACILITY_LEVELS, or holds a connector token that is not revoked (a member is onboarded by
giving its connector a token). Anything else, or anything not shaped like a facility id, is refused.
"""

from __future__ import annotations

import re

from fastapi import Request
from sqlalchemy import select

from hub.core.db.models import ApiToken
from hub.core.web.auth import Principal, check_facility
from hub.core.web.errors import FhirError

FACILITY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def known_facilities(request: Request) -> set[str]:
    settings = request.app.state.settings
    known = {settings.facility_id, *settings.facility_levels}
    with request.app.state.database.reading() as session:
        rows = session.scalars(
            select(ApiToken.facility_id).where(ApiToken.facility_id.is_not(None), ApiToken.revoked_at.is_(None))
            .distinct()
        )
        known.update(row for row in rows if row)
    return known


def check_known_facility(request: Request, facility: str) -> str:
    """The facility named by the caller, if it is a facility id the hub knows; 400 otherwise."""
    if not FACILITY_ID.fullmatch(facility):
        raise FhirError(400, "invalid", f"X-Hub-Facility {facility!r} is not a facility id (letters, digits, - and _, "
                        "at most 32)", ["X-Hub-Facility"])
    if facility not in known_facilities(request):
        raise FhirError(400, "invalid", f"X-Hub-Facility {facility!r} is not a member known to this hub; members are "
                        "HUB_FACILITY_ID, those in HUB_FACILITY_LEVELS and those with a connector token",
                        ["X-Hub-Facility"])
    return facility


def sending_facility(request: Request, principal: Principal) -> str:
    """The member a push (FHIR create, STOW-RS) speaks for: a connector token's own facility (a header
    may only repeat it), or for an admin the known member the X-Hub-Facility header names."""
    if principal.role == "connector":
        claimed = request.headers.get("x-hub-facility")
        if claimed:
            check_facility(principal, claimed)
        assert principal.facility_id is not None
        return principal.facility_id
    facility = request.headers.get("x-hub-facility")
    if not facility:
        raise FhirError(400, "required", "an admin must name the member facility in the X-Hub-Facility header")
    return check_known_facility(request, facility)
