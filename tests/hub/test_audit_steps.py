"""Steps the hub takes outside a request (a critical-value notice raised, escalated) are audit rows too:
written in the step's own transaction, linked to the patient's community record, exported as AuditEvents."""

from __future__ import annotations

from sqlalchemy import select

from hub.app import parts as registered
from hub.app.api.audit_events import audit_event
from hub.core.db import Database
from hub.core.db.models import AuditLog, AuditPatient
from hub.core.web.audit import Step, record_step


def test_a_step_is_an_audit_row_that_commits_with_it(db: Database) -> None:
    step = Step("critical_values", "system", "th01", "critical_escalated", "Communication", "cv-1", "th01-pat-1",
                "level 1: sent again to th01", ("th01/1",))
    try:
        with db.transaction() as session:
            record_step(session, step, registered.services().shared_record)
            raise RuntimeError("the step failed after its row was added")
    except RuntimeError:
        pass
    with db.sessions() as session:
        assert session.scalars(select(AuditLog)).all() == []  # rolled back with the step
    with db.transaction() as session:
        record_step(session, step, registered.services().shared_record)
    with db.sessions() as session:
        row = session.scalars(select(AuditLog)).one()
        patients = list(session.scalars(select(AuditPatient.patient_id)))
    assert (row.actor, row.role, row.action, row.method, row.path, row.query) == (
        "critical_values", "system", "critical_escalated", None, None, "level 1: sent again to th01")
    assert patients == ["th01-pat-1"]
    exported = audit_event(row, patients)
    assert exported["subtype"] == [{"system": "urn:hub:audit-action", "code": "critical_escalated"}]
    assert {"what": {"reference": "Communication/cv-1"}, "description": "level 1: sent again to th01"}.items() <= \
        exported["entity"][-1].items()
