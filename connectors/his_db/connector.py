"""The HIS database poller: new and changed rows by watermark, through the vendor's mapping file.

Each mapped table is read in `(change column, primary key)` order after its checkpoint, so rows
with the same change time are neither skipped nor read twice; the checkpoint saved with the events
points after the last emitted row. Rows that commit behind that position (a transaction that
stamped its row earlier and committed later) are found by looking back (`late_rows.py`). Works
through any SQLAlchemy dialect, read-only.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, Field
from sqlalchemy import Integer, MetaData, Select, Table, and_, bindparam, create_engine, func, or_, select
from sqlalchemy.engine import Connection, Engine, make_url

from connectors.his_db.deletions import KnownKeys, as_deleted
from connectors.his_db.late_rows import TOKEN, LookBack, Scan
from connectors.his_db.mapping import (
    MappingError,
    MappingFileError,
    TableSpec,
    VendorMapping,
    load_mapping,
    map_row,
)
from connectors.his_db.note_log import NoteLog
from connectors.his_db.times import parse_time
from hub.core.connector import Connector, ConnectorConfigError
from hub.core.events import Event, PollResult, Rejected, Source, deterministic_event_id

log = logging.getLogger(__name__)


def _position(change: Any, key: Any) -> str:
    """A table's read position: after the row with this change time and key."""
    return json.dumps({"change": str(change), "key": key}, ensure_ascii=False, default=str)


def _holds_datetime(column: Any) -> bool:
    try:
        return column.type.python_type is datetime
    except NotImplementedError:  # a type SQLAlchemy cannot name: the HIS's text
        return False


class HisDbOptions(BaseModel):
    database_url: str = Field(description="SQLAlchemy URL of the HIS database (a read-only account is enough).")
    mapping: str = Field(description="Built-in mapping name (vendor_a, vendor_b) or a mapping YAML file.")
    tables: list[str] | None = Field(None, description="Only these mapping entries (by name); default all.")
    reconcile_every_s: float = Field(
        600, ge=0, description="How often to look for rows deleted at the source (0: never)."
    )
    look_back_s: float = Field(
        300, ge=0, description="How far behind its read position the connector looks for rows that committed "
        "late (stamped before a row already read): the longest a HIS transaction stays open (0: never).",
    )
    look_back_every_s: float = Field(
        5, ge=0, description="How often it looks just behind the position (the whole window: every fifth of it).",
    )


