"""The review of a prescription: the rules run against the person's county-wide record, the outcome is
kept (pass, warn, or hold on the pharmacists' queue with a due time), and every outcome and decision
goes to the prescribing member as a `prescription_review` event (a Task with its DetectedIssues) in the
same transaction, with an audit row.

Fail safe: when the rules cannot run (the engine raised, the drug is not recognised) the prescription is
held with that reason; it is never passed silently.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from consumers.pharmacy import metrics, record
from consumers.pharmacy.medicines import medicine, written_weight
from consumers.pharmacy.models import PharmacyMedication, PharmacyReview
from consumers.pharmacy.review import Finding, Review, RuleSet
from hub.core.errors import PermanentError
from hub.core.events import Event, Source, deterministic_event_id
from hub.core.results import ResultOutbox
from hub.core.services import SharedRecord
from hub.core.terminology import Drug, community_terminology
from hub.core.web.audit import Step, record_step

SYSTEM = "pharmacy"  # the source system of review events, the producer in the outbox, the audit actor
TASK_SYSTEM = "urn:hub:task"
TASK_CODE = "prescription-review"
OUTCOME_SYSTEM = "urn:hub:prescription-review:outcome"
RULE_SYSTEM = "urn:hub:prescription-review:rule"
REASON_SYSTEM = "urn:hub:prescription-review:return-reason"
READY, COMPLETED, CANCELLED = "ready", "completed", "cancelled"
OUTCOMES = ("pass", "warn", "hold")
OUTCOME_TEXT = {"pass": "审核通过", "warn": "审核通过（有提示）", "hold": "待药师审核",
                "approve": "药师审核通过", "return": "药师退回修改", "override": "药师审核通过（已说明理由）",
                "withdrawn": "处方已撤销，无需审核"}


@dataclass(frozen=True)
class Desk:
    """What every step needs: where events and audit rows go, and the time a pharmacist has."""

    results: ResultOutbox
    shared_record: SharedRecord
    due_s: float


def review_id(prescription: str) -> str:
    return "prv-" + hashlib.sha256(prescription.encode()).hexdigest()[:24]


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Counts a step in the metrics only once it is committed (a rolled-back batch is tried again)."""
    orm_event.listen(session, "after_commit", lambda _session: action(), once=True)


def _failsafe_reason(finding: Finding) -> str:
    """A bounded label: 'engine-error' or 'unrecognised' (ours), else the kind of rule that could not
    judge ('dose', 'age', 'renal', ...), never a drug or rule id."""
    if finding.kind == "unrecognised" or finding.rule_id.endswith("unrecognised"):
        return "unrecognised"
    if finding.rule_id.startswith("failsafe."):
        return finding.rule_id.removeprefix("failsafe.")
    return finding.rule_id.split(".", 1)[0] if finding.rule_id.split(".", 1)[0] != "review" else "review"


def failsafe(code: str, zh: str, en: str) -> Finding:
    return Finding(rule_id=f"failsafe.{code}", kind="failsafe", severity="high", action="hold", message_zh=zh,
                   message_en=en, source="中心药房审方失效保护 (fail-safe of the central pharmacy)")


def run_rules(rules: RuleSet, row: PharmacyMedication, drug: Drug | None, found: record.Person,
              session: Session, now: datetime) -> Review:
    """The engine's review, made fail-safe: an error or an unrecognised drug never passes."""
    resource = json.loads(row.resource)
    try:
        patient = record.context(session, found, row.id, now, weight_kg=written_weight(resource))
        outcome = rules.review(medicine(resource, drug, row.facility_id), patient, now)
    except Exception as exc:  # noqa: BLE001 - whatever the engine does, the prescription goes to a pharmacist
        finding = failsafe("engine-error", f"审方规则无法运行（{type(exc).__name__}: {exc}），请人工审核",
                            f"the review rules could not run ({type(exc).__name__}: {exc}); review by hand")
        return Review("hold", (finding,), str(getattr(rules, "version", "?")))
    findings = tuple(outcome.findings)
    if drug is None and not any(f.action == "hold" for f in findings):
        findings += (failsafe("unrecognised", f"药品“{row.name}”不在社区药品目录中，规则无法判断，请人工审核",
                              f"the drug {row.name!r} is not in the community catalogue; the rules cannot judge it"),)
    actions = {f.action for f in findings}
    verdict = "hold" if "hold" in actions or outcome.outcome not in OUTCOMES else "warn" if "warn" in actions else outcome.outcome
    return Review(verdict, findings, outcome.rules_version)


