"""The connectors' shared fixture: a running MLLP listener (tests/connectors/test_mllp.py's Listener)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.connectors.test_mllp import Listener


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[Listener]:
    running = Listener(tmp_path)
    yield running
    running.close()
