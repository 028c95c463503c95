"""What `hub status`, `/api/status` and the status page show: throughput, lag, backlogs, dead letters.

Works inside the running hub (with a Runtime) and from another process (`hub status`), where
connector backlogs are read from the outbox files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select

from hub.app import parts as registered
from hub.app.parts import all_consumers
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import DeadLetter, ProcessedEvent
from hub.core.events import utcnow
from hub.core.outbox import Outbox
from hub.core.parts import PartStatus
from hub.core.services import MemberState
from hub.core.topics import DEAD_LETTER, spec_for


@dataclass(frozen=True)
class ConnectorState:
    name: str
    kind: str
    facility_id: str
    backlog: int
    broker_up: bool | None
    last_event_at: float | None
    rejected: int


class Runtime(Protocol):
    def consumer_states(self) -> dict[str, bool]: ...

    def connector_states(self) -> list[ConnectorState]: ...

    def broker_reachable(self) -> bool: ...


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    assigned: bool | None
    applied_last_minute: int
    per_second: float
    lag: dict[str, int]  # "topic[partition]" -> messages behind
    total_lag: int | None


@dataclass(frozen=True)
class DeadLetterSummary:
    id: str
    origin: str
    stage: str
    reason: str
    created_at: str


@dataclass
class StatusReport:
    broker_reachable: bool
    database_reachable: bool
    consumers: list[ConsumerStatus] = field(default_factory=list)
    connectors: list[ConnectorState] = field(default_factory=list)
    dead_letters_total: int = 0
    dead_letters_by_origin: dict[str, int] = field(default_factory=dict)
    newest_dead_letters: list[DeadLetterSummary] = field(default_factory=list)
    parts: dict[str, PartStatus] = field(default_factory=dict)  # each part's own section, by part name
    members: list[MemberState] = field(default_factory=list)  # each member judged against its usual traffic


def collect_status(settings: HubSettings, database: Database, runtime: Runtime | None) -> StatusReport:
    broker_up = runtime.broker_reachable() if runtime else kafka_io.broker_reachable(settings, timeout_s=2)
    report = StatusReport(broker_reachable=broker_up, database_reachable=database.reachable())
    assigned = runtime.consumer_states() if runtime else {}
    since = utcnow() - timedelta(minutes=1)
    applied: dict[str, int] = {}
    if report.database_reachable:
        with database.reading() as session:
            applied = dict(
                session.execute(
                    select(ProcessedEvent.consumer, func.count())
                    .where(ProcessedEvent.processed_at >= since)
                    .group_by(ProcessedEvent.consumer)
                ).all()
            )
            report.dead_letters_total = int(session.scalar(select(func.count()).select_from(DeadLetter)) or 0)
            report.dead_letters_by_origin = {
                f"{origin}/{stage}": n
                for origin, stage, n in session.execute(
                    select(DeadLetter.origin, DeadLetter.stage, func.count()).group_by(DeadLetter.origin, DeadLetter.stage)
                ).all()
            }
            report.newest_dead_letters = [
                DeadLetterSummary(d.id, d.origin, d.stage, d.reason[:500], d.created_at.isoformat())
                for d in session.scalars(select(DeadLetter).order_by(DeadLetter.created_at.desc()).limit(20))
            ]
    for consumer in all_consumers():
        topics = [spec_for(t).topic(settings) for t in consumer.event_types]
        lag = _lag(settings, f"{settings.topic_prefix}hub.{consumer.name}", topics) if broker_up else None
        count = int(applied.get(consumer.name, 0))
        report.consumers.append(
            ConsumerStatus(
                name=consumer.name,
                assigned=assigned.get(consumer.name) if runtime else None,
                applied_last_minute=count,
                per_second=round(count / 60, 2),
                lag=lag or {},
                total_lag=sum(lag.values()) if lag is not None else None,
            )
        )
    report.connectors = runtime.connector_states() if runtime else _connectors_from_outboxes(settings)
    if report.database_reachable:
        report.parts = _part_sections(settings, database)
        report.members = _members(settings, database)
    return report


def _members(settings: HubSettings, database: Database) -> list[MemberState]:
    activity = registered.services().member_activity
    with database.reading() as session:
        return activity.members(session, settings, utcnow())


def _part_sections(settings: HubSettings, database: Database) -> dict[str, PartStatus]:
    sections: dict[str, PartStatus] = {}
    for part in registered.all_parts():
        if part.status:
            try:
                sections[part.name] = registered.load(part.status)(settings, database)
            except Exception as exc:  # noqa: BLE001 - one part's section must not hide the others
                sections[part.name] = PartStatus(part.name, part.name, ("error",), ((f"{type(exc).__name__}: {exc}",),),
                                                 flagged=(0,))
    return sections


def _lag(settings: HubSettings, group: str, topics: list[str]) -> dict[str, int] | None:
    try:
        return kafka_io.group_lag(settings, group, topics)
    except Exception:  # noqa: BLE001 - lag is informative; a broken broker is reported elsewhere
        return None


def _connectors_from_outboxes(settings: HubSettings) -> list[ConnectorState]:
    """Seen from another process: backlog, last input and rejections, read from each outbox file."""
    states = []
    for path in sorted((settings.data_dir / "outbox").glob("*.db")):
        outbox = Outbox(path, path.stem)
        try:
            last, rejected = outbox.activity(DEAD_LETTER.topic(settings))
            states.append(ConnectorState(path.stem, "?", "?", outbox.backlog(), None, last, rejected))
        finally:
            outbox.close()
    return states


def format_status(report: StatusReport) -> str:
    lines = [
        f"broker: {'reachable' if report.broker_reachable else 'NOT reachable'}   "
        f"database: {'reachable' if report.database_reachable else 'NOT reachable'}",
        "",
        f"{'consumer':<16} {'assigned':<9} {'events/s (1 min)':>17} {'lag':>8}",
    ]
    for c in report.consumers:
        assigned = "-" if c.assigned is None else ("yes" if c.assigned else "NO")
        lag = "?" if c.total_lag is None else str(c.total_lag)
        lines.append(f"{c.name:<16} {assigned:<9} {c.per_second:>17.2f} {lag:>8}")
        for partition, behind in sorted(c.lag.items()):
            if behind:
                lines.append(f"    {partition}: {behind} behind")
    lines += ["", f"{'connector':<20} {'backlog':>8} {'rejected':>9}  {'broker':<7} last input"]
    for s in report.connectors:
        broker = "-" if s.broker_up is None else ("up" if s.broker_up else "DOWN")
        last = datetime.fromtimestamp(s.last_event_at).strftime("%Y-%m-%d %H:%M:%S") if s.last_event_at else "-"
        lines.append(f"{s.name:<20} {s.backlog:>8} {s.rejected:>9}  {broker:<7} {last}")
    lines += ["", f"dead letters: {report.dead_letters_total}"]
    for origin, n in sorted(report.dead_letters_by_origin.items()):
        lines.append(f"    {origin}: {n}")
    for d in report.newest_dead_letters[:5]:
        lines.append(f"    {d.created_at[:19]} {d.origin} ({d.stage}): {d.reason[:90]}")
    for section in report.parts.values():
        lines += ["", *_table(section)]
    lines += ["", *_members_table(report.members)]
    return "\n".join(lines)


def _members_table(members: list[MemberState]) -> list[str]:
    """Each member's silence against its threshold; silent members end in ' !' and are named again below."""
    lines = [f"{'member':<16} {'state':<9} {'quiet for':>10} {'threshold':>10} {'usual/h now':>12}  last event"]
    for m in members:
        last = datetime.fromtimestamp(m.last_event_at).strftime("%Y-%m-%d %H:%M:%S") if m.last_event_at else "-"
        lines.append(f"{m.facility_id:<16} {m.state:<9} {_duration(m.quiet_for_s):>10} {_duration(m.threshold_s):>10} "
                     f"{m.usual_per_hour:>12.2f}  {last}" + (" !" if m.silent else ""))
    silent = [m.facility_id for m in members if m.silent]
    lines.append(f"silent members: {', '.join(silent)}" if silent else
                 "silent members: none" if members else "members: none heard from yet")
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, _ = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{int(seconds) % 60:02d}s"


def _table(section: PartStatus) -> list[str]:
    """A part's section as aligned text; flagged rows end in ' !'."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in section.rows]
    widths = [max([len(c), *(len(r[i]) for r in cells if i < len(r))]) for i, c in enumerate(section.columns)]
    lines = [section.title_en, "  ".join(c.ljust(w) for c, w in zip(section.columns, widths, strict=True)).rstrip()]
    for i, row in enumerate(cells):
        text = "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=False)).rstrip()
        lines.append(text + (" !" if i in section.flagged else ""))
    if not section.rows:
        lines.append("(none)")
    lines += [f"    {note}" for note in section.notes]
    return lines