def review(session: Session, desk: Desk, rules: RuleSet, row: PharmacyMedication, drug: Drug | None,
           now: datetime, count_queue: bool = True) -> PharmacyReview | None:
    """Reviews a prescription line (again, when it changed or its drug was mapped) unless a pharmacist has
    decided it already. Returns the review, or None when there was nothing to review. `count_queue`
    False: the caller sets the queue gauge once for its whole batch."""
    rid = review_id(row.id)
    current = session.get(PharmacyReview, rid, with_for_update=True)
    if current is not None and current.decision is not None:
        return None  # decided: a later copy of the same prescription changes nothing
    if row.status != record.ACTIVE:
        if current is not None and current.status == READY:  # the prescriber withdrew it: off the queue
            current.status, current.version, current.updated_at = CANCELLED, current.version + 1, now
            _audit(session, desk, current, "pharmacy_withdrawn",
                   f"the prescription is now {row.status}; taken off the queue (version {current.version})")
            send(session, desk, current, now)
            session.flush()
            if count_queue:
                depth = queue_depth(session)
                after_commit(session, lambda: metrics.QUEUE.set(depth))
        return None
    found = record.person(session, desk.shared_record, row.patient_id, row.patient_key)
    outcome = run_rules(rules, row, drug, found, session, now)
    holds = outcome.outcome == "hold"
    community = desk.shared_record.community_id_for(session, row.patient_id) if row.patient_id else None
    values: dict[str, Any] = dict(
        prescription=row.id, facility_id=row.facility_id, patient_key=row.patient_key, patient_id=row.patient_id,
        community_id=community, outcome=outcome.outcome, status=READY if holds else COMPLETED,
        findings=json.dumps([asdict(f) for f in outcome.findings], ensure_ascii=False),
        rules_version=str(outcome.rules_version)[:64], waits_for_mapping=drug is None and row.local_code is not None,
        priority="urgent" if holds and any(f.severity == "high" for f in outcome.findings) else "routine",
        reviewed_at=now, due_at=now + timedelta(seconds=desk.due_s) if holds else now, updated_at=now)
    if current is None:
        current = PharmacyReview(id=rid, version=1, created_at=now, **values)
        session.add(current)
    else:
        for name, value in values.items():
            setattr(current, name, value)
        current.version += 1
    _audit(session, desk, current, "pharmacy_reviewed",
           f"{current.outcome} (rules {current.rules_version}, version {current.version}): "
           + "; ".join(f"{f.rule_id} {f.action}" for f in outcome.findings))
    send(session, desk, current, now)
    verdict = current.outcome
    session.flush()
    held = queue_depth(session) if count_queue else None
    failsafes = [_failsafe_reason(f) for f in outcome.findings if f.kind in ("failsafe", "unrecognised")]

    def count() -> None:
        metrics.REVIEWED.labels(verdict).inc()
        if held is not None:
            metrics.QUEUE.set(held)
        for kind in failsafes:
            metrics.FAILSAFE.labels(kind).inc()

    after_commit(session, count)
    return current


def review_waiting(session: Session, desk: Desk, rules: RuleSet, row: PharmacyMedication, drug: Drug | None,
                   now: datetime) -> PharmacyReview | None:
    """Reviews a prescription line again if its review still waits on the queue (held, nobody decided)."""
    if row.kind != "request":
        return None
    waiting = session.get(PharmacyReview, review_id(row.id))
    if waiting is None or waiting.decision is not None or waiting.status != READY:
        return None
    session.flush()
    return review(session, desk, rules, row, drug, now)


