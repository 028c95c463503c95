"""Bearer tokens for programs, administered from the command line (`hub token create|list|revoke|rotate`).

A token is shown once, when it is created; the database keeps its SHA-256. Its public id is the
first 12 hex characters of that hash: enough to name it, useless to call with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hub.core.db.models import ApiToken
from hub.core.errors import PermanentError
from hub.core.events import utcnow
from hub.core.web.auth import issue_token

_DURATION = re.compile(r"^(\d+)\s*([hd])$")


class TokenError(PermanentError, ValueError):
    """A token request that cannot be done; the message says why."""


def parse_duration(raw: str) -> timedelta:
    """`90d` or `12h`."""
    found = _DURATION.match(raw.strip().lower())
    if not found or int(found[1]) == 0:
        raise TokenError(f"expiry {raw!r}: give hours or days, e.g. 12h or 90d")
    amount = int(found[1])
    return timedelta(hours=amount) if found[2] == "h" else timedelta(days=amount)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: str
    facility_id: str | None
    created_at: datetime
    expires_at: datetime | None
    state: str  # active | revoked | expired

    def line(self) -> str:
        expires = self.expires_at.strftime("%Y-%m-%d %H:%M") if self.expires_at else "never"
        return (f"{self.id}  {self.name:<28} {self.role:<10} {self.facility_id or '-':<8} "
                f"created {self.created_at:%Y-%m-%d}  expires {expires:<16} {self.state}")


def _info(row: ApiToken) -> TokenInfo:
    now = utcnow()
    state = ("revoked" if row.revoked_at is not None
             else "expired" if row.expires_at is not None and row.expires_at <= now else "active")
    return TokenInfo(row.public_id, row.name, row.role, row.facility_id, row.created_at, row.expires_at, state)


def create(session: Session, name: str, role: str, facility_id: str | None,
           expires_in: timedelta | None) -> tuple[str, TokenInfo]:
    """The new token (print it once) and what `list` will show of it."""
    if role == "connector" and not facility_id:
        raise TokenError("a connector token speaks for one member: give --facility")
    token = issue_token(session, name, role, facility_id, utcnow() + expires_in if expires_in else None)
    session.flush()
    row = _matching(session, name, active_only=True)[-1]
    return token, _info(row)


def listing(session: Session) -> list[TokenInfo]:
    return [_info(row) for row in session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.name))]


def _matching(session: Session, id_or_name: str, active_only: bool) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.created_at)
    if re.fullmatch(r"[0-9a-f]{8,64}", id_or_name):
        query = query.where(or_(ApiToken.token_hash.startswith(id_or_name), ApiToken.name == id_or_name))
    else:
        query = query.where(ApiToken.name == id_or_name)
    if active_only:
        query = query.where(ApiToken.revoked_at.is_(None))
    return list(session.scalars(query))


def revoke(session: Session, id_or_name: str) -> list[TokenInfo]:
    """Revokes the token with this id, or every active token of this name."""
    rows = _matching(session, id_or_name, active_only=True)
    if not rows:
        raise TokenError(f"no active token with id or name {id_or_name!r}; `hub token list` shows them")
    for row in rows:
        row.revoked_at = utcnow()
    return [_info(row) for row in rows]


def rotate(session: Session, id_or_name: str, expires_in: timedelta | None) -> tuple[str, TokenInfo, list[TokenInfo]]:
    """A new token with the same name, role and facility; the old ones are revoked."""
    rows = _matching(session, id_or_name, active_only=True)
    if not rows:
        raise TokenError(f"no active token with id or name {id_or_name!r}; `hub token list` shows them")
    if len({(r.name, r.role, r.facility_id) for r in rows}) > 1:
        raise TokenError(f"{id_or_name!r} names tokens of different roles or facilities; rotate one by its id")
    old = rows[0]
    revoked = revoke(session, id_or_name)
    token, info = create(session, old.name, old.role, old.facility_id, expires_in)
    return token, info, revoked
