"""Bulk Data export jobs (FHIR Bulk Data Access v2): the shared record as NDJSON files, one per type.

A kick-off (routes/bulk_export.py) stores an `ExportJob`; the record store's worker (`run_exporter`)
claims it, writes `<data dir>/bulk-export/<job>/<Type>.ndjson` and the manifest's outputs. Jobs live
in the database, so a restart finds them again: a job whose runner stopped beating for `STALE_S` is
claimed afresh and written again from the start. What a job writes is scoped and masked for the role
that asked, as reads are: connector tokens get their own facility's source records only; roles that
may not see resident ID and phone numbers get them masked.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Select, and_, or_, select, update

from consumers.record_store.models import ExportJob, PatientLink, StoredResource
from hub.core.db import Database
from hub.core.errors import PermanentError, RetriableError
from hub.core.events import utcnow
from hub.core.parts import PartContext
from hub.core.web.auth import UNMASKED
from hub.core.web.privacy import mask_resource

log = logging.getLogger(__name__)

STALE_S = 60.0  # a claimed job whose runner has not beaten for this long is claimed again
POLL_S = 2.0  # how often the worker looks for jobs another process stored
CHUNK = 500  # resources per query and per heartbeat
WAKE = threading.Event()  # set by a kick-off in this process, so the worker starts at once
RUNNING = ("accepted", "in-progress")
KEEP_FOR = timedelta(hours=24)  # a finished job's files are removed this long after it finished


def export_dir(data_dir: Path, job_id: str) -> Path:
    return data_dir / "bulk-export" / job_id


class Cancelled(PermanentError):
    """The job was cancelled (DELETE on its status URL) while it ran."""


class Interrupted(RetriableError):
    """The hub is stopping: the job goes back to the queue and is written again after the restart."""


def _scoped(job: ExportJob, resource_type: str) -> Select[str, str]:
    stmt = select(StoredResource.id, StoredResource.content).where(
        StoredResource.resource_type == resource_type, StoredResource.last_updated <= job.transaction_time)
    if job.since is not None:
        stmt = stmt.where(StoredResource.last_updated > job.since)
    if job.role == "connector":
        stmt = stmt.where(StoredResource.facility_id == job.facility_id, StoredResource.golden.is_(False))
    if job.level == "patient" and resource_type != "Patient":
        stmt = stmt.where(StoredResource.patient_key.is_not(None))
    elif job.level == "group":
        # Group <facility>: the people with a record at that member, each with their whole community record.
        communities = select(PatientLink.community_patient_id).where(PatientLink.facility_id == job.group_id)
        keys = select(PatientLink.patient_key).where(PatientLink.community_patient_id.in_(communities))
        members = StoredResource.patient_key.in_(keys)
        if resource_type == "Patient":
            golden = and_(StoredResource.golden.is_(True), StoredResource.id.in_(communities))
            stmt = stmt.where(or_(and_(StoredResource.golden.is_(False), members), golden))
        else:
            stmt = stmt.where(members)
    return stmt


def resources(database: Database, job: ExportJob, resource_type: str) -> Iterator[list[tuple[str, str]]]:
    """(id, content) of what the job exports of one type, in chunks by id (keyset, not offset), each
    read in its own short transaction so a long export never holds the database."""
    after = ""
    while True:
        with database.reading() as session:
            rows = session.execute(
                _scoped(job, resource_type).where(StoredResource.id > after).order_by(StoredResource.id).limit(CHUNK)
            ).all()
        if not rows:
            return
        yield [(rid, content) for rid, content in rows]
        after = rows[-1][0]


def claim_next(database: Database) -> str | None:
    """The id of a job this runner now owns (an atomic update decides between runners), or None."""
    now = utcnow()
    stale = now - timedelta(seconds=STALE_S)
    with database.transaction() as session:
        waiting = session.scalars(
            select(ExportJob.id).where(or_(ExportJob.status == "accepted",
                                           and_(ExportJob.status == "in-progress", ExportJob.heartbeat_at < stale)))
            .order_by(ExportJob.created_at).limit(5)
        ).all()
        for job_id in waiting:
            claimed = session.execute(
                update(ExportJob).where(ExportJob.id == job_id, or_(
                    ExportJob.status == "accepted", and_(ExportJob.status == "in-progress", ExportJob.heartbeat_at < stale)))
                .values(status="in-progress", heartbeat_at=now, progress="started"),
                execution_options={"synchronize_session": False},
            )
            if claimed.rowcount == 1:  # type: ignore[attr-defined]
                return str(job_id)
    return None


def _beat(database: Database, job_id: str, progress: str, stop: threading.Event | None) -> None:
    """Records progress; raises Cancelled when the job was cancelled meanwhile, Interrupted on a stop."""
    if stop is not None and stop.is_set():
        raise Interrupted(job_id)
    with database.transaction() as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.status != "in-progress":
            raise Cancelled(job_id)
        job.heartbeat_at, job.progress = utcnow(), progress[:200]


def run_job(database: Database, data_dir: Path, job_id: str, stop: threading.Event | None = None) -> None:
    """Writes every file of a claimed job, then marks it completed (or failed, with the reason)."""
    with database.reading() as session:
        job = session.get(ExportJob, job_id)
        if job is None:
            return
        session.expunge(job)
    target = export_dir(data_dir, job_id)
    shutil.rmtree(target, ignore_errors=True)  # a job claimed again starts from a clean directory
    target.mkdir(parents=True, exist_ok=True)
    masked = job.role not in UNMASKED
    output: list[dict[str, Any]] = []
    types = [t for t in job.types.split(",") if t]
    try:
        for done, resource_type in enumerate(types):
            count = 0
            part = target / f"{resource_type}.ndjson.part"
            with part.open("w", encoding="utf-8") as out:
                for chunk in resources(database, job, resource_type):
                    for _rid, content in chunk:
                        if masked:
                            content = json.dumps(mask_resource(json.loads(content)), ensure_ascii=False,
                                                 separators=(",", ":"))
                        out.write(content)
                        out.write("\n")
                    count += len(chunk)
                    _beat(database, job_id, f"{done}/{len(types)} types; {resource_type}: {count}", stop)
            if count:
                part.replace(target / f"{resource_type}.ndjson")
                output.append({"type": resource_type, "file": f"{resource_type}.ndjson", "count": count})
            else:
                part.unlink()
            _beat(database, job_id, f"{done + 1}/{len(types)} types", stop)
    except Interrupted:
        with database.transaction() as session:
            session.execute(update(ExportJob).where(ExportJob.id == job_id, ExportJob.status == "in-progress")
                            .values(status="accepted", progress="waiting: the hub stopped while it ran"))
        return
    except Cancelled:
        shutil.rmtree(target, ignore_errors=True)
        log.info("bulk export %s was cancelled", job_id)
        return
    except Exception as exc:  # noqa: BLE001 - the job says why it failed; the worker goes on
        log.exception("bulk export %s failed", job_id)
        _finish(database, job_id, "failed", error=f"{type(exc).__name__}: {exc}")
        return
    _finish(database, job_id, "completed", output=output)


def _finish(database: Database, job_id: str, status: str, output: list[dict[str, Any]] | None = None,
            error: str | None = None) -> None:
    with database.transaction() as session:
        job = session.get(ExportJob, job_id)
        if job is None or job.status != "in-progress":
            return  # cancelled at the last moment: the route removed its files
        job.status, job.finished_at, job.heartbeat_at = status, utcnow(), utcnow()
        job.output = json.dumps(output) if output is not None else None
        job.error = error
        job.progress = status


def remove_expired(database: Database, data_dir: Path, keep_for: timedelta = KEEP_FOR) -> int:
    """Removes jobs (and their files) that finished or were cancelled more than `keep_for` ago."""
    with database.transaction() as session:
        expired = session.scalars(select(ExportJob).where(
            ExportJob.status.not_in(RUNNING), ExportJob.finished_at < utcnow() - keep_for)).all()
        for job in expired:
            shutil.rmtree(export_dir(data_dir, job.id), ignore_errors=True)
            session.delete(job)
    return len(expired)


class Exporter:
    """Runs export jobs one at a time, woken by a kick-off in this process or every `poll_s`."""

    def __init__(self, database: Database, data_dir: Path, poll_s: float = POLL_S) -> None:
        self.database = database
        self.data_dir = data_dir
        self.poll_s = poll_s

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                remove_expired(self.database, self.data_dir)
                job_id = claim_next(self.database)
                if job_id is not None:
                    run_job(self.database, self.data_dir, job_id, stop)
                    continue
            except Exception:  # the database may be down for a while; try again next round
                log.exception("bulk export worker: will try again in %.0f s", self.poll_s)
            # Idle in short slices: a stop is noticed within 0.2 s, a kick-off here at once.
            deadline = time.monotonic() + self.poll_s
            while not (stop.is_set() or WAKE.is_set()) and time.monotonic() < deadline:
                WAKE.wait(0.2)
            WAKE.clear()


def run_exporter(context: PartContext, stop: threading.Event) -> None:
    """The record store's worker for Bulk Data export jobs."""
    Exporter(context.database, context.settings.data_dir).run(stop)