def review_person_again(session: Session, desk: Desk, rules: Callable[[], RuleSet], patient_id: str | None,
                        patient_key: str, now: datetime) -> list[str]:
    """Reviews again every held, undecided prescription of the person, after what the rules read of them
    (age, sex, weight, pregnancy) arrived or changed: a prescription reviewed before its patient's record
    reached the pharmacy was held for the unknown age, and the age is known now."""
    community = desk.shared_record.community_id_for(session, patient_id) if patient_id else None
    of_person = PharmacyReview.patient_key == patient_key
    if community is not None:  # the person's prescriptions at other members, through the patient index
        of_person = or_(of_person, PharmacyReview.community_id == community)
    waiting = session.scalars(select(PharmacyReview).where(
        of_person, PharmacyReview.status == READY, PharmacyReview.decision.is_(None))
        .order_by(PharmacyReview.created_at, PharmacyReview.id)).all()
    reviewed: list[str] = []
    in_force = rules() if waiting else None  # read only when there is something to review
    for held in waiting:
        row = session.get(PharmacyMedication, held.prescription)
        if row is None or in_force is None:
            continue
        done = review_waiting(session, desk, in_force, row, _catalogue_drug(row.drug_code), now)
        if done is not None:
            reviewed.append(done.id)
    return reviewed


def _catalogue_drug(code: str | None) -> Drug | None:
    if not code:
        return None
    try:
        return community_terminology().drug(code)
    except KeyError:  # the catalogue no longer has it: reviewed as unrecognised, which holds
        return None


# Decisions ------------------------------------------------------------------------------------------------

DECISIONS = ("approve", "return", "override")
RETURN_REASONS = {
    "dose": ("剂量不适宜", "inappropriate dose"),
    "frequency": ("用药频次不适宜", "inappropriate frequency"),
    "interaction": ("存在相互作用", "interaction"),
    "allergy": ("过敏史", "allergy"),
    "duplicate": ("重复用药", "duplicate therapy"),
    "contraindication": ("禁忌证（妊娠、年龄、肾功能）", "contraindication (pregnancy, age, renal)"),
    "route": ("给药途径或剂型不适宜", "wrong route or form"),
    "indication": ("适应证不适宜", "no indication"),
    "other": ("其他", "other"),
}


class DecisionConflict(PermanentError, ValueError):
    """The review was decided already (or is not on the queue): 409."""


@dataclass(frozen=True)
class Decision:
    action: str  # approve | return | override
    reason_code: str | None  # for return: a key of RETURN_REASONS
    text: str | None  # the free text of a return, or the override note
    actor: str
    role: str
    facility_id: str | None


def decide(session: Session, desk: Desk, rid: str, decision: Decision, now: datetime) -> PharmacyReview:
    row = session.get(PharmacyReview, rid, with_for_update=True)
    if row is None:
        raise KeyError(rid)
    if row.status == CANCELLED:
        raise DecisionConflict(f"the prescription of review {rid} was withdrawn by its prescriber; nothing to decide")
    if row.decision is not None or row.status != READY:
        raise DecisionConflict(f"the review {rid} was already {row.decision or row.outcome} "
                               f"({'by ' + row.decided_by if row.decided_by else 'by the rules'}); nothing was changed")
    row.decision, row.reason_code, row.reason_text = decision.action, decision.reason_code, decision.text
    row.decided_by, row.decided_at, row.status, row.updated_at = decision.actor, now, COMPLETED, now
    row.version += 1
    waited = max(0.0, (now - row.reviewed_at).total_seconds())
    _audit(session, desk, row, f"pharmacy_{decision.action}",
           f"{decision.action} after {waited:.0f} s" + (f"; reason {decision.reason_code}" if decision.reason_code else "")
           + (f": {decision.text}" if decision.text else ""), actor=decision.actor, role=decision.role,
           facility=decision.facility_id)
    send(session, desk, row, now)
    action = decision.action
    session.flush()
    depth = queue_depth(session)

    def count() -> None:
        metrics.DECIDED.labels(action).inc()
        metrics.QUEUE.set(depth)
        metrics.DECISION_SECONDS.observe(waited)

    after_commit(session, count)
    return row


# FHIR: the Task and its DetectedIssues ------------------------------------------------------------------


def business_status(row: PharmacyReview) -> str:
    return row.decision or ("withdrawn" if row.status == CANCELLED else row.outcome)


