"""What the HIS connector notes about rows it still sends, in the log, where an IT team looks.

A note is not a rejection: an unmapped optional code kept as a local coding, a dose that is no
quantity, a resident ID failing its check digit. A HIS has no sender to answer (MLLP has its ACK,
FHIR REST its OperationOutcome), so until now such notes reached only `hub connector check`. A HIS
sends the same unmapped code thousands of times a day, so each kind of note (its text with the
quoted values left out) is logged when first seen and then at most once per `every_s`, with how
many rows had it since and the latest of them in full.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)
_QUOTED = re.compile(r"'[^']*'")
OTHER = "(notes of more kinds than the log follows)"


@dataclass
class _Kind:
    count: int = 0  # rows since the kind was last logged
    latest: str = ""  # the latest such note, with its row's position
    logged_at: float | None = None


class NoteLog:
    def __init__(self, connector: str, every_s: float = 3600.0, kinds_max: int = 200,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connector = connector
        self.every_s = every_s
        self.kinds_max = kinds_max
        self.clock = clock
        self._kinds: dict[str, _Kind] = {}

    def saw(self, notes: Iterable[str]) -> None:
        """Notes of rows, each `<table>:<change>|<key>: <text>`; others (already logged) are skipped."""
        for note in notes:
            position, sep, text = note.partition(": ")
            if not sep or "|" not in position:
                continue
            kind = _QUOTED.sub("'…'", text)
            if kind not in self._kinds and len(self._kinds) >= self.kinds_max:
                kind = OTHER
            entry = self._kinds.setdefault(kind, _Kind())
            entry.count += 1
            entry.latest = note

    def report(self) -> None:
        """Logs each kind with rows since it was last logged, if that was `every_s` ago or never."""
        now = self.clock()
        for kind, entry in self._kinds.items():
            if entry.count and (entry.logged_at is None or now - entry.logged_at >= self.every_s):
                log.warning("%s: %d %s %s: %s (latest: %s)", self.connector, entry.count,
                            "row" if entry.count == 1 else "rows",
                            "so far" if entry.logged_at is None else f"in the last {(now - entry.logged_at) / 60:.0f} min",
                            kind, entry.latest)
                entry.count, entry.logged_at = 0, now
