"""The indicators of a month, for the county or one member, each with the records it counted.

Every figure is computed from the records it returns, so the drill-down is exactly what was counted.
Facts other parts already keep are read through their services (`referral_facts`, `reading_facts`,
`result_recognition`, `shared_record`); where a part or an import is missing, the figure says so and has
no value.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from consumers.indicators.definitions import (
    BY_KEY,
    DEFINITIONS,
    DIABETES_T2,
    FOLLOW_UPS,
    HYPERTENSION,
    PRIMARY_LEVELS,
)
from consumers.indicators.facts import CHINA, NOT_A_VISIT
from consumers.indicators.models import (
    IndicatorPrescription,
    IndicatorResult,
    IndicatorVisit,
    InsuranceMonth,
    InsuranceVisit,
)
from hub.core.services import Services

REFERRAL_FACTS, READING_FACTS, RESULT_RECOGNITION = "referral_facts", "reading_facts", "result_recognition"
NOT_FACE_TO_FACE = ("VR",)  # virtual encounters are no face-to-face follow-up
NOT_A_PRESCRIPTION = ("entered-in-error", "cancelled")
REPEAT_WINDOW = timedelta(hours=24)  # a test done this soon after the visit began belongs to that visit
LOOKBACK = timedelta(days=400)  # results older than this are past every recognition window of the rules file


@dataclass(frozen=True)
class Record:
    """One thing counted: a visit, settlement, referral, patient, (visit, test) pair, read or prescription line."""

    kind: str
    id: str
    facility: str | None
    patient_id: str | None
    patient_key: str | None
    at: str | None
    detail: str
    numerator: bool  # counted in the numerator (for a count: counted at all)


@dataclass(frozen=True)
class Figure:
    key: str
    value: float | None
    numerator: int | None = None
    denominator: int | None = None
    missing_en: str | None = None  # why there is no value, when there is none
    missing_zh: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Counted:
    figure: Figure
    records: list[Record] = field(default_factory=list)


@dataclass(frozen=True)
class Month:
    label: str  # YYYY-MM
    start: datetime  # UTC
    end: datetime

    @classmethod
    def of(cls, label: str) -> Month:
        year, month = int(label[:4]), int(label[5:7])
        return cls(label, _start(year, month), _start(year, month + 1))

    def back(self, months: int) -> Month:
        local = self.start.astimezone(CHINA)
        total = local.year * 12 + local.month - 1 - months
        return Month.of(f"{total // 12:04d}-{total % 12 + 1:02d}")


def _start(year: int, month: int) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=CHINA).astimezone(UTC)


def _percent(numerator: int, denominator: int) -> float | None:
    return round(100.0 * numerator / denominator, 1) if denominator else None


def _rate(key: str, records: list[Record], empty_en: str, empty_zh: str) -> Counted:
    numerator, denominator = sum(r.numerator for r in records), len(records)
    if not denominator:
        return Counted(Figure(key, None, 0, 0, empty_en, empty_zh), records)
    return Counted(Figure(key, _percent(numerator, denominator), numerator, denominator), records)


def _missing(key: str, en: str, zh: str) -> Counted:
    return Counted(Figure(key, None, None, None, en, zh))


def _iso(value: datetime) -> str:
    return value.astimezone(CHINA).isoformat()


@dataclass
class Context:
    session: Session
    services: Services
    month: Month
    member: str | None

    def visits(self, months: Iterable[str], *where: ColumnElement[bool]) -> list[IndicatorVisit]:
        query = select(IndicatorVisit).where(IndicatorVisit.month.in_(list(months)),
                                             IndicatorVisit.status.not_in(NOT_A_VISIT), *where)
        if self.member:
            query = query.where(IndicatorVisit.facility_id == self.member)
        return list(self.session.scalars(query.order_by(IndicatorVisit.started_at, IndicatorVisit.id)))

    def persons(self, ids: set[str], keys: set[str]) -> dict[str, str | None]:
        """Member Patient ids and keys to their community patient (the shared record's index)."""
        return self.services.shared_record.community_ids(self.session, ids, keys)

    def service(self, name: str) -> Any | None:
        try:
            return self.services.get(name)
        except KeyError:
            return None


def _visit_record(visit: IndicatorVisit, counted: bool) -> Record:
    return Record("visit", visit.id, visit.facility_id, visit.patient_id, visit.patient_key, _iso(visit.started_at),
                  f"{visit.level} · {visit.visit_class} · {visit.diagnoses or '-'}", counted)


_COUNTY_ONLY = ("a county-wide indicator: choose the whole county", "县域整体指标：请选择“全县”")


def in_county_visits(ctx: Context) -> Counted:
    key = "in_county_visits"
    if ctx.member:
        return _missing(key, *_COUNTY_ONLY)
    imported = ctx.session.get(InsuranceMonth, ctx.month.label)
    if imported is None:
        return _missing(
            key, f"no medical insurance settlement data imported for {ctx.month.label}: visits outside the county "
            "are only there, so the denominator is unknown (import it on this page or with "
            f"`hub indicators import-insurance FILE --month {ctx.month.label}`)",
            f"{ctx.month.label} 尚未导入医保结算数据：县域外就诊只在医保结算数据中，分母未知（在本页或用 "
            f"`hub indicators import-insurance 文件 --month {ctx.month.label}` 导入）")
    records = [_visit_record(v, True) for v in ctx.visits([ctx.month.label])]
    outside = ctx.session.scalars(select(InsuranceVisit).where(InsuranceVisit.month == ctx.month.label)
                                  .order_by(InsuranceVisit.settled_on, InsuranceVisit.settlement_id))
    records += [Record("settlement", s.settlement_id, None, None, None, s.settled_on,
                       " · ".join(filter(None, (s.hospital, s.region, s.visit_type, s.insured_id, s.diagnosis))),
                       False) for s in outside]
    return _rate(key, records, "no visits in the month", "本月无就诊")


def primary_visits(ctx: Context) -> Counted:
    key = "primary_visits"
    if ctx.member:
        return _missing(key, *_COUNTY_ONLY)
    records = [_visit_record(v, v.level in PRIMARY_LEVELS) for v in ctx.visits([ctx.month.label])]
    return _rate(key, records, "no visits in the month", "本月无就诊")


def _referrals(ctx: Context) -> list[dict[str, Any]] | None:
    facts = ctx.service(REFERRAL_FACTS)
    if facts is None:
        return None
    rows: list[dict[str, Any]] = facts.requested_between(ctx.session, ctx.month.start, ctx.month.end, ctx.member)
    return [r for r in rows if r["state"] != "cancelled"]


_NO_REFERRALS = ("the referral part is not running, so referrals are not known", "转诊部分未运行，无转诊数据")


def _referral_record(row: dict[str, Any], counted: bool) -> Record:
    return Record("referral", row["id"], row["requester_facility"], row["patient_id"], row["patient_key"],
                  row["requested_at"], f"{row['direction']} → {row['target_facility'] or '?'} · {row['state']}", counted)


def referral_counts(ctx: Context) -> list[Counted]:
    rows = _referrals(ctx)
    if rows is None:
        return [_missing(k, *_NO_REFERRALS) for k in ("referrals_up", "referrals_down", "referral_ratio",
                                                       "referral_loops")]
    up = [_referral_record(r, True) for r in rows if r["direction"] == "up"]
    down = [_referral_record(r, True) for r in rows if r["direction"] == "down"]
    if down:
        ratio = Figure("referral_ratio", round(len(up) / len(down), 2), len(up), len(down))
    else:
        ratio = Figure("referral_ratio", None, len(up), 0, "no referrals down in the month: no ratio",
                       "本月无下转，无法计算比值")
    loops = [_referral_record(r, r["state"] == "returned") for r in rows]
    return [
        Counted(Figure("referrals_up", len(up), len(up)), up),
        Counted(Figure("referrals_down", len(down), len(down)), down),
        Counted(ratio, up + [_referral_record(r, False) for r in rows if r["direction"] == "down"]),
        _rate("referral_loops", loops, "no referrals in the month", "本月无转诊"),
    ]


def _has(diagnoses: str, prefixes: tuple[str, ...]) -> bool:
    return any(code.startswith(prefixes) for code in diagnoses.split())


def chronic(ctx: Context, key: str, prefixes: tuple[str, ...]) -> Counted:
    months = [ctx.month.back(n).label for n in range(11, -1, -1)]
    # The database narrows to primary-level visits naming a code like the prefixes; _has checks the code starts so.
    candidates = ctx.visits(months, IndicatorVisit.level.in_(PRIMARY_LEVELS),
                            IndicatorVisit.visit_class.not_in(NOT_FACE_TO_FACE),
                            or_(*[IndicatorVisit.diagnoses.contains(p) for p in prefixes]))
    visits = [v for v in candidates if _has(v.diagnoses, prefixes)]
    community = ctx.persons({v.patient_id for v in visits if v.patient_id}, set())
    by_person: dict[str, list[IndicatorVisit]] = defaultdict(list)
    for v in visits:
        person = (community.get(v.patient_id) if v.patient_id else None) or v.patient_id or v.patient_key
        by_person[person].append(v)
    records = []
    for person, seen in sorted(by_person.items()):
        days = sorted({v.started_at.astimezone(CHINA).date().isoformat() for v in seen})
        last = seen[-1]
        records.append(Record("patient", person, last.facility_id, person if person != last.patient_key else None,
                              last.patient_key, _iso(last.started_at),
                              f"{len(seen)} visits on {len(days)} days: {', '.join(days)}", len(days) >= FOLLOW_UPS))
    return _rate(key, records, f"no patients under management in {months[0]} to {months[-1]}",
                 f"{months[0]} 至 {months[-1]} 无已管理患者")


def results_recognised(ctx: Context) -> Counted:
    key = "results_recognised"
    recognition = ctx.service(RESULT_RECOGNITION)
    if recognition is None:
        return _missing(key, "the shared record part is not running, so no result can be recognised",
                        "共享记录部分未运行，无法判断结果互认")
    visits = [v for v in ctx.visits([ctx.month.label]) if v.patient_id]
    earlier = ctx.session.execute(
        select(IndicatorResult.patient_id, IndicatorResult.patient_key, IndicatorResult.facility_id,
               IndicatorResult.effective_at)
        .where(IndicatorResult.effective_at >= ctx.month.start - LOOKBACK, IndicatorResult.effective_at < ctx.month.end)
    ).all()
    community = ctx.persons({v.patient_id for v in visits if v.patient_id} | {r[0] for r in earlier if r[0]}, set())
    first_elsewhere: dict[str, dict[str, datetime]] = defaultdict(dict)  # person -> facility -> first result
    for patient_id, patient_key, facility, at in earlier:
        person = (community.get(patient_id) if patient_id else None) or patient_key
        known = first_elsewhere[person].get(facility)
        first_elsewhere[person][facility] = min(known, at) if known else at
    records = []
    for v in visits:
        person = community.get(v.patient_id or "") or v.patient_id or v.patient_key
        if not any(f != v.facility_id and at <= v.started_at for f, at in first_elsewhere.get(person, {}).items()):
            continue  # nothing from another member before this visit: no call to the rules
        items = recognition.recognisable(ctx.session, v.patient_id, v.facility_id, v.started_at)
        tests: dict[str, dict[str, Any]] = {}
        for item in items:
            if item["resource_type"] == "Observation" and item["code"] and item["code"] not in tests:
                tests[item["code"]] = item
        for code, item in tests.items():
            repeat = _repeat(ctx.session, v, code)
            detail = (f"{item.get('display') or code} · {item['facility_id']} {item['date'][:10]} → {v.facility_id}"
                      + (f" · repeated: {repeat.id}" if repeat else " · not repeated"))
            records.append(Record("recognition", f"{v.id}/{item['id']}", v.facility_id, v.patient_id, v.patient_key,
                                  _iso(v.started_at), detail, repeat is None))
    return _rate(key, records, "no visit in the month found a recognisable result from another member",
                 "本月就诊无其他机构可互认结果")


def _repeat(session: Session, visit: IndicatorVisit, code: str) -> IndicatorResult | None:
    rows = session.scalars(select(IndicatorResult).where(
        IndicatorResult.patient_key == visit.patient_key, IndicatorResult.facility_id == visit.facility_id,
        IndicatorResult.effective_at >= visit.started_at, IndicatorResult.effective_at < visit.started_at + REPEAT_WINDOW,
    ).order_by(IndicatorResult.effective_at))
    return next((r for r in rows if code in r.codes.split()), None)


def reads(ctx: Context) -> list[Counted]:
    facts = ctx.service(READING_FACTS)
    if facts is None:
        return [_missing(k, "the reading part is not running, so remote reads are not known", "远程诊断部分未运行")
                for k in ("remote_reads", "read_turnaround")]
    rows: list[dict[str, Any]] = facts.done_between(ctx.session, ctx.month.start, ctx.month.end, ctx.member)
    records, hours = [], []
    for row in rows:
        began = datetime.fromisoformat(row["ready_at"] or row["created_at"])
        took = (datetime.fromisoformat(row["done_at"]) - began).total_seconds() / 3600
        hours.append(took)
        records.append(Record("read", row["id"], row["facility_id"], row["patient_id"], row["patient_key"],
                              row["done_at"], f"{row['centre']} {row['modality']} · {row['priority']} · {took:.1f} h",
                              True))
    count = Counted(Figure("remote_reads", len(records), len(records)), records)
    if not hours:
        return [count, Counted(Figure("read_turnaround", None, None, 0, "no reads signed in the month",
                                      "本月无签发的远程诊断报告"))]
    return [count, Counted(Figure("read_turnaround", round(statistics.median(hours), 2), None, len(hours)), records)]


def vbp_share(ctx: Context) -> Counted:
    query = select(IndicatorPrescription).where(IndicatorPrescription.month == ctx.month.label,
                                                IndicatorPrescription.status.not_in(NOT_A_PRESCRIPTION),
                                                IndicatorPrescription.drug_code.is_not(None))
    if ctx.member:
        query = query.where(IndicatorPrescription.facility_id == ctx.member)
    rows = ctx.session.scalars(query.order_by(IndicatorPrescription.authored_at, IndicatorPrescription.id))
    records = [Record("prescription", r.id, r.facility_id, r.patient_id, r.patient_key, _iso(r.authored_at),
                      f"{r.drug_code} {r.name}" + (f" · 集采{r.vbp}" if r.vbp else ""), r.vbp is not None)
               for r in rows]
    return _rate("vbp_share", records, "no prescription lines with a known drug in the month", "本月无可识别药品的处方")


_COMPUTE: tuple[tuple[tuple[str, ...], Callable[[Context], list[Counted]]], ...] = (
    (("in_county_visits",), lambda c: [in_county_visits(c)]),
    (("primary_visits",), lambda c: [primary_visits(c)]),
    (("referrals_up", "referrals_down", "referral_ratio", "referral_loops"), referral_counts),
    (("hypertension_managed",), lambda c: [chronic(c, "hypertension_managed", HYPERTENSION)]),
    (("diabetes_managed",), lambda c: [chronic(c, "diabetes_managed", DIABETES_T2)]),
    (("results_recognised",), lambda c: [results_recognised(c)]),
    (("remote_reads", "read_turnaround"), reads),
    (("vbp_share",), lambda c: [vbp_share(c)]),
)


def compute(session: Session, services: Services, month: str, member: str | None,
            keys: Iterable[str] | None = None) -> dict[str, Counted]:
    """The indicators (all, or those named) of a month for the county (member None) or one member."""
    wanted = set(keys) if keys is not None else set(BY_KEY)
    ctx = Context(session, services, Month.of(month), member)
    found: dict[str, Counted] = {}
    for produced, run in _COMPUTE:
        if wanted & set(produced):
            for counted in run(ctx):
                found[counted.figure.key] = counted
    return {d.key: found[d.key] for d in DEFINITIONS if d.key in wanted}


def members(session: Session) -> list[str]:
    """The members that sent a visit or a prescription, for the page's choice."""
    seen = set(session.scalars(select(IndicatorVisit.facility_id).distinct()))
    seen |= set(session.scalars(select(IndicatorPrescription.facility_id).distinct()))
    return sorted(seen)


def imported_months(session: Session) -> list[dict[str, Any]]:
    rows = session.scalars(select(InsuranceMonth).order_by(InsuranceMonth.month))
    return [{"month": r.month, "rows": r.rows, "source": r.source, "imported_by": r.imported_by,
             "imported_at": r.imported_at.isoformat()} for r in rows]
