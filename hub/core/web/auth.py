"""Who is calling: bearer tokens (programs) and page sessions (people), each with a role and a facility.

Roles: `connector` (a member's connector: submits data for its own facility, reads only its own
records), `clinician` (reads the whole community record), `reader` (remote ECG/imaging reader),
`pharmacist` (central pharmacy), `reading_lead` (a reading centre's lead: reads and reports like a
reader, and also reassigns items and accepts unordered studies), `admin` (everything, operator routes).

Only hashes are stored: a token's SHA-256, a session id's SHA-256, a password's argon2 hash
(hub/app/api/accounts.py). Checks go through a bounded in-memory cache: a positive answer is reused
for `HUB_TOKEN_CACHE_S` (60 s), so a revocation, an expiry, a disabled account or a logout in
another process takes effect within that time; while the database is down, answers up to
`HUB_TOKEN_OUTAGE_GRACE_S` old are still honoured, and anyone else gets a 503 OperationOutcome.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from fastapi import Request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from hub.core.config import HubSettings
from hub.core.db import Database, RetriableDatabaseError
from hub.core.db.models import ApiToken, UserAccount, WebSession
from hub.core.events import utcnow
from hub.core.web.errors import FhirError

log = logging.getLogger(__name__)

# manager: the county's health managers (医共体管理人员), who read the monitoring indicators: counts and the
# records behind them, masked.
ROLES = ("connector", "clinician", "reader", "reading_lead", "pharmacist", "manager", "admin")
# Roles that read patient records of the whole community.
RECORD_READERS = ("clinician", "reader", "reading_lead", "pharmacist", "admin")
# Roles that see resident ID and phone numbers unmasked.
UNMASKED = ("clinician", "admin")
SESSION_COOKIE = "hub_session"
CSRF_COOKIE = "hub_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    facility_id: str | None
    via: str = "token"  # token | session
    session_hash: str | None = None  # set for page sessions (logout, CSRF)
    csrf: str | None = None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def issue_token(
    session: Session, name: str, role: str, facility_id: str | None, expires_at: datetime | None = None
) -> str:
    """A new random token (shown once; only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    ensure_token(session, token, name, role, facility_id, expires_at)
    return token


def ensure_token(
    session: Session, token: str, name: str, role: str, facility_id: str | None, expires_at: datetime | None = None
) -> None:
    """Stores a given token (idempotent)."""
    check_role(role)
    row = session.get(ApiToken, hash_token(token))
    if row is None:
        session.add(ApiToken(token_hash=hash_token(token), name=name, role=role, facility_id=facility_id,
                             expires_at=expires_at))
    else:
        row.name, row.role, row.facility_id, row.revoked_at, row.expires_at = name, role, facility_id, None, expires_at


def revoke_token(session: Session, token: str) -> bool:
    row = session.get(ApiToken, hash_token(token))
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    return True


@dataclass(frozen=True)
class _Entry:
    checked: float  # monotonic time of the database answer
    principal: Principal
    expires_at: datetime | None  # token expiry or session's absolute limit
    idle_s: float | None = None  # sessions: idle timeout
    last_seen: float = 0.0  # sessions: monotonic time of the last request
    stored_seen: datetime | None = None  # sessions: last_seen_at as stored


class Authenticator:
    """Resolves bearer tokens and session ids through a bounded cache of positive answers."""

    def __init__(self, settings: HubSettings, database: Database, max_entries: int = 10_000) -> None:
        self._admin = settings.admin_token.get_secret_value() if settings.admin_token else None
        self._database = database
        self._fresh_s = settings.token_cache_s
        self._grace_s = max(settings.token_outage_grace_s, settings.token_cache_s)
        self._idle = timedelta(minutes=settings.session_idle_minutes)
        self._max_entries = max_entries
        self._cache: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # The cache --------------------------------------------------------------------------------------

    def _cached(self, key: str) -> _Entry | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None:
                self._cache.move_to_end(key)
            return entry

    def _remember(self, key: str, entry: _Entry) -> None:
        with self._lock:
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > self._max_entries:
                self._cache.popitem(last=False)

    def forget(self, key: str) -> None:
        with self._lock:
            self._cache.pop(key, None)

    def _lookup(self, key: str, load: Callable[[], _Entry | str]) -> Principal | str:
        """A cached answer while fresh; else the database's; else, while the database is down, a
        cached answer within the grace period. A string is the reason a credential is refused."""
        now = time.monotonic()
        entry = self._cached(key)
        if entry is not None and _expired(entry):
            self.forget(key)
            return "expired"
        if entry is not None and now - entry.checked < self._fresh_s:
            return self._touch(key, entry, now)
        try:
            loaded = load()
        except SQLAlchemyError as exc:
            if entry is not None and now - entry.checked < self._grace_s:
                log.warning("database unreachable; honouring a credential checked %.0f s ago", now - entry.checked)
                return self._touch(key, entry, now)
            raise RetriableDatabaseError(f"credentials cannot be checked: {exc}") from exc
        if isinstance(loaded, str):
            self.forget(key)
            return loaded
        if entry is not None and entry.idle_s is not None:  # keep the activity seen since the last load
            loaded = replace(loaded, last_seen=max(loaded.last_seen, entry.last_seen))
        return self._touch(key, loaded, now)

    def _touch(self, key: str, entry: _Entry, now: float) -> Principal | str:
        if entry.idle_s is not None:
            if now - entry.last_seen > entry.idle_s:
                self.forget(key)
                return "idle"
            entry = replace(entry, last_seen=now)
        self._remember(key, entry)
        return entry.principal

    # Tokens -----------------------------------------------------------------------------------------

    def check_token(self, token: str) -> Principal | str:
        """The token's Principal, or why it is refused: unknown, revoked or expired."""
        if self._admin and hmac.compare_digest(token.encode(), self._admin.encode()):
            return Principal("admin (HUB_ADMIN_TOKEN)", "admin", None)
        digest = hash_token(token)

        def load() -> _Entry | str:
            with self._database.reading() as session:
                row = session.get(ApiToken, digest)
                if row is None:
                    return "unknown"
                if row.revoked_at is not None:
                    return "revoked"
                if row.expires_at is not None and row.expires_at <= utcnow():
                    return "expired"
                return _Entry(time.monotonic(), Principal(row.name, row.role, row.facility_id), row.expires_at)

        return self._lookup("t:" + digest, load)

    # Page sessions ----------------------------------------------------------------------------------

    def check_session(self, session_id: str) -> Principal | str:
        digest = hash_token(session_id)

        def load() -> _Entry | str:
            with self._database.transaction() as session:
                row = session.get(WebSession, digest)
                user = session.get(UserAccount, row.user_id) if row is not None else None
                if row is None or user is None:
                    return "unknown"
                now = utcnow()
                if user.disabled_at is not None or row.expires_at <= now or now - row.last_seen_at > self._idle:
                    session.delete(row)
                    return "expired"
                row.last_seen_at = now  # the idle clock, shared by every process, moves once a minute at most
                principal = Principal(user.username, user.role, user.facility_id, "session", digest, row.csrf_token)
                return _Entry(time.monotonic(), principal, row.expires_at, self._idle.total_seconds(),
                              time.monotonic(), now)

        return self._lookup("s:" + digest, load)


def _expired(entry: _Entry) -> bool:
    return entry.expires_at is not None and entry.expires_at <= utcnow()


_REFUSED = {
    "unknown": "the bearer token is not valid or was revoked",
    "revoked": "the bearer token was revoked; ask an administrator for a new one (hub token create)",
    "expired": "the bearer token has expired; ask an administrator for a new one (hub token create)",
}


def _database_down() -> FhirError:
    return FhirError(503, "transient", "the database is unavailable, so credentials cannot be checked; "
                     "try again in a minute", headers={"Retry-After": "30"})


def authenticate(request: Request) -> Principal:
    """The caller of a request: a bearer token (programs) or the page session cookie (people).
    Page sessions must send their CSRF token in X-CSRF-Token with every state-changing call."""
    auth: Authenticator = request.app.state.auth
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        if header:
            if scheme.lower() != "bearer" or not token.strip():
                raise FhirError(401, "login", "a bearer token is required (Authorization: Bearer <token>)",
                                headers={"WWW-Authenticate": "Bearer"})
            found = auth.check_token(token.strip())
            if isinstance(found, str):
                raise FhirError(401, "login", _REFUSED[found],
                                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        elif cookie:
            found = auth.check_session(cookie)
            if isinstance(found, str):
                raise FhirError(401, "login", "your session has ended; log in again at /login",
                                headers={"WWW-Authenticate": "Bearer"})
            sent = request.headers.get(CSRF_HEADER, "")
            if request.method not in SAFE_METHODS and not hmac.compare_digest(sent.encode(), (found.csrf or "").encode()):
                raise FhirError(403, "forbidden", "the request lacks this session's CSRF token (X-CSRF-Token); "
                                "reload the page and try again")
        else:
            raise FhirError(401, "login", "log in at /login, or send a bearer token (Authorization: Bearer <token>)",
                            headers={"WWW-Authenticate": "Bearer"})
    except RetriableDatabaseError:  # the credential could not be checked
        raise _database_down() from None
    request.state.principal = found  # the response hook audits and masks by it (hub/core/web/hooks.py)
    return found


def require(*roles: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the caller's Principal, if its credential is valid and its role allowed."""

    def dependency(request: Request) -> Principal:
        principal = authenticate(request)
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
