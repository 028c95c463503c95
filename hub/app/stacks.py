"""`kill -USR1 <hub pid>` writes every thread's stack to the log, by thread name (consumer-record_store,
relay-…, http): what a data engineer looks at when a consumer applies nothing while its lag grows, on a
machine without a profiler."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import traceback
from types import FrameType

log = logging.getLogger(__name__)

HEADER = "thread stacks (SIGUSR1)"


def thread_stacks() -> str:
    frames = sys._current_frames()
    parts = []
    for thread in sorted(threading.enumerate(), key=lambda t: t.name):
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            parts.append(f"--- {thread.name}\n{''.join(traceback.format_stack(frame, limit=25))}")
    return "\n".join(parts)


def dump_on_sigusr1() -> None:
    """From the main thread (signal handlers are installed there)."""

    def _dump(_signum: int, _frame: FrameType | None) -> None:
        log.warning("%s:\n%s", HEADER, thread_stacks())

    signal.signal(signal.SIGUSR1, _dump)
