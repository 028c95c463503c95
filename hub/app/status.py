"""What `hub status`, `/api/status` and the status page show: throughput, lag in messages and
seconds, latency, backlogs, dead letters.

Works inside the running hub (with a Runtime: its lag monitor's last sample and the last hour's
history) and from another process (`hub status`), where lag is sampled once, connector backlogs
are read from the outbox files and latency from the running hub's /metrics.
"""

from __future__ import annotations

import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from hub.app import parts as registered
from hub.app.operations import TopicLatency, latency_buckets, latency_summary, watched_groups
from hub.app.parts import all_consumers
from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.db import Database
from hub.core.db.models import DeadLetter, ProcessedEvent
from hub.core.events import utcnow
from hub.core.lag import LagMonitor, PartitionLag
from hub.core.outbox import Outbox
from hub.core.parts import PartStatus
from hub.core.services import MemberState
from hub.core.topics import DEAD_LETTER


@dataclass(frozen=True)
class ConnectorState:
    name: str
    kind: str
    facility_id: str
    backlog: int
    broker_up: bool | None
    last_event_at: float | None
    rejected: int
    oldest_unpublished_s: float | None = None  # age of the oldest event in the outbox (None: empty)


class Runtime(Protocol):
    def consumer_states(self) -> dict[str, bool]: ...

    def connector_states(self) -> list[ConnectorState]: ...

    def broker_reachable(self) -> bool: ...

    def lag(self) -> list[PartitionLag] | None: ...  # the lag monitor's last sample (None: none yet)

    def history(self, since: float | None = None) -> dict[str, Any] | None: ...  # the last hour (hub.app.operations)

    def metrics_registry(self) -> CollectorRegistry: ...  # the hub's metrics, its child processes' included


@dataclass(frozen=True)
class ConsumerStatus:
    name: str
    assigned: bool | None
    applied_last_minute: int
    per_second: float
    lag: dict[str, int]  # "topic[partition]" -> messages behind
    total_lag: int | None
    lag_seconds: dict[str, float | None] = field(default_factory=dict)  # "topic[partition]" -> oldest unapplied age
    max_lag_seconds: float | None = None  # the worst partition (None: unknown)


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
    latency: list[TopicLatency] = field(default_factory=list)  # member record to applied, since the hub started
    latency_source: str = ""  # where the latency figures came from
    data_disk_free_bytes: int | None = None
    data_disk_size_bytes: int | None = None
    history: dict[str, Any] | None = None  # the last hour, for the status page's charts (in the hub only)


def collect_status(settings: HubSettings, database: Database, runtime: Runtime | None,
                   history_since: float | None = None) -> StatusReport:
    """`history_since`: only the history's points after that unix time (a polling page has the rest)."""
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
    lags = runtime.lag() if runtime else (_lag_once(settings) if broker_up else None)
    for consumer in all_consumers():
        mine = [p for p in lags if p.consumer == consumer.name] if lags is not None else None
        seconds = {p.key: p.seconds for p in mine or ()}
        count = int(applied.get(consumer.name, 0))
        report.consumers.append(
            ConsumerStatus(
                name=consumer.name,
                assigned=assigned.get(consumer.name) if runtime else None,
                applied_last_minute=count,
                per_second=round(count / 60, 2),
                lag={p.key: p.messages for p in mine or ()},
                total_lag=sum(p.messages for p in mine) if mine is not None else None,
                lag_seconds=seconds,
                max_lag_seconds=None if mine is None or None in seconds.values()
                else max([0.0, *(s for s in seconds.values() if s is not None)]),
            )
        )
    if runtime:
        report.latency = latency_summary(latency_buckets(runtime.metrics_registry().collect()))
        report.latency_source = "this hub, since it started"
        report.history = runtime.history(history_since)
    else:
        report.latency, report.latency_source = _latency_of_running_hub(settings)
    try:
        usage = shutil.disk_usage(settings.data_dir)
        report.data_disk_free_bytes, report.data_disk_size_bytes = usage.free, usage.total
    except OSError:
        pass  # no data directory yet
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


def _lag_once(settings: HubSettings) -> list[PartitionLag] | None:
    monitor = LagMonitor(settings, watched_groups(settings))
    try:
        return monitor.sample()
    except Exception:  # noqa: BLE001 - lag is informative; a broken broker is reported elsewhere
        return None
    finally:
        monitor.close()


