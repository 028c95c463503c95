"""Bearer tokens with a role and a facility. Only a token's SHA-256 is stored.

Roles: `connector` (a member's connector: submits data for its own facility, reads only its own
records), `clinician` (reads the whole community record, every read audited), `reader` (remote
ECG/imaging reader), `pharmacist` (central pharmacy), `admin` (everything, operator routes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from hub.api.errors import FhirError
from hub.config import HubSettings
from hub.db import Database
from hub.db.models import ApiToken
from hub.events import utcnow

ROLES = ("connector", "clinician", "reader", "pharmacist", "admin")
# Roles that read patient records of the whole community.
RECORD_READERS = ("clinician", "reader", "pharmacist", "admin")
# Roles that see resident ID and phone numbers unmasked.
UNMASKED = ("clinician", "admin")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    facility_id: str | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def issue_token(session: Session, name: str, role: str, facility_id: str | None) -> str:
    token = secrets.token_urlsafe(32)
    ensure_token(session, token, name, role, facility_id)
    return token


def ensure_token(session: Session, token: str, name: str, role: str, facility_id: str | None) -> None:
    """Stores a given token (idempotent); the demo uses tokens derived from its seed."""
    _check_role(role)
    row = session.get(ApiToken, hash_token(token))
    if row is None:
        session.add(ApiToken(token_hash=hash_token(token), name=name, role=role, facility_id=facility_id))
    else:
        row.name, row.role, row.facility_id, row.revoked_at = name, role, facility_id, None


def revoke_token(session: Session, token: str) -> bool:
    row = session.get(ApiToken, hash_token(token))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


class Authenticator:
    """Resolves bearer tokens, with a short cache so each request does not cost a query."""

    def __init__(self, settings: HubSettings, database: Database, cache_s: float = 10.0) -> None:
        self._admin = settings.admin_token.get_secret_value() if settings.admin_token else None
        self._database = database
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._cache_s = cache_s
        self._lock = threading.Lock()

    def principal(self, token: str) -> Principal | None:
        if self._admin and hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin (HUB_ADMIN_TOKEN)", "admin", None)
        digest = hash_token(token)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
            if cached and now - cached[0] < self._cache_s:
                return cached[1]
        with self._database.reading() as session:
            row = session.get(ApiToken, digest)
            found = Principal(row.name, row.role, row.facility_id) if row and row.revoked_at is None else None
        with self._lock:
            self._cache[digest] = (now, found)
        return found


def require(*roles: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's Principal, if its token is valid and its role allowed."""

    def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise FhirError(401, "login", "a bearer token is required (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
        principal = request.app.state.auth.principal(token.strip())
        if principal is None:
            raise FhirError(401, "login", "the bearer token is not valid or was revoked",
                            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if roles and principal.role not in roles and principal.role != "admin":
            raise FhirError(403, "forbidden", f"role {principal.role} may not do this; needs {' or '.join(roles)}")
        return principal

    return dependency


def check_facility(principal: Principal, facility_id: str | None) -> None:
    """Connector tokens act only for their own facility."""
    if principal.role == "connector" and facility_id != principal.facility_id:
        raise FhirError(
            403, "forbidden", f"a token of facility {principal.facility_id} may not act for facility {facility_id}"
        )
