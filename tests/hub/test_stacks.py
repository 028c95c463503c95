"""`kill -USR1` on a hub logs every thread's stack under the thread's name."""

from __future__ import annotations

import logging
import os
import signal
import threading

import pytest

from hub.app import stacks


def _waits_for_work(stop: threading.Event) -> None:
    stop.wait(30)


def test_sigusr1_logs_each_named_thread_where_it_waits(caplog: pytest.LogCaptureFixture) -> None:
    stop = threading.Event()
    worker = threading.Thread(target=_waits_for_work, args=(stop,), name="consumer-record_store", daemon=True)
    worker.start()
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        stacks.dump_on_sigusr1()
        with caplog.at_level(logging.WARNING, logger="hub.app.stacks"):
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(100):  # the handler runs in this thread at the next bytecode boundary
                if caplog.records:
                    break
                threading.Event().wait(0.01)
    finally:
        signal.signal(signal.SIGUSR1, previous)
        stop.set()
        worker.join()
    dumped = caplog.records[0].getMessage()
    assert dumped.startswith(stacks.HEADER)
    section = dumped.split("--- consumer-record_store\n")[1].split("\n--- ")[0]
    assert "_waits_for_work" in section
