"""Re-matching in the background: links the matcher made under other rules are decided again,
a few hundred per transaction, so a rules change reaches the whole index without a pause."""

from __future__ import annotations

import logging
import threading

from consumers.record_store.links import LinkEditor, stale_links
from consumers.record_store.matching.rules import AnyRules, load_rules
from consumers.record_store.writer import RecordWriter
from hub.core.db import Database
from hub.core.parts import PartContext
from hub.core.progress import NO_PROGRESS, Advance

log = logging.getLogger(__name__)


def rematch_batch(database: Database, rules: AnyRules, limit: int = 300) -> int:
    with database.transaction() as session:
        writer = RecordWriter(session, rules)
        done = LinkEditor(writer, f"re-match (rules {rules.version})").rematch(limit)
        writer.finish()
    return done


def rematch_all(database: Database, rules: AnyRules, stop: threading.Event | None = None,
                on_progress: Advance = NO_PROGRESS) -> int:
    total = 0
    while not (stop and stop.is_set()):
        done = rematch_batch(database, rules)
        total += done
        on_progress(done)
        if done == 0:
            break
    return total


class Rematcher:
    """Checks every `interval_s` for links made under other rules and re-matches them."""

    def __init__(self, database: Database, rules: AnyRules, interval_s: float) -> None:
        self.database = database
        self.rules = rules
        self.interval_s = interval_s

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with self.database.sessions() as session:
                    waiting = stale_links(session, self.rules.version)
                if waiting:
                    log.info("re-matching %d links under rules %s", waiting, self.rules.version)
                    log.info("re-matched %d links", rematch_all(self.database, self.rules, stop))
            except Exception:  # the database may be down for a while; try again next round
                log.exception("re-matching failed; will try again in %.0f s", self.interval_s)
            stop.wait(self.interval_s)


def run_rematcher(context: PartContext, stop: threading.Event) -> None:
    """The record store's worker: re-matching under the rules in force, beside the consumer."""
    rules = load_rules(context.settings.match_rules)
    Rematcher(context.database, rules, context.settings.rematch_interval_s).run(stop)