def _latency_of_running_hub(settings: HubSettings) -> tuple[list[TopicLatency], str]:
    """Latency is observed inside the hub process: ask its /metrics (no token needed there)."""
    url = f"{settings.model_copy(update={'public_base_url': None}).public_base}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - our own hub's address
            text = answer.read().decode("utf-8")
    except OSError:
        return [], f"no hub answered at {url}"
    return latency_summary(latency_buckets(text_string_to_metric_families(text))), f"{url}, since the hub started"


def _connectors_from_outboxes(settings: HubSettings) -> list[ConnectorState]:
    """Seen from another process: backlog, last input and rejections, read from each outbox file."""
    states = []
    for path in sorted((settings.data_dir / "outbox").glob("*.db")):
        outbox = Outbox(path, path.stem)
        try:
            last, rejected = outbox.activity(DEAD_LETTER.topic(settings))
            oldest = outbox.oldest_pending()
            states.append(ConnectorState(path.stem, "?", "?", outbox.backlog(), None, last, rejected,
                                         None if oldest is None else max(0.0, time.time() - oldest)))
        finally:
            outbox.close()
    return states


def format_status(report: StatusReport) -> str:
    lines = [
        f"broker: {'reachable' if report.broker_reachable else 'NOT reachable'}   "
        f"database: {'reachable' if report.database_reachable else 'NOT reachable'}",
        "",
        f"{'consumer':<16} {'assigned':<9} {'events/s (1 min)':>17} {'lag':>8} {'lag s':>9}",
    ]
    for c in report.consumers:
        assigned = "-" if c.assigned is None else ("yes" if c.assigned else "NO")
        lag = "?" if c.total_lag is None else str(c.total_lag)
        lines.append(f"{c.name:<16} {assigned:<9} {c.per_second:>17.2f} {lag:>8} {_seconds(c.max_lag_seconds):>9}")
        for partition, behind in sorted(c.lag.items()):
            if behind:
                lines.append(f"    {partition}: {behind} behind, oldest {_seconds(c.lag_seconds.get(partition))}")
    lines += ["", f"latency, member record to applied ({report.latency_source or 'none'}):",
              f"{'topic':<32} {'events':>8} {'p50':>9} {'p99':>9}"]
    for t in report.latency:
        lines.append(f"{t.topic:<32} {t.events:>8} {_seconds(t.p50_s):>9} {_seconds(t.p99_s):>9}")
    if not report.latency:
        lines.append("(none)")
    lines += ["", f"{'connector':<20} {'backlog':>8} {'oldest':>9} {'rejected':>9}  {'broker':<7} last input"]
    for s in report.connectors:
        broker = "-" if s.broker_up is None else ("up" if s.broker_up else "DOWN")
        last = datetime.fromtimestamp(s.last_event_at).strftime("%Y-%m-%d %H:%M:%S") if s.last_event_at else "-"
        oldest = _seconds(s.oldest_unpublished_s) if s.backlog else "-"
        lines.append(f"{s.name:<20} {s.backlog:>8} {oldest:>9} {s.rejected:>9}  {broker:<7} {last}")
    if report.data_disk_size_bytes:
        free = report.data_disk_free_bytes or 0
        lines += ["", f"data disk: {free / 2**30:.1f} GiB free of {report.data_disk_size_bytes / 2**30:.1f} GiB "
                      f"({100 * free / report.data_disk_size_bytes:.0f}%)"]
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
        lines.append(f"{m.facility_id:<16} {m.state:<9} {_or_dash(m.quiet_for_s):>10} {_or_dash(m.threshold_s):>10} "
                     f"{m.usual_per_hour:>12.2f}  {last}" + (" !" if m.silent else ""))
    silent = [m.facility_id for m in members if m.silent]
    lines.append(f"silent members: {', '.join(silent)}" if silent else
                 "silent members: none" if members else "members: none heard from yet")
    return lines


def _seconds(value: float | None) -> str:
    """A duration for the terminal: 0.42s, 12.3s, 4m05s, 2h10m; "?" when unknown."""
    if value is None:
        return "?"
    if value < 60:
        return f"{value:.2f}s" if value < 10 else f"{value:.1f}s"
    if value < 3600:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"


def _or_dash(seconds: float | None) -> str:
    """A member's duration; "-" where it is not judged."""
    return "-" if seconds is None else _seconds(seconds)


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
