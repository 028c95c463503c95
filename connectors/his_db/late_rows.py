"""Rows that commit behind the read position, and the look-back that finds them.

A HIS stamps a row's change time when its transaction writes the row, not when it commits. While
one transaction stays open another can stamp a later time and commit first; the poller reads the
later row and its position passes the earlier one, which then commits *behind* it (PostgreSQL's
`now()` is the transaction's start; an application stamping with its own clock does the same).
Reading only after the position would lose that row for good.

So the poller looks back: it lists the (key, change) pairs behind its position, within
`look_back_s`, and reads in full those it has not sent. A short span right behind the position is
listed often, the whole window less often (each row is listed a handful of times, not once per
poll). What was sent is kept in memory; a poll's rows count as sent only once its token is found
in the committed checkpoints, i.e. once they are in the outbox. After a restart the memory is empty
and the window is published again with the same event ids, which the outbox and the consumers drop
as duplicates.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TOKEN = "look-back"  # the checkpoint that confirms a poll's rows

Pair = tuple[Any, Any]  # (key, change) as the database returns them


@dataclass(frozen=True)
class Scan:
    span_s: float  # how far behind the position this look reaches
    whole: bool  # the whole window: what it does not list is forgotten


class LookBack:
    """When to look back, and which rows behind the position were sent."""

    def __init__(self, window_s: float, every_s: float) -> None:
        self.window_s = window_s
        self.every_s = every_s
        # The span right behind the position that most late rows fall in (a transaction of seconds),
        # and how often the whole window is listed.
        self.near_s = min(window_s, max(4 * every_s, 20.0))
        self.whole_every_s = max(every_s, window_s / 5)
        self._next_near = 0.0
        self._next_whole = 0.0  # the first poll lists the whole window: rows that committed while down
        self._sent: dict[str, set[Pair]] = {}
        self._pending: dict[str, set[Pair]] = {}
        self._token: str | None = None
        self._instance = uuid.uuid4().hex[:12]  # a restarted connector never matches an old token
        self._polls = 0
        self.starting = True  # until a whole look went through: what it finds is the window sent again
        self._cut_short = False

    # When ---------------------------------------------------------------------------------------

    def due(self, now: float) -> Scan | None:
        if self.window_s <= 0:
            return None
        if now >= self._next_whole:
            self._next_whole = now + self.whole_every_s
            self._next_near = now + self.every_s
            return Scan(self.window_s, whole=True)
        if now >= self._next_near:
            self._next_near = now + self.every_s
            return Scan(self.near_s, whole=False)
        return None

    def again(self) -> None:
        """More rows were unsent than one poll takes: look again at the next poll."""
        self._next_whole = 0.0
        self._cut_short = True

    def looked(self, scan: Scan) -> None:
        if scan.whole and not self._cut_short:
            self.starting = False
        self._cut_short = False

    # What was sent ------------------------------------------------------------------------------

    def confirm(self, checkpoints: Mapping[str, str]) -> None:
        """At the start of a poll: the last poll's rows are sent if its token was committed."""
        if self._token is not None and checkpoints.get(TOKEN) == self._token:
            for name, pairs in self._pending.items():
                self._sent.setdefault(name, set()).update(pairs)
        self._pending = {}
        self._token = None

    def note(self, name: str, pairs: Iterable[Pair]) -> None:
        """Rows this poll read (events or rejections alike)."""
        self._pending.setdefault(name, set()).update(pairs)

    def seal(self) -> str | None:
        """The token to save with this poll's events (None: it read no rows)."""
        if not self._pending:
            return None
        self._polls += 1
        self._token = f"{self._instance}-{self._polls}"
        return self._token

    def unsent(self, name: str, listed: list[Pair], scan: Scan) -> list[Pair]:
        """Of the pairs listed behind the position, those never sent (in listed order). A look at the
        whole window also forgets what it no longer lists (older than the window, changed or deleted)."""
        sent = self._sent.get(name, set())
        pending = self._pending.get(name, set())
        if scan.whole:
            self._sent[name] = sent & set(listed)
        return [pair for pair in listed if pair not in sent and pair not in pending]
