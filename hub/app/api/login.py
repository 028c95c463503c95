"""Logging in to the pages: `POST /api/login` starts a session, `POST /api/logout` ends it,
`GET /api/session` says who is logged in. The login page itself is /login (hub/app/pages)."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from datetime import timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hub.app.api import accounts
from hub.core.web.auth import CSRF_COOKIE, SESSION_COOKIE, Principal, require
from hub.core.web.errors import FhirError
from hub.core.web.hooks import no_patient_data

router = APIRouter(prefix="/api", tags=["login"])
anyone = require()
MAX_FAILURES = 5  # per user name, within FAILURE_WINDOW_S
FAILURE_WINDOW_S = 900.0


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1000)


class _Failures:
    """Recent failed logins per user name: guessing passwords stops after a few tries."""

    def __init__(self) -> None:
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, username: str) -> bool:
        with self._lock:
            seen = self._seen[username]
            while seen and time.monotonic() - seen[0] > FAILURE_WINDOW_S:
                seen.popleft()
            return len(seen) >= MAX_FAILURES

    def add(self, username: str) -> None:
        with self._lock:
            self._seen[username].append(time.monotonic())

    def clear(self, username: str) -> None:
        with self._lock:
            self._seen.pop(username, None)


_failures = _Failures()


def _who(principal: Principal) -> dict[str, str | None]:
    return {"user": principal.name, "role": principal.role, "facility": principal.facility_id, "via": principal.via}


@router.post("/login", summary="Log in to the pages: starts a session (cookie)")
@no_patient_data
def login(credentials: Credentials, request: Request) -> JSONResponse:
    settings = request.app.state.settings
    if _failures.blocked(credentials.username):
        raise FhirError(429, "throttled", f"too many failed logins for {credentials.username}; "
                        f"wait {int(FAILURE_WINDOW_S // 60)} minutes or ask an administrator")
    with request.app.state.database.transaction() as session:
        user = accounts.verify(session, credentials.username, credentials.password)
        if user is None:
            _failures.add(credentials.username)
            raise FhirError(401, "login", "the user name or the password is wrong (用户名或密码错误)")
        started = accounts.start_session(session, user, timedelta(hours=settings.session_max_hours))
        body = {"user": user.username, "role": user.role, "facility": user.facility_id, "via": "session"}
    _failures.clear(credentials.username)
    response = JSONResponse(body)
    secure = request.url.scheme == "https"
    max_age = math.ceil(settings.session_max_hours * 3600)
    response.set_cookie(SESSION_COOKIE, started.session_id, max_age=max_age, path="/", httponly=True,
                        samesite="strict", secure=secure)
    # Readable by the pages' script, which sends it back in X-CSRF-Token; another site can neither
    # read it nor make the browser send the session cookie (SameSite=Strict).
    response.set_cookie(CSRF_COOKIE, started.csrf, max_age=max_age, path="/", httponly=False,
                        samesite="strict", secure=secure)
    return response


@router.post("/logout", summary="Log out: ends the page session")
@no_patient_data
def logout(request: Request, principal: Principal = Depends(anyone)) -> JSONResponse:
    if principal.session_hash is not None:
        with request.app.state.database.transaction() as session:
            accounts.end_session(session, principal.session_hash)
        request.app.state.auth.forget("s:" + principal.session_hash)
    response = JSONResponse({"logged_out": principal.name})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    response.delete_cookie(CSRF_COOKIE, path="/", samesite="strict")
    return response


@router.get("/session", summary="Who is logged in (session or bearer token)")
@no_patient_data
def who(principal: Principal = Depends(anyone)) -> dict[str, str | None]:
    return _who(principal)
