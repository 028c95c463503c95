"""Bearer tokens (expiry, revocation, rotation, `hub token`), page accounts and sessions (`hub user`,
login, CSRF, timeouts), and token checks that outlive a short database outage."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from hub.app.api import accounts
from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import ApiToken
from hub.core.events import utcnow
from hub.core.web.auth import hash_token, issue_token
from tests.api.conftest import Community, auth
from tests.api.outage import breakable_database


def _hub(*args: str, settings: HubSettings, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HUB_DATA_DIR": str(settings.data_dir), "HUB_DATABASE_URL": str(settings.database_url)}
    return subprocess.run([sys.executable, "-m", "hub.app.cli", *args], capture_output=True, text=True, timeout=60,
                          env=env, input=stdin)


def _outcome(response) -> str:  # type: ignore[no-untyped-def]
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


# Bearer tokens -------------------------------------------------------------------------------------


def test_token_cli_creates_lists_rotates_and_revokes(db: Database, settings: HubSettings) -> None:
    created = _hub("token", "create", "--role", "reader", "--facility", "cty01", "--name", "ecg-reader",
                   "--expires-in", "90d", settings=settings)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1].split(": ")[-1]
    client = TestClient(create_app(settings, db))
    assert client.get("/api/session", headers=auth(token)).json()["role"] == "reader"

    listed = _hub("token", "list", settings=settings)
    assert listed.returncode == 0 and "ecg-reader" in listed.stdout and "active" in listed.stdout
    assert token not in listed.stdout and hash_token(token) not in listed.stdout  # no secret, not even its hash
    token_id = hash_token(token)[:12]
    assert token_id in listed.stdout

    rotated = _hub("token", "rotate", "ecg-reader", settings=settings)
    assert rotated.returncode == 0, rotated.stderr
    new = rotated.stdout.strip().splitlines()[-1].split(": ")[-1]
    assert f"revoked {token_id}" in rotated.stdout and new != token
    fresh = TestClient(create_app(settings, db))  # a new process: nothing cached
    assert fresh.get("/api/session", headers=auth(new)).status_code == 200
    assert "revoked" in _outcome(fresh.get("/fhir/Patient", headers=auth(token)))

    assert _hub("token", "revoke", hash_token(new)[:12], settings=settings).returncode == 0
    gone = TestClient(create_app(settings, db)).get("/fhir/Patient", headers=auth(new))
    assert gone.status_code == 401 and "revoked" in _outcome(gone)
    again = _hub("token", "revoke", "ecg-reader", settings=settings)
    assert again.returncode == 2 and again.stderr.strip().startswith("hub: error: no active token")
    bad = _hub("token", "create", "--role", "connector", "--name", "x", settings=settings)
    assert bad.returncode == 2 and "give --facility" in bad.stderr


def test_an_expired_token_is_401_with_an_operation_outcome(db: Database, settings: HubSettings) -> None:
    with db.transaction() as session:
        token = issue_token(session, "short-lived", "reader", "cty01", utcnow() + timedelta(seconds=1))
        old = issue_token(session, "long-gone", "reader", "cty01")
        session.get(ApiToken, hash_token(old)).expires_at = utcnow() - timedelta(days=1)  # type: ignore[union-attr]
    client = TestClient(create_app(settings, db))
    assert client.get("/api/session", headers=auth(token)).status_code == 200
    time.sleep(1.1)
    expired = client.get("/fhir/Patient", headers=auth(token))  # cached, but the cache keeps the expiry
    assert expired.status_code == 401 and "expired" in _outcome(expired)
    gone = client.get("/fhir/Patient", headers=auth(old))
    assert gone.status_code == 401 and "expired" in _outcome(gone)


def test_revocation_takes_effect_within_the_cache_time(db: Database, settings: HubSettings) -> None:
    with db.transaction() as session:
        token = issue_token(session, "to-revoke", "reader", "cty01")
    client = TestClient(create_app(settings.model_copy(update={"token_cache_s": 0.5}), db))
    assert client.get("/api/session", headers=auth(token)).status_code == 200
    assert _hub("token", "revoke", "to-revoke", settings=settings).returncode == 0
    time.sleep(0.6)
    assert client.get("/api/session", headers=auth(token)).status_code == 401


# Database outage ----------------------------------------------------------------------------------


def test_token_checks_survive_a_database_outage(database_url: str, settings: HubSettings, tmp_path: Path) -> None:
    with breakable_database(database_url, tmp_path) as (database, take_down):
        with database.transaction() as session:
            seen = issue_token(session, "seen", "reader", "cty01")
            unseen = issue_token(session, "unseen", "reader", "cty01")
        app_settings = settings.model_copy(update={"token_cache_s": 0.2, "token_outage_grace_s": 300.0})
        client = TestClient(create_app(app_settings, database))
        assert client.get("/api/session", headers=auth(seen)).status_code == 200
        take_down()  # type: ignore[operator]
        time.sleep(0.3)  # past the fresh time: the database would be asked, and does not answer
        assert client.get("/api/session", headers=auth(seen)).json()["user"] == "seen"
        refused = client.get("/api/session", headers=auth(unseen))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "30"
        assert "database is unavailable" in _outcome(refused)


# Accounts and page sessions -------------------------------------------------------------------------


def test_user_cli_and_login_logout_with_csrf(community: Community, settings: HubSettings) -> None:
    made = _hub("user", "create", "dr-zhou", "--role", "clinician", "--facility", "cty01", "--password-stdin",
                settings=settings, stdin="a long enough secret\n")
    assert made.returncode == 0, made.stderr
    short = _hub("user", "create", "dr-x", "--role", "clinician", "--password-stdin", settings=settings, stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    assert "dr-zhou" in _hub("user", "list", settings=settings).stdout

    client = TestClient(community.client.app, base_url="https://testserver")
    wrong = client.post("/api/login", json={"username": "dr-zhou", "password": "not it at all"})
    assert wrong.status_code == 401 and "wrong" in _outcome(wrong)
    login = client.post("/api/login", json={"username": "dr-zhou", "password": "a long enough secret"})
    assert login.status_code == 200 and login.json()["role"] == "clinician"
    cookies = [v for k, v in login.headers.multi_items() if k == "set-cookie"]
    session_cookie = next(c for c in cookies if c.startswith("hub_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie and "Secure" in session_cookie
    assert "HttpOnly" not in next(c for c in cookies if c.startswith("hub_csrf="))

    # Reads with the session; a state-changing call needs the CSRF token in a header.
    assert client.get("/fhir/Patient/th01-pat-1").json()["identifier"]
    link = {"patient": "th02-pat-9", "community": community.golden}
    refused = client.post("/api/mpi/link", json=link)
    assert refused.status_code == 403 and "CSRF" in _outcome(refused)
    csrf = client.cookies["hub_csrf"]
    assert client.post("/api/mpi/link", json=link, headers={"X-CSRF-Token": csrf}).status_code == 200

    assert client.post("/api/logout").status_code == 403  # logging out is state-changing too
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    assert client.get("/fhir/Patient/th01-pat-1").status_code == 401

    assert _hub("user", "disable", "dr-zhou", settings=settings).returncode == 0
    assert client.post("/api/login", json={"username": "dr-zhou", "password": "a long enough secret"}).status_code == 401
    assert _hub("user", "passwd", "dr-zhou", "--password-stdin", settings=settings,
                stdin="another long secret\n").returncode == 0
    assert client.post("/api/login", json={"username": "dr-zhou", "password": "another long secret"}).status_code == 200


def test_sessions_end_when_idle_and_at_their_absolute_limit(db: Database, settings: HubSettings) -> None:
    with db.transaction() as session:
        accounts.create_user(session, "idle-user", "correct horse battery", "reader", "cty01")
    credentials = {"username": "idle-user", "password": "correct horse battery"}
    idle = TestClient(create_app(settings.model_copy(update={"session_idle_minutes": 0.02, "token_cache_s": 0.1}), db))
    assert idle.post("/api/login", json=credentials).status_code == 200
    assert idle.get("/api/session").status_code == 200
    time.sleep(0.3)
    assert idle.get("/api/session").status_code == 200  # active within the idle time: still open
    time.sleep(1.6)  # idle longer than 1.2 s
    ended = idle.get("/api/session")
    assert ended.status_code == 401 and "log in again" in _outcome(ended)

    absolute = TestClient(create_app(settings.model_copy(update={"session_max_hours": 0.0005, "token_cache_s": 0.1}), db))
    assert absolute.post("/api/login", json=credentials).status_code == 200
    for _ in range(4):  # busy all the time, yet the session ends 1.8 s after login
        assert absolute.get("/api/session").status_code == 200
        time.sleep(0.1)
    time.sleep(1.8)
    assert absolute.get("/api/session").status_code == 401


def test_guessing_passwords_is_stopped(db: Database, settings: HubSettings) -> None:
    with db.transaction() as session:
        accounts.create_user(session, "guessed", "correct horse battery", "reader", "cty01")
    client = TestClient(create_app(settings.model_copy(update={"admin_token": SecretStr("x" * 20)}), db))
    for _ in range(5):
        assert client.post("/api/login", json={"username": "guessed", "password": "wrong guess!"}).status_code == 401
    blocked = client.post("/api/login", json={"username": "guessed", "password": "correct horse battery"})
    assert blocked.status_code == 429 and "too many failed logins" in _outcome(blocked)
