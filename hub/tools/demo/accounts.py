"""Page accounts of the demo county: one per role, with a new random password at every start."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select

from hub.app.api import accounts
from hub.core.db import Database
from hub.core.db.models import UserAccount

ROLES = ("admin", "clinician", "reader", "reading_lead", "pharmacist", "manager")


def ensure_demo_accounts(database: Database, county: Any) -> dict[str, str]:
    """Creates (or resets the password of) `demo-<role>` accounts; returns user -> password for the banner."""
    county_hospital = next(f.id for f in county.facilities if f.kind == "county")
    shown: dict[str, str] = {}
    with database.transaction() as session:
        for role in ROLES:
            username, password = f"demo-{role}", secrets.token_urlsafe(12)
            facility = None if role == "admin" else county_hospital
            if session.scalar(select(UserAccount).where(UserAccount.username == username)) is None:
                accounts.create_user(session, username, password, role, facility)
            else:
                accounts.set_password(session, username, password)
            shown[username] = password
    return shown
