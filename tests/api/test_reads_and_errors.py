"""Reads do not wait behind writes, and every error under /fhir and /api is an OperationOutcome."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from hub.app.api.app import create_app
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import AuditLog
from tests.api.conftest import Community, auth
from tests.waiting import wait_for


def _audit_rows(db: Database, action: str) -> int:
    with db.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == action)) or 0)


def test_a_read_answers_while_a_writer_holds_its_transaction(community: Community) -> None:
    headers = auth(community.tokens["clinician"])
    answers: list[Any] = []
    writing, finished = threading.Event(), threading.Event()
    release = threading.Event()

    def writer() -> None:
        # A consumer's batch: a write transaction held open (on SQLite it holds the write lock).
        with community.db.transaction() as session:
            session.execute(text("UPDATE api_token SET name = name"))
            writing.set()
            release.wait(60)

    def reader() -> None:
        answers.append(community.client.get("/fhir/Patient/th01-pat-1", headers=headers))
        finished.set()

    holder = threading.Thread(target=writer)
    holder.start()
    try:
        assert writing.wait(10)
        threading.Thread(target=reader, daemon=True).start()
        # Generous: before the fix the read queued for the write lock until the writer let go.
        assert finished.wait(15), "the read waited for the writer's transaction"
        assert not release.is_set() and holder.is_alive()
    finally:
        release.set()
        holder.join(30)
    assert answers[0].status_code == 200
    assert answers[0].json()["id"] == "th01-pat-1"
    # The read's audit row is not lost: it lands once the writer lets go.
    wait_for(lambda: _audit_rows(community.db, "read") == 1, timeout_s=20)


def test_a_read_is_audited_before_it_is_answered_when_nobody_writes(community: Community) -> None:
    response = community.client.get("/fhir/Encounter?patient=th01-pat-1",
                                    headers=auth(community.tokens["clinician"]))
    assert response.status_code == 200
    assert _audit_rows(community.db, "search") == 1


def test_database_down_is_a_retriable_503_operation_outcome(settings: HubSettings) -> None:
    down = Database("postgresql+psycopg://hub@127.0.0.1:1/nowhere?connect_timeout=2")
    app = create_app(settings, down)
    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/fhir/Patient/x", "/fhir/Observation?code=1234-5", "/api/dead-letters"):
            response = client.get(path, headers=auth("some-token"))
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"].startswith("application/fhir+json")
            assert response.headers["retry-after"]
            issue = response.json()["issue"][0]
            assert issue["code"] == "transient" and "database is unavailable" in issue["diagnostics"]
    down.dispose()


def test_an_unhandled_error_is_a_500_operation_outcome(community: Community) -> None:
    app = community.client.app

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/test-broken", broken, methods=["GET"])  # type: ignore[attr-defined]
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/test-broken")
    assert response.status_code == 500
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "exception" and "incident" in body["issue"][0]["diagnostics"]
    assert "a bug" not in response.text  # no internals leak to the caller


def test_unknown_routes_wrong_methods_and_bad_parameters_are_operation_outcomes(community: Community) -> None:
    headers = auth(community.tokens["admin"])
    cases = [
        ("GET", "/fhir/Patient/x/y/z", 404, "not-found"),
        ("GET", "/api/no-such-route", 404, "not-found"),
        ("DELETE", "/fhir/Patient/th01-pat-1", 405, "not-supported"),
        ("PUT", "/api/dead-letters", 405, "not-supported"),
        ("GET", "/api/mpi/reviews?limit=0", 400, "invalid"),
    ]
    for method, path, status, code in cases:
        response = community.client.request(method, path, headers=headers)
        assert response.status_code == status, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/fhir+json"), path
        body = response.json()
        assert body["resourceType"] == "OperationOutcome" and body["issue"][0]["code"] == code, body
