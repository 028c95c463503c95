"""Accounts of people who use the pages: argon2 password hashes and server-side sessions.

An account carries a role and a facility like a bearer token. A session is a random id in an
HttpOnly cookie (only its SHA-256 is stored) with an idle and an absolute timeout, and a CSRF
token the pages send back in X-CSRF-Token with every state-changing call.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.core.db.models import UserAccount, WebSession
from hub.core.errors import PermanentError
from hub.core.events import utcnow
from hub.core.web.auth import check_role, hash_token

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(PermanentError, ValueError):
    """A request about accounts that cannot be done; the message says why."""


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def create_user(session: Session, username: str, password: str, role: str, facility_id: str | None) -> UserAccount:
    if not USERNAME.match(username):
        raise AccountError(f"user name {username!r}: use letters, digits and . _ @ - (at most 64)")
    check_role(role)
    if session.scalar(select(UserAccount).where(UserAccount.username == username)) is not None:
        raise AccountError(f"user {username} already exists; use `hub user passwd` to change the password")
    user = UserAccount(username=username, password_hash=hash_password(password), role=role, facility_id=facility_id)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> UserAccount:
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    if user is None:
        raise AccountError(f"no user {username}; `hub user list` shows the accounts")
    return user


def set_password(session: Session, username: str, password: str) -> None:
    """A new password ends every session of the account."""
    user = find_user(session, username)
    user.password_hash, user.password_changed_at, user.disabled_at = hash_password(password), utcnow(), None
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def disable_user(session: Session, username: str) -> None:
    user = find_user(session, username)
    user.disabled_at = utcnow()
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))


def verify(session: Session, username: str, password: str) -> UserAccount | None:
    """The account if the password is right and the account active; rehashes old parameters."""
    user = session.scalar(select(UserAccount).where(UserAccount.username == username))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


@dataclass(frozen=True)
class NewSession:
    session_id: str  # the cookie's value, never stored
    csrf: str
    expires_at: datetime


def start_session(session: Session, user: UserAccount, max_age: timedelta) -> NewSession:
    session_id, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), utcnow()
    session.add(WebSession(id_hash=hash_token(session_id), user_id=user.id, csrf_token=csrf, created_at=now,
                           last_seen_at=now, expires_at=now + max_age))
    # Sessions that ended long ago are swept at each login; nothing else needs them.
    session.execute(delete(WebSession).where(WebSession.expires_at < now - timedelta(days=1)))
    return NewSession(session_id, csrf, now + max_age)


def end_session(session: Session, session_hash: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id_hash == session_hash))