class HisDbConnector(Connector):
    kind = "his_db"
    Options = HisDbOptions
    supports_history = True

    def __init__(self, config: Any, settings: Any) -> None:
        super().__init__(config, settings)
        options: HisDbOptions = self.options  # type: ignore[assignment]
        try:
            self.mapping: VendorMapping = load_mapping(options.mapping, self.config_dir)
        except MappingFileError as exc:
            raise ConnectorConfigError(f"connector {config.name}: {exc}") from None
        self.specs = [s for s in self.mapping.tables if options.tables is None or s.name in options.tables]
        self._spec_named = {spec.name: spec for spec in self.specs}
        self.system = f"his_db:{self.mapping.vendor}"
        self._engine: Engine | None = None
        self._tables: dict[str, Table] = {}
        self._ranges: dict[tuple[str, bool, bool, bool], Select[Any]] = {}  # see _range
        self._known: KnownKeys | None = None
        self._behind_statements: dict[str, tuple[Select[Any], Select[Any]]] = {}  # see _behind
        self.look_back = LookBack(options.look_back_s, options.look_back_every_s)
        self.note_log: NoteLog | None = NoteLog(config.name)  # None: `check` prints the notes itself
        self._last_reconcile = time.monotonic()  # the first look waits one interval

    # Database -------------------------------------------------------------------------------------

    def _url(self) -> str:
        url = make_url(self.options.database_url)  # type: ignore[attr-defined]
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).is_absolute():
            url = url.set(database=str((self.config_dir / url.database).resolve()))
        return url.render_as_string(hide_password=False)

    def _database(self) -> Engine:
        if self._engine is None:
            url = self._url()
            # A ping before every poll finds a dropped network connection; a file database has none to
            # drop, and the ping was a fifth of what 26 demo connectors cost.
            self._engine = create_engine(url, pool_pre_ping=make_url(url).get_backend_name() != "sqlite")
        return self._engine

    def _table(self, name: str) -> Table:
        if name not in self._tables:
            metadata = MetaData()
            try:
                metadata.reflect(self._database(), only=[name])
            except Exception as exc:  # noqa: BLE001 - missing table or unreachable database
                raise ConnectorConfigError(
                    f"connector {self.config.name}: cannot read table {name} of its HIS database: {exc}"
                ) from exc
            self._tables[name] = metadata.tables[name]
        return self._tables[name]

    def close(self) -> None:
        if self._known is not None:
            self._known.close()
            self._known = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # Polling --------------------------------------------------------------------------------------

    def poll(self, checkpoints: Mapping[str, str]) -> PollResult:
        result = PollResult()
        self.look_back.confirm(checkpoints)
        every = self.options.reconcile_every_s  # type: ignore[attr-defined]
        if every and time.monotonic() - self._last_reconcile >= every:
            self._last_reconcile = time.monotonic()
            self.reconcile(checkpoints, result)
            if not result.empty:
                return result
        budget = self.config.batch_size
        scan = self.look_back.due(time.monotonic())
        if scan is not None:
            budget -= self._read_late(result, checkpoints, scan, budget)
        if budget > 0:
            self._read_into(result, checkpoints, budget)
        token = self.look_back.seal()
        if token is not None:
            result.checkpoints[TOKEN] = token  # saved with the events: confirms this poll's rows
        if self.note_log is not None:
            self.note_log.saw(result.notes)
            self.note_log.report()
        return result

    # History (hub connector backfill) -------------------------------------------------------------

    def history_bounds(self) -> dict[str, str]:
        """Where each table's history ends now: the position after its newest row (no entry: empty)."""
        bounds: dict[str, str] = {}
        for spec in self.specs:
            table = self._table(spec.table)
            change, key = table.c[spec.change], table.c[spec.key]
            query = select(change, key).where(change.is_not(None)).order_by(change.desc(), key.desc()).limit(1)
            assert self._engine is not None
            with self._engine.connect() as conn:
                last = conn.execute(query).first()
            if last is not None:
                bounds[spec.name] = _position(last[0], last[1])
        return bounds

    def history_size(self, checkpoints: Mapping[str, str], bounds: Mapping[str, str], since: str | None) -> int:
        """Rows still to read between `checkpoints` and `bounds` (for the progress bar)."""
        total = 0
        for spec in self.specs:
            if spec.name not in bounds:
                continue
            query, params = self._range(spec, checkpoints.get(spec.name), bounds[spec.name], since)
            counted = select(func.count()).select_from(query.order_by(None).limit(None).subquery())
            with self._database().connect() as conn:
                total += int(conn.execute(counted, params).scalar_one())
        return total

    def history_chunk(self, checkpoints: Mapping[str, str], bounds: Mapping[str, str], since: str | None,
                      limit: int) -> tuple[list[Any], dict[str, str]]:
        """Rows up to `bounds` (the live connector takes over after them), changed at or after `since`."""
        return self._read_chunk(checkpoints, limit, bounds, since)

    def map_history(self, chunk: list[Any]) -> PollResult:
        result = PollResult()
        self._map_chunk(chunk, result)
        return result

    # Reading --------------------------------------------------------------------------------------

    def _read_into(self, result: PollResult, checkpoints: Mapping[str, str], budget: int) -> None:
        chunk, positions = self._read_chunk(checkpoints, budget)
        self._map_chunk(chunk, result)
        result.checkpoints.update(positions)
        self._note(chunk)

    def _note(self, chunk: list[Any]) -> None:
        for name, rows, _ in chunk:
            spec = self._spec_named[name]
            self.look_back.note(name, ((row[spec.key], row[spec.change]) for row in rows))

    def _read_late(self, result: PollResult, checkpoints: Mapping[str, str], scan: Scan, budget: int) -> int:
        """Rows behind each table's position, within the scan's span, that were never sent: read in
        full, mapped and noted like any others. Returns how many."""
        chunk: list[Any] = []
        taken = 0
        with self._database().connect() as conn:
            for spec in self.specs:
                checkpoint = checkpoints.get(spec.name)
                if not checkpoint:
                    continue
                if budget - taken <= 0:  # the other tables are looked at next poll
                    self.look_back.again()
                    break
                mark = json.loads(checkpoint)
                change = self._table(spec.table).c[spec.change]
                start = self._behind_start(spec, change, mark["change"], scan.span_s)
                if start is None:
                    continue  # the position's change time is not one (a rejected row's): look next time
                listing, reading = self._behind(spec)
                params = {"start": start, "after_change": mark["change"], "after_key": mark["key"]}
                listed = [(r[0], r[1]) for r in conn.execute(listing, params)]
                late = self.look_back.unsent(spec.name, listed, scan)
                if not late:
                    continue
                if len(late) > budget - taken:
                    late = late[:budget - taken]
                    self.look_back.again()
                rows = [dict(r._mapping) for r in conn.execute(reading, {**params, "keys": [k for k, _ in late]})]
                if not rows:
                    continue
                taken += len(rows)
                chunk.append((spec.name, rows, self._children(conn, spec, rows)))
                if self.look_back.starting:
                    note = (f"{len(rows)} rows of {spec.table} within look_back_s behind the read position are "
                            "sent again after a start (duplicates are dropped downstream)")
                    log.info("%s: %s", self.config.name, note)
                else:
                    note = (f"{len(rows)} rows of {spec.table} committed behind the read position (stamped "
                            "before rows already read: a long HIS transaction) and were read late")
                    log.warning("%s: %s", self.config.name, note)
                result.notes.append(note)
        self.look_back.looked(scan)
        self._map_chunk(chunk, result)
        self._note(chunk)
        return taken

    def _behind(self, spec: TableSpec) -> tuple[Select[Any], Select[Any]]:
        """Statements for the rows at or behind a position and changed at or after `:start`: their
        (key, change) pairs, and the whole rows of `:keys` among them."""
        if spec.name not in self._behind_statements:
            table = self._table(spec.table)
            change, key = table.c[spec.change], table.c[spec.key]
            after_change, after_key = bindparam("after_change", type_=change.type), bindparam("after_key", type_=key.type)
            window = (change >= bindparam("start", type_=change.type),
                      or_(change < after_change, and_(change == after_change, key <= after_key)))
            listing = select(key, change).where(*window).order_by(change, key)
            reading = (select(table).where(*window, key.in_(bindparam("keys", expanding=True)))
                       .order_by(change, key))
            self._behind_statements[spec.name] = (listing, reading)
        return self._behind_statements[spec.name]

    def _behind_start(self, spec: TableSpec, column: Any, mark: str, span_s: float) -> Any:
        """The change time `span_s` before a position's, as the column holds it (None: not a time)."""
        try:
            if _holds_datetime(column):
                moment = datetime.fromisoformat(mark)
            else:
                moment = parse_time(mark, spec.change_format)
        except ValueError:
            return None
        return self._as_change(spec, column, moment - timedelta(seconds=span_s))

    def _read_chunk(self, checkpoints: Mapping[str, str], budget: int, bounds: Mapping[str, str] | None = None,
                    since: str | None = None) -> tuple[list[Any], dict[str, str]]:
        """Up to `budget` rows, table by table: [(entry name, rows, children by key)], and the positions
        after them."""
        chunk: list[Any] = []
        positions: dict[str, str] = {}
        # One connection (and read transaction) for every table: a poll that finds nothing is most polls.
        with self._database().connect() as conn:
            for spec in self.specs:
                if budget <= 0:
                    break
                if bounds is not None and spec.name not in bounds:
                    continue  # the table had no rows when the history was bounded: nothing of it is history
                rows = self._read(conn, spec, checkpoints.get(spec.name), budget,
                                  bounds.get(spec.name) if bounds is not None else None, since)
                if not rows:
                    continue
                budget -= len(rows)
                chunk.append((spec.name, rows, self._children(conn, spec, rows)))
                positions[spec.name] = _position(rows[-1][spec.change], rows[-1][spec.key])
        return chunk, positions

    def _map_chunk(self, chunk: list[Any], result: PollResult) -> None:
        for name, rows, children in chunk:
            spec = self._spec_named[name]
            first = len(result.events)
            for row in rows:
                self._emit(spec, row, children.get(row[spec.key], []), result)
            if self.options.reconcile_every_s:  # type: ignore[attr-defined]
                # One executemany per table and batch, from the events this table just gave.
                self.known.remember(spec.table, [
                    (e.source.position[len(spec.table) + 1:].partition("|")[2], e.resource, e.event_type,
                     e.patient_key)
                    for e in result.events[first:]
                ])

    @property
    def known(self) -> KnownKeys:
        if self._known is None:
            self._known = KnownKeys(self.settings.data_dir / "connector-state" / f"{self.config.name}.db")
        return self._known

    def reconcile(self, checkpoints: Mapping[str, str], result: PollResult) -> None:
        """Publishes rows deleted at the source since the last look."""
        for spec in self.specs:
            name = f"deletions:{spec.name}"
            committed = int(checkpoints.get(name, "0"))
            self.known.finalise(spec.table, committed)  # those rounds' events are in the outbox
            table = self._table(spec.table)
            assert self._engine is not None
            with self._engine.connect() as conn:
                present = {str(k) for k in conn.execute(select(table.c[spec.key])).scalars()}
            gone = self.known.missing(spec.table, present, committed + 1)
            if not gone:
                continue
            for key, resource, event_type, patient_key in gone:
                facility = self.config.facility_id
                result.events.append(Event(
                    event_id=deterministic_event_id(facility, self.system, f"{spec.table}:{key}", "deleted"),
                    event_type=event_type,
                    source=Source(facility, self.system, f"{spec.table}:deleted|{key}"),
                    occurred_at=datetime.now(UTC),
                    recorded_at=datetime.now(UTC),
                    patient_key=patient_key,
                    resource=as_deleted(resource),
                ))
            result.checkpoints[name] = str(committed + 1)  # saved with the events: confirms them
            result.notes.append(f"{len(gone)} rows of {spec.table} were deleted at the source")
            log.info("%s: %s", self.config.name, result.notes[-1])

    def _range(self, spec: TableSpec, checkpoint: str | None, bound: str | None = None,
               since: str | None = None) -> tuple[Select[Any], dict[str, Any]]:
        """Rows after `checkpoint`, up to and including `bound`, changed at or after `since`, in read order,
        at most `:limit` of them: the statement, built once per table and shape (it is most of what a
        poll that finds nothing costs), and its parameters."""
        table = self._table(spec.table)
        change, key = table.c[spec.change], table.c[spec.key]
        shape = (spec.name, bool(checkpoint), bool(bound), bool(since))
        query = self._ranges.get(shape)
        if query is None:
            query = select(table).where(change.is_not(None))
            if checkpoint:
                after_change, after_key = bindparam("after_change", type_=change.type), bindparam("after_key", type_=key.type)
                query = query.where(or_(change > after_change, and_(change == after_change, key > after_key)))
            if bound:
                end_change, end_key = bindparam("end_change", type_=change.type), bindparam("end_key", type_=key.type)
                query = query.where(or_(change < end_change, and_(change == end_change, key <= end_key)))
            if since:
                query = query.where(change >= bindparam("since", type_=change.type))
            query = self._ranges[shape] = query.order_by(change, key).limit(bindparam("limit", type_=Integer))
        params: dict[str, Any] = {}
        if checkpoint:
            mark = json.loads(checkpoint)
            params |= {"after_change": mark["change"], "after_key": mark["key"]}
        if bound:
            end = json.loads(bound)
            params |= {"end_change": end["change"], "end_key": end["key"]}
        if since:
            params["since"] = self._as_change(spec, change, datetime.fromisoformat(since))
        return query, params

    @staticmethod
    def _as_change(spec: TableSpec, column: Any, moment: datetime) -> Any:
        """A time as the table's change column holds it (its own text format, or a timestamp)."""
        return moment if _holds_datetime(column) else moment.strftime(spec.change_format)

    def _read(self, conn: Connection, spec: TableSpec, checkpoint: str | None, limit: int, bound: str | None = None,
              since: str | None = None) -> list[dict[str, Any]]:
        query, params = self._range(spec, checkpoint, bound, since)
        return [dict(r._mapping) for r in conn.execute(query, {**params, "limit": limit})]

    def _children(self, conn: Connection, spec: TableSpec, rows: list[dict[str, Any]]) -> dict[Any, list[dict[str, Any]]]:
        if spec.children is None:
            return {}
        table = self._table(spec.children.table)
        keys = [r[spec.key] for r in rows]
        query = select(table).where(table.c[spec.children.join].in_(keys)).order_by(table.c[spec.children.key])
        grouped: dict[Any, list[dict[str, Any]]] = {}
        for r in conn.execute(query):
            grouped.setdefault(r._mapping[spec.children.join], []).append(dict(r._mapping))
        return grouped

    def _emit(self, spec: TableSpec, row: dict[str, Any], children: list[dict[str, Any]], result: PollResult) -> None:
        facility = self.config.facility_id
        key, change = row.get(spec.key), row.get(spec.change)
        position = f"{spec.table}:{change}|{key}"
        patient = row.get(spec.patient)
        patient_key = f"{facility}/{patient}" if patient not in (None, "") else None
        try:
            if patient_key is None:
                raise MappingError(f"table {spec.table} row {key}: no patient id in column {spec.patient}", spec.patient)
            occurred = self._occurred(spec, change)
            mapped = map_row(spec, row, children, facility, self.mapping)
        except MappingError as exc:
            payload = json.dumps({"table": spec.table, "row": row, "children": children}, ensure_ascii=False, default=str)
            result.rejected.append(Rejected(str(exc), "map", payload, position, patient_key,
                                            deterministic_event_id(facility, self.system, f"{spec.table}:{key}", str(change))))
            return
        result.notes.extend(f"{position}: {note}" for note in mapped.notes)
        result.events.append(
            Event(
                event_id=deterministic_event_id(facility, self.system, f"{spec.table}:{key}", str(change)),
                event_type=spec.event,
                source=Source(facility, self.system, position),
                occurred_at=occurred,
                recorded_at=datetime.now(UTC),
                patient_key=patient_key,
                resource=mapped.resource,
                related=tuple(mapped.related),
                flags=tuple(mapped.flags),
            )
        )

    def _occurred(self, spec: TableSpec, change: Any) -> datetime:
        if isinstance(change, datetime):
            moment = change
        else:
            try:
                moment = parse_time(str(change), spec.change_format)
            except ValueError:
                raise MappingError(
                    f"change time {change!r} in {spec.table}.{spec.change} does not match {spec.change_format!r}",
                    spec.change,
                ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=ZoneInfo(self.mapping.timezone))
        return moment.astimezone(UTC)

    # Dry runs and re-mapping ----------------------------------------------------------------------

    def check(self, sample: Path | None) -> PollResult:
        """From the live database (first batch), a SQLite sample DB, or a JSON/YAML file of rows per table."""
        self.note_log = None  # the check prints every note itself
        if sample is None:
            return self.poll({})
        if sample.suffix in (".db", ".sqlite", ".sqlite3"):
            self.close()
            self._tables.clear()
            self._ranges.clear()
            self._behind_statements.clear()
            self.options.database_url = f"sqlite:///{sample.resolve()}"  # type: ignore[attr-defined]
            return self.poll({})
        try:
            data = yaml.safe_load(sample.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConnectorConfigError(f"cannot read sample {sample}: {exc}") from None
        if not isinstance(data, dict):
            raise ConnectorConfigError(f"sample {sample} must map table names to lists of rows")
        result = PollResult()
        for spec in self.specs:
            rows = data.get(spec.table) or []
            child_rows = data.get(spec.children.table, []) if spec.children else []
            for row in rows:
                children = [c for c in child_rows if spec.children and c.get(spec.children.join) == row.get(spec.key)]
                self._emit(spec, row, children, result)
        unknown = set(data) - {s.table for s in self.specs} - {s.children.table for s in self.specs if s.children}
        result.notes.extend(f"sample table {name} is not in mapping {self.mapping.vendor}" for name in sorted(unknown))
        return result

    def reprocess(self, payload: str, position: str) -> PollResult:
        data = json.loads(payload)
        spec = next((s for s in self.specs if s.table == data.get("table")), None)
        if spec is None:
            raise NotImplementedError(f"table {data.get('table')!r} is not in mapping {self.mapping.vendor}")
        result = PollResult()
        self._emit(spec, data["row"], data.get("children", []), result)
        return result
