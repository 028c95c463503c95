"""Which review rules are in force: the shipped ones, or the latest version a pharmacist uploaded and
made active (kept in pharmacy_rule_version with its author and time). Parsed once per version."""

from __future__ import annotations

import threading

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from consumers.pharmacy.models import PharmacyRuleVersion
from consumers.pharmacy.review import RuleSet, default_rules
from hub.core.events import utcnow

SHIPPED = "shipped"
_lock = threading.Lock()
_parsed: dict[int, RuleSet] = {}


def active_rules(session: Session) -> RuleSet:
    """The rule set in force now (a version uploaded by a pharmacist, else the shipped rules)."""
    row = session.scalar(select(PharmacyRuleVersion).where(PharmacyRuleVersion.active.is_(True))
                         .order_by(PharmacyRuleVersion.id.desc()).limit(1))
    if row is None:
        return shipped()
    with _lock:
        if row.id not in _parsed:
            _parsed[row.id] = RuleSet.from_text(row.text, f"pharmacy_rule_version {row.id}")
        return _parsed[row.id]


def shipped() -> RuleSet:
    with _lock:
        if 0 not in _parsed:
            _parsed[0] = default_rules()
        return _parsed[0]


def upload(session: Session, text: str, author: str, note: str | None) -> PharmacyRuleVersion:
    """Checks a new version (RuleSet.from_text raises ReviewRulesError naming the entry) and makes it active."""
    rules = RuleSet.from_text(text, "uploaded rules")
    session.execute(update(PharmacyRuleVersion).values(active=False))
    row = PharmacyRuleVersion(version=str(rules.version)[:64], text=text, author=author[:100], note=note,
                              active=True, created_at=utcnow())
    session.add(row)
    session.flush()
    with _lock:
        _parsed[row.id] = rules
    return row


def versions(session: Session) -> list[PharmacyRuleVersion]:
    return list(session.scalars(select(PharmacyRuleVersion).order_by(PharmacyRuleVersion.id.desc())))