def task(row: PharmacyReview) -> dict[str, Any]:
    """The review as a FHIR Task: ready on the queue while held, completed once passed or decided, cancelled
    when the prescriber withdrew the prescription first."""
    status = business_status(row)
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": row.id,
        "meta": {"versionId": str(row.version), "lastUpdated": row.updated_at.isoformat()},
        "identifier": [{"system": "urn:hub:prescription-review", "value": row.id}],
        "status": row.status,
        "businessStatus": {"coding": [{"system": OUTCOME_SYSTEM, "code": status}], "text": OUTCOME_TEXT[status]},
        "intent": "order",
        "priority": row.priority,
        "code": {"coding": [{"system": TASK_SYSTEM, "code": TASK_CODE, "display": "Prescription review"}],
                 "text": "处方审核"},
        "focus": {"reference": row.prescription},
        "for": {"reference": f"Patient/{row.community_id or row.patient_id}"},
        "authoredOn": row.created_at.isoformat(),
        "lastModified": row.updated_at.isoformat(),
        "requester": {"identifier": {"system": "urn:hub:facility", "value": row.facility_id}},
        "input": [{"type": {"text": "rules-version"}, "valueString": row.rules_version}],
    }
    if row.outcome == "hold":
        resource["restriction"] = {"period": {"end": row.due_at.isoformat()}}
    if row.decision == "return" and row.reason_code:
        zh, en = RETURN_REASONS.get(row.reason_code, (row.reason_code, row.reason_code))
        resource["statusReason"] = {"coding": [{"system": REASON_SYSTEM, "code": row.reason_code, "display": en}],
                                    "text": zh}
    if row.reason_text and row.decided_at is not None:
        resource["note"] = [{"authorString": row.decided_by or "", "time": row.decided_at.isoformat(),
                             "text": row.reason_text}]
    if row.decided_by:
        resource["owner"] = {"display": row.decided_by}
    return resource


def findings(row: PharmacyReview) -> list[dict[str, Any]]:
    return list(json.loads(row.findings))


def detected_issues(row: PharmacyReview) -> list[dict[str, Any]]:
    issues = []
    for n, finding in enumerate(findings(row), start=1):
        implicated = [{"reference": row.prescription}, *({"reference": r} for r in finding.get("implicated") or ())]
        issues.append({
            "resourceType": "DetectedIssue",
            "id": f"{row.id}-{n}",
            "status": "final",
            "code": {"coding": [{"system": RULE_SYSTEM, "code": finding["rule_id"][:64]}], "text": finding["kind"]},
            "severity": finding["severity"] if finding["severity"] in ("high", "moderate", "low") else "high",
            "patient": {"reference": f"Patient/{row.patient_id or row.community_id}"},
            "identifiedDateTime": row.reviewed_at.isoformat(),
            "implicated": implicated,
            "detail": f"{finding['message_zh']} / {finding['message_en']}",
            "evidence": [{"detail": [{"display": f"{finding['source']}"[:500]}]}],
            "extension": [{"url": "urn:hub:prescription-review:action", "valueCode": finding["action"]}],
        })
    return issues


def review_event(row: PharmacyReview, prescription: dict[str, Any] | None, now: datetime) -> Event:
    return Event(
        event_id=deterministic_event_id(row.facility_id, SYSTEM, row.id, str(row.version)),
        event_type="prescription_review",
        source=Source(row.facility_id, SYSTEM, row.id),
        occurred_at=now,
        recorded_at=now,
        patient_key=row.patient_key,
        resource=task(row),
        related=tuple([*detected_issues(row), *([prescription] if prescription else [])]),
    )


def send(session: Session, desk: Desk, row: PharmacyReview, now: datetime) -> None:
    medication = session.get(PharmacyMedication, row.prescription)
    prescription = json.loads(medication.resource) if medication else None
    item = review_event(row, prescription, now)
    if desk.results.add(session, [item], SYSTEM):
        _audit(session, desk, row, "pharmacy_queued",
               f"review event {item.event_id} (Task/{row.id} version {row.version}, {business_status(row)}) added to "
               f"the results outbox for hub.prescription-review.v1, to {row.facility_id}")


def _audit(session: Session, desk: Desk, row: PharmacyReview, action: str, detail: str, actor: str = SYSTEM,
           role: str = "system", facility: str | None = None) -> None:
    # A review knows its person's community already: four audit rows a prescription looking it up
    # again cost a quarter of a review.
    resolved = ((row.patient_id, row.community_id),) if row.patient_id and row.community_id else ()
    record_step(session, Step(actor, role, facility or row.facility_id, action, "Task", row.id, row.patient_id,
                              detail, () if resolved else (row.patient_key,), resolved), desk.shared_record)


def queue_depth(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(PharmacyReview)
                              .where(PharmacyReview.status == READY)) or 0)
