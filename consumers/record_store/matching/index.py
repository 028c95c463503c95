"""The candidate index in the database: blocking keys and the features of every member record.

One instance serves one transaction (a consumer batch or one review action). It reads the blocks
of a whole batch in a few queries and remembers what the batch adds, so records of the same
person arriving in one batch find each other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from consumers.record_store.matching.decision import Candidate, Decision, decide
from consumers.record_store.matching.rules import AnyRules
from consumers.record_store.models import MatchBlock, PatientLink
from hub.core.db.models import core_table

_CHUNK = 400


class CandidateIndex:
    def __init__(self, session: Session, rules: AnyRules) -> None:
        self.session = session
        self.rules = rules
        self._blocks: dict[str, set[str]] = {}  # block key -> member record keys
        self._records: dict[str, tuple[str, Any | None]] = {}  # features as the rules extract them  # record key -> (community, features)
        self._keys_of: dict[str, tuple[str, ...]] = {}  # record key -> its stored block keys, when known
        # Blocks of records remembered in this transaction, written in one statement by `flush`.
        self._unwritten: list[dict[str, str]] = []
        self._added: dict[str, set[str]] = {}

    # Reading ---------------------------------------------------------------------------------------

    def prefetch(self, block_keys: Iterable[str]) -> None:
        """Loads the given blocks and the records in them (two queries per chunk of keys)."""
        wanted = sorted(set(block_keys) - self._blocks.keys())
        members: set[str] = set()
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            for key in chunk:
                self._blocks[key] = set()
            for key, patient_key in self.session.execute(
                select(MatchBlock.key, MatchBlock.patient_key).where(MatchBlock.key.in_(chunk))
            ):
                self._blocks[key].add(patient_key)
                members.add(patient_key)
            for key in chunk:
                self._blocks[key] |= self._added.get(key, set())
        self._load_records(members - self._records.keys())

    def _load_records(self, keys: set[str]) -> None:
        ordered = sorted(keys)
        for i in range(0, len(ordered), _CHUNK):
            for patient_key, community, text in self.session.execute(
                select(PatientLink.patient_key, PatientLink.community_patient_id, PatientLink.features).where(
                    PatientLink.patient_key.in_(ordered[i : i + _CHUNK])
                )
            ):
                # Features stored under another kind of rules are None: re-matching extracts them again.
                self._records[patient_key] = (community, self.rules.load_features(text) if text else None)

    def candidates(self, features: Any, exclude: str | None = None) -> list[Candidate]:
        """Scores the records sharing a block with `features`, at most max_candidates of them
        (those sharing the most blocks first); blocks above max_block_size are skipped."""
        keys = self.rules.keys(features)
        if any(k not in self._blocks for k in keys):
            self.prefetch(keys)
        limit = self.rules.thresholds.max_block_size
        shared: Counter[str] = Counter()
        for key in keys:
            members = self._blocks.get(key, set())
            if len(members) <= limit:
                shared.update(members)
        if exclude is not None:
            shared.pop(exclude, None)
        found: list[Candidate] = []
        # Most shared blocks first; ties by key, so the same input always meets the same candidates.
        ranked = sorted(shared.items(), key=lambda item: (-item[1], item[0]))
        for patient_key, _ in ranked[: self.rules.thresholds.max_candidates]:
            community, other = self._records.get(patient_key, ("", None))
            if other is not None and community:
                found.append(Candidate(community, patient_key, self.rules.compare(features, other)))
        return found

    def match(self, features: Any, exclude: str | None = None, excluded: frozenset[str] = frozenset()) -> Decision:
        return decide(self.candidates(features, exclude), self.rules, excluded)

    def community_of(self, patient_key: str) -> str | None:
        held = self._records.get(patient_key)
        return held[0] if held else None

    # Writing ---------------------------------------------------------------------------------------

    def remember(self, patient_key: str, community: str, features: Any, new_record: bool) -> None:
        """Stores the record's blocks (replacing the old ones when its features changed)."""
        keys = self.rules.keys(features)
        previous = self._records.get(patient_key)
        self._records[patient_key] = (community, features)
        if not new_record:
            if previous is not None and previous[1] == features and patient_key in self._keys_of:
                return
            old = self._keys_of.get(patient_key)
            if old is None:
                old = tuple(self.session.scalars(select(MatchBlock.key).where(MatchBlock.patient_key == patient_key)))
            if set(old) == set(keys):
                self._keys_of[patient_key] = keys
                return
            self.flush()
            self.session.execute(delete(core_table(MatchBlock)).where(MatchBlock.patient_key == patient_key))
            for key in old:
                self._blocks.get(key, set()).discard(patient_key)
                self._added.get(key, set()).discard(patient_key)
        for key in set(keys):
            self._unwritten.append({"key": key, "patient_key": patient_key})
            self._added.setdefault(key, set()).add(patient_key)
            if key in self._blocks:
                self._blocks[key].add(patient_key)
        self._keys_of[patient_key] = keys

    def flush(self) -> None:
        """Writes the blocks remembered since the last flush (Core: they are never ORM objects)."""
        if self._unwritten:
            self.session.execute(insert(core_table(MatchBlock)), self._unwritten)
            self._unwritten = []

    def moved(self, patient_key: str, community: str) -> None:
        held = self._records.get(patient_key)
        if held is not None:
            self._records[patient_key] = (community, held[1])
