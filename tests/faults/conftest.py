"""The fault suite (`make test-faults`): each scenario breaks something real under load and ends
with a full comparison of what the sources sent and what the topics and the record hold."""

from __future__ import annotations

import pytest

from tests.faults.harness import TALLY


def _count_line() -> str:
    return (
        f"fault suite: {TALLY.scenarios} scenarios, {TALLY.compared} events compared, lost {TALLY.lost}, "
        f"doubled {TALLY.doubled} (copies resent to restarted brokers and dropped by consumers: {TALLY.resent_copies})"
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not TALLY.scenarios:
        return
    terminalreporter.section("fault suite")
    for line in TALLY.lines:
        terminalreporter.write_line(line)
    terminalreporter.write_line(_count_line())


def pytest_unconfigure(config: pytest.Config) -> None:
    if TALLY.scenarios:
        print(_count_line(), flush=True)  # the very last line, after pytest's own summary
