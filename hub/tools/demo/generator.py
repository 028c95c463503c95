"""The simulated county at work: registrations, visits, prescriptions, lab reports and ECG orders
written into each member's own HIS database, at a configurable rate. ECG orders also wait in
`ecg_orders` for the members' carts (hub/tools/demo/devices.py) to record them.

The same person visits several members and is registered at each under a different local number;
state that must survive a restart (who is registered where) lives in `demo/sim.db`.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import threading
import time
from collections import defaultdict, deque
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import MetaData, create_engine, func, select, update
from sqlalchemy.engine import Engine

from hub.core.terminology import LabTest
from hub.tools.demo import prescribing
from hub.tools.demo.catalogues import (
    DEPARTMENTS,
    DIAGNOSES,
    FREQUENCIES,
    LOCAL_ONLY_DRUGS,
    LOCAL_ONLY_LAB,
    PANELS,
    TERMS,
)
from hub.tools.demo.county import County, Facility
from hub.tools.demo.devices import EcgOrder
from hub.tools.demo.his_schemas import SCHEMAS
from hub.tools.demo.people import as_registered, person
from hub.tools.demo.prescribing import Line
from hub.tools.demo.writers import WRITERS, Rows

log = logging.getLogger(__name__)
CST = ZoneInfo("Asia/Shanghai")
_WEIGHT = {"county": 4, "township": 2, "village": 1}
_ECG_REASONS = ("胸闷待查", "心悸", "高血压随访", "术前检查", "头晕", "体检")
_DOCTORS = ("张医生", "李医生", "王医生", "刘医生", "陈医生", "赵医生")
_PRIORITIES = (("routine", 0.72), ("urgent", 0.14), ("asap", 0.07), ("stat", 0.07))
# The people of the review scenarios (prescribing.py): on warfarin at the county hospital, or with an
# eGFR below 30 from its laboratory. Other members' prescribers do not know, which is the point.
WARFARIN, LOW_EGFR = "warfarin", "low-egfr"
_RENAL = TERMS.lab_panel("RENAL")


class _Member:
    """One member's HIS database and the simulator's counters for it."""

    def __init__(self, facility: Facility) -> None:
        self.facility = facility
        self.writer = WRITERS[facility.vendor]
        self.engine: Engine = create_engine(facility.database_url)
        self.tables = SCHEMAS[facility.vendor](MetaData()).tables
        self.last_change = ""
        self.next_ids: dict[str, int] = {}
        self.open_visits: list[tuple[int, datetime]] = []
        with self.engine.connect() as conn:
            for name, table in self.tables.items():
                key = next(iter(table.primary_key.columns))
                if key.type.python_type is int:
                    self.next_ids[name] = int(conn.scalar(select(func.max(key))) or 0) + 1
                change = [c for c in table.columns if c.name in ("updated_at", "XGSJ")]
                if change:
                    self.last_change = max(self.last_change, conn.scalar(select(func.max(change[0]))) or "")
            patients = self.tables[self.writer.patient_table]
            self.next_patient = int(conn.scalar(select(func.count()).select_from(patients)) or 0) + 1

    def new_id(self, table: str, n: int = 1) -> int:
        value = self.next_ids[table]
        self.next_ids[table] = value + n
        return value

    def change_time(self) -> str:
        """A change time later than every earlier one in this database (ties broken by 1 µs)."""
        now = datetime.now(CST).replace(tzinfo=None)
        sep = "T" if self.facility.vendor == "vendor_a" else " "
        text = now.isoformat(sep=sep, timespec="microseconds")
        if text <= self.last_change:
            last = datetime.fromisoformat(self.last_change.replace(" ", "T"))
            text = (last + timedelta(microseconds=1)).isoformat(sep=sep, timespec="microseconds")
        self.last_change = text
        return text

    def apply(self, batch: list[Rows]) -> None:
        with self.engine.begin() as conn:
            for rows in batch:
                for table, values in rows.inserts:
                    conn.execute(self.tables[table].insert().values(**values))
                for table, key_col, key, values in rows.updates:
                    t = self.tables[table]
                    conn.execute(update(t).where(t.c[key_col] == key).values(**values))


class CountySimulator:
    def __init__(self, county: County, rate: float = 5.0, seed: int = 20261123) -> None:
        self.county = county
        self.rate = rate
        self.seed = seed
        self.rng = random.Random(seed ^ int(time.time()))
        self.members = {f.id: _Member(f) for f in county.facilities}
        self._weights = [_WEIGHT[f.kind] for f in county.facilities]
        self._state = sqlite3.connect(county.data_dir / "demo" / "sim.db", check_same_thread=False)
        self._state.execute(
            "CREATE TABLE IF NOT EXISTS registration (facility TEXT, pid TEXT, person INTEGER, PRIMARY KEY (facility, pid))"
        )
        self._state.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER)")
        self._state.execute("CREATE TABLE IF NOT EXISTS scenario (person INTEGER, kind TEXT, PRIMARY KEY (person, kind))")
        self.scenario: dict[str, set[int]] = defaultdict(set)
        for index, kind in self._state.execute("SELECT person, kind FROM scenario"):
            self.scenario[kind].add(index)
        self.registered: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.ecg_orders: deque[EcgOrder] = deque(maxlen=200)  # for the carts; the oldest are dropped
        self.where: dict[int, set[str]] = defaultdict(set)
        for facility, pid, index in self._state.execute("SELECT facility, pid, person FROM registration"):
            self.registered[facility].append((pid, index))
            self.where[index].add(facility)
        row = self._state.execute("SELECT value FROM meta WHERE name='next_person'").fetchone()
        self.next_person = int(row[0]) if row else 0

    # Public ---------------------------------------------------------------------------------------

    def seed_population(self, patients_per_facility: int = 20) -> int:
        """Registers a first population at every member that has none yet, each with a first visit."""
        written = 0
        for member in self.members.values():
            if self.registered[member.facility.id]:
                continue
            batch: list[Rows] = []
            for _ in range(patients_per_facility):
                batch.extend(self._register(member, self._new_person()))
                batch.extend(self._visit(member, *self.registered[member.facility.id][-1]))
            member.apply(batch)
            written += len(batch)
        self._state.commit()
        return written

    def step(self, n_events: int) -> int:
        """Writes about `n_events` new or changed rows across the members; returns how many."""
        pending: dict[str, list[Rows]] = defaultdict(list)
        written = 0
        while written < n_events:
            member = self.members[self.rng.choices(self.county.facilities, self._weights)[0].id]
            rows = self._action(member)
            pending[member.facility.id].extend(rows)
            written += len(rows)
        for facility_id, batch in pending.items():
            self.members[facility_id].apply(batch)
        self._state.commit()
        return written

    def run(self, stop: threading.Event) -> None:
        carry = 0.0
        last = time.monotonic()
        while not stop.is_set():
            stop.wait(0.5)
            now = time.monotonic()
            carry += (now - last) * self.rate
            last = now
            if carry >= 1:
                try:
                    self.step(int(carry))
                except Exception:  # noqa: BLE001 - a demo hiccup must not stop the county
                    log.exception("simulated county: step failed")
                carry -= int(carry)

    # Actions --------------------------------------------------------------------------------------

    def _action(self, member: _Member) -> list[Rows]:
        fid = member.facility.id
        roll = self.rng.random()
        if roll < 0.12 or not self.registered[fid]:
            rows = self._register(member, self._pick_person(member))
            return rows + self._visit(member, *self.registered[fid][-1])
        if roll < 0.80:
            return self._visit(member, *self.rng.choice(self.registered[fid]))
        if roll < 0.92 and member.open_visits:
            vid, start = member.open_visits.pop(self.rng.randrange(len(member.open_visits)))
            end = max(datetime.now(CST), start + timedelta(minutes=10))
            return [member.writer.finish_visit(vid, end, member.change_time())]
        pid, index = self.rng.choice(self.registered[fid])
        phone = "1" + self.rng.choice("3589") + "".join(self.rng.choice("0123456789") for _ in range(9))
        return [member.writer.phone_change(pid, phone, member.change_time())]

    def _new_person(self) -> int:
        index = self.next_person
        self.next_person += 1
        self._state.execute(
            "INSERT INTO meta(name, value) VALUES ('next_person', ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value",
            (self.next_person,),
        )
        return index

    def _pick_person(self, member: _Member) -> int:
        """A new resident, or someone already registered at another member (the shared-record case)."""
        fid = member.facility.id
        scenario = sorted(i for kind in (WARFARIN, LOW_EGFR) for i in self.scenario[kind] if fid not in self.where[i])
        if member.facility.kind != "county" and scenario and self.rng.random() < 0.15:
            return self.rng.choice(scenario)  # the county hospital's patient turns up at a township or village
        if self.next_person and self.rng.random() < 0.4:
            for _ in range(5):
                candidate = self.rng.randrange(self.next_person)
                if fid not in self.where[candidate]:
                    return candidate
        return self._new_person()

    def _register(self, member: _Member, index: int) -> list[Rows]:
        fid = member.facility.id
        pid = member.writer.patient_id(member.next_patient)
        member.next_patient += 1
        typed = as_registered(person(self.seed, index), self.rng, member.facility.kind == "village")
        self.registered[fid].append((pid, index))
        self.where[index].add(fid)
        self._state.execute("INSERT OR REPLACE INTO registration VALUES (?,?,?)", (fid, pid, index))
        return [member.writer.patient(pid, typed, member.change_time())]

    def _visit(self, member: _Member, pid: str, index: int) -> list[Rows]:
        writer, rng, kind = member.writer, self.rng, member.facility.kind
        inpatient = kind != "village" and rng.random() < 0.1
        start = datetime.now(CST) - timedelta(minutes=rng.randrange(5, 120))
        vid = member.new_id(writer.visit_table)
        diag = rng.choice(DIAGNOSES)
        rows = [writer.visit(vid, pid, inpatient, rng.choice(DEPARTMENTS), rng.choice(_DOCTORS), diag, start,
                             member.change_time())]
        member.open_visits.append((vid, start))
        del member.open_visits[:-200]
        if rng.random() < 0.7:
            rx_table = "rx_detail" if member.facility.vendor == "vendor_a" else "CFMX"
            rx_no = f"RX{vid:08d}"
            for line in self._prescription(member, index, start):
                rows.append(writer.rx_line(member.new_id(rx_table), rx_no, vid, pid, line,
                                           start + timedelta(minutes=15), member.change_time()))
        if rng.random() < 0.3:
            rows.append(self._lab(member, vid, pid, index, start))
        if rng.random() < (0.1 if kind != "county" else 0.04):
            ecg_table = "ecg_order" if member.facility.vendor == "vendor_a" else "XDTSQ"
            order_id, reason = member.new_id(ecg_table), rng.choice(_ECG_REASONS)
            priority = rng.choices([p for p, _ in _PRIORITIES], [w for _, w in _PRIORITIES])[0]
            rows.append(writer.ecg(order_id, vid, pid, priority, reason, start + timedelta(minutes=20),
                                   member.change_time()))
            index = next((i for p, i in reversed(self.registered[member.facility.id]) if p == pid), 0)
            self.ecg_orders.append(EcgOrder(member.facility.id, pid, index, order_id, priority, reason, time.monotonic()))
        return rows

    def _prescription(self, member: _Member, index: int, start: datetime) -> list[Line]:
        """One to three lines; for a child, paediatric products by weight; now and then a line the
        central pharmacy's review should stop (see prescribing.py)."""
        rng, kind = self.rng, member.facility.kind
        age = prescribing.age_years(person(self.seed, index).birth_date, start.date())
        weight = prescribing.weight_for_age(age, rng) if age < prescribing.CHILD_AGE else None
        lines: list[Line] = []
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.02:
                drug = rng.choice(LOCAL_ONLY_DRUGS)  # a hospital-made preparation: mapped by nobody
                lines.append(Line(drug, "10ml", rng.choice(FREQUENCIES)[0], 3, 1, drug.route, weight))
            elif weight is not None:
                child = prescribing.adult_dose_for_child if rng.random() < 0.08 else prescribing.child_line
                lines.append(child(rng, weight))
            else:
                lines.append(prescribing.adult_line(rng))
        if weight is None and kind == "county" and age >= 50 and rng.random() < 0.04:
            lines.append(prescribing.warfarin())
            self._remember(WARFARIN, index)
        if kind != "county" and index in self.scenario[WARFARIN] and rng.random() < 0.5:
            lines.append(prescribing.interacting_with_warfarin(rng))
        if weight is None and index in self.scenario[LOW_EGFR] and rng.random() < 0.5:
            lines.append(prescribing.metformin())
        return lines

    def _remember(self, kind: str, index: int) -> None:
        self.scenario[kind].add(index)
        self._state.execute("INSERT OR IGNORE INTO scenario VALUES (?, ?)", (index, kind))

    def _lab(self, member: _Member, vid: int, pid: str, index: int, start: datetime) -> Rows:
        panel = self.rng.choice(PANELS)
        tests: list[LabTest] = list(panel.tests)
        if self.rng.random() < 0.03:
            tests.append(LOCAL_ONLY_LAB)
        results = [self._result(test) for test in tests]
        if panel == _RENAL and member.facility.kind == "county" and self._failing_kidneys(index, start):
            results = [self._renal_failure(test) if test.code in ("CREA", "EGFR") else r
                       for test, r in zip(tests, results, strict=True)]
            self._remember(LOW_EGFR, index)
        report_table, item_table = ("lab_report", "lab_item") if member.facility.vendor == "vendor_a" else ("JYBG", "JYMX")
        report_id = member.new_id(report_table)
        first_item = member.new_id(item_table, len(results))
        return member.writer.lab(report_id, first_item, vid, pid, panel, results, start + timedelta(minutes=40),
                                 member.change_time())

    def _failing_kidneys(self, index: int, start: datetime) -> bool:
        """An older patient's renal panel at the county laboratory shows failing kidneys, now and then."""
        age = prescribing.age_years(person(self.seed, index).birth_date, start.date())
        return index in self.scenario[LOW_EGFR] or (age >= 60 and self.rng.random() < 0.25)

    def _renal_failure(self, test: LabTest) -> tuple[LabTest, str, str]:
        if test.code == "EGFR":  # below 30: metformin is contraindicated (说明书)
            return test, f"{self.rng.uniform(12, 29):.{test.decimals}f}", "L"
        return test, f"{self.rng.uniform(230, 420):.{test.decimals}f}", "H"

    def _result(self, test: LabTest) -> tuple[LabTest, str, str]:
        span = test.high - test.low
        roll = self.rng.random()
        if roll < 0.12:
            value, flag = test.high + span * self.rng.uniform(0.05, 0.6), "H"
        elif roll < 0.18:
            value, flag = max(0.0, test.low - span * self.rng.uniform(0.05, 0.4)), "L"
        else:
            value, flag = self.rng.uniform(test.low, test.high), ""
        return test, f"{value:.{test.decimals}f}", flag

    def close(self) -> None:
        self._state.close()
        for member in self.members.values():
            member.engine.dispose()


def table_counts(county: County) -> dict[str, dict[str, int]]:
    """Rows per table per member, for tests and the benchmark."""
    counts: dict[str, dict[str, int]] = {}
    for facility in county.facilities:
        engine = create_engine(facility.database_url)
        tables: Any = SCHEMAS[facility.vendor](MetaData()).tables
        with engine.connect() as conn:
            counts[facility.id] = {
                name: int(conn.scalar(select(func.count()).select_from(t)) or 0) for name, t in tables.items()
            }
        engine.dispose()
    return counts
