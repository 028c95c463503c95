"""The memory soak: `hub run --demo` as a child process with its own data directory and free ports,
and the resident memory of its whole process tree (the hub, its embedded broker, any worker
processes) read from /proc once it is ready and every `every_s` seconds after."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from hub.core.broker import free_port
from hub.core.config import HubSettings
from hub.tools.scratch import scratch_url

log = logging.getLogger(__name__)
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])  # the name in brackets may hold spaces
        tree.setdefault(parent, []).append(int(entry.name))
    return tree


def _tree(pid: int) -> Iterator[int]:
    tree, todo = _children(), [pid]
    while todo:
        current = todo.pop()
        yield current
        todo += tree.get(current, [])


def tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, in MB."""
    pages = 0
    for member in _tree(pid):
        try:
            pages += int(Path(f"/proc/{member}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return pages * _PAGE_KB / 1024


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`hub run --demo` ended with exit code {process.returncode} before it was ready")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"`hub run --demo` was not ready at {url} within {timeout_s:.0f} s")


def run_soak(base: HubSettings, directory: Path, seconds: float, every_s: float = 30.0) -> dict[str, Any]:
    """Runs the demo hub for `seconds` after it is ready; its tree's RSS at start, end and peak."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_url(base.database_url, directory, "bench_soak"))
        http = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
        env |= {"HUB_DATA_DIR": str(directory / "soak"), "HUB_DATABASE_URL": url, "HUB_HTTP_PORT": str(http),
                "HUB_BROKER_PORT": str(free_port()), "HUB_MLLP_PORT": str(free_port()),
                "HUB_DEMO_RATE": str(base.demo_rate)}
        log_file = stack.enter_context((directory / "soak.log").open("wb"))
        process = subprocess.Popen([sys.executable, "-c", "from hub.app.cli import main; main()", "run", "--demo"],
                                   env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _wait_ready(f"http://127.0.0.1:{http}/readyz", process, 180)
            samples = [tree_rss_mb(process.pid)]
            started = time.monotonic()
            while (left := seconds - (time.monotonic() - started)) > 0:
                time.sleep(min(every_s, left))
                if process.poll() is not None:
                    raise RuntimeError(f"`hub run --demo` ended with exit code {process.returncode} during the soak "
                                       f"(see {directory / 'soak.log'})")
                samples.append(tree_rss_mb(process.pid))
            elapsed = time.monotonic() - started
        finally:
            process.send_signal(signal.SIGINT)  # a clean stop, as Ctrl-C
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:  # its own session: the broker it started goes with it
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
    log.info("soak: RSS samples %s", [round(s) for s in samples])
    return {"soak_seconds": round(elapsed, 1), "soak_rss_mb_start": round(samples[0], 1),
            "soak_rss_mb_end": round(samples[-1], 1), "soak_rss_mb_peak": round(max(samples), 1)}
