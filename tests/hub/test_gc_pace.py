"""Hub processes run Python's cycle collector at the configured pace (HUB_GC_YOUNG_THRESHOLD)."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hub.core.gc_pace import set_pace


@pytest.fixture
def kept_threshold() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_threshold_changes_and_the_older_ratios_stay(kept_threshold: None) -> None:
    gc.set_threshold(700, 10, 10)
    set_pace(50_000)
    assert gc.get_threshold() == (50_000, 10, 10)
    set_pace(0)  # 0: Python's own pace is left alone
    assert gc.get_threshold() == (50_000, 10, 10)


@pytest.mark.parametrize(("value", "young"), [(None, 50_000), ("0", 700), ("20000", 20_000)])
def test_a_hub_command_runs_at_the_configured_pace(value: str | None, young: int, tmp_path) -> None:
    code = (
        "import gc, sys\n"
        "from hub.app import cli\n"
        "cli._settings()\n"
        "print(gc.get_threshold()[0])\n"
    )
    env = {"HUB_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    if value is not None:
        env["HUB_GC_YOUNG_THRESHOLD"] = value
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(shown.stdout.strip()) == young
