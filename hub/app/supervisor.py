"""The child processes of `hub run` with HUB_PROCESSES=processes: started, restarted with backoff when
they die, and stopped (SIGTERM, a grace period, then SIGKILL) when the hub stops.

Each child is `python -m hub.app.child --parent PID <hub command>` (hub/app/child.py): an ordinary
`hub consumer run NAME` or `hub connector run FILE...` that Linux SIGKILLs if the hub dies, in a process
group of its own so a terminal's Ctrl-C reaches only the hub, which stops the children itself. Each
child serves /metrics on a loopback port of its own (HUB_METRICS_PORT), where the hub reads its state.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hub.core.broker import free_port
from hub.core.retry import Backoff

log = logging.getLogger("hub.supervisor")

# A child that dies is started again after 1 s, then 2, 4, ... up to 30 s; one that ran this long
# before dying was healthy, and its next restart waits 1 s again.
RESTART_FIRST_S = 1.0
RESTART_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0


@dataclass(frozen=True)
class ChildSpec:
    name: str  # e.g. "consumer-record_store", "connectors-1": in logs, metrics (label `child`) and status
    command: tuple[str, ...]  # the `hub` arguments, e.g. ("consumer", "run", "record_store")


def describe_exit(code: int) -> str:
    """"code 1" or "signal SIGKILL" (subprocess gives a killed child's signal as a negative code)."""
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"code {code}"


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    metrics_port: int | None = None
    started_at: float = 0.0
    restarts: int = 0
    restart_at: float | None = None  # monotonic time of the next start while it is down
    backoff: Backoff = field(default_factory=lambda: Backoff(initial_s=RESTART_FIRST_S, max_s=RESTART_MAX_S))

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


class Supervisor:
    """Owns the children. `start()` once, `check()` often (from the thread that started them: Linux ties
    a child's death signal to that thread), `stop()` at the end."""

    def __init__(self, specs: Sequence[ChildSpec], env: Mapping[str, str], grace_s: float = 8.0) -> None:
        self.children = [Child(spec) for spec in specs]
        self.env = dict(env)
        self.grace_s = grace_s
        self.stopping = False

    def start(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        child.metrics_port = free_port()
        env = {**self.env, "HUB_METRICS_PORT": str(child.metrics_port)}
        child.process = subprocess.Popen(
            [sys.executable, "-m", "hub.app.child", "--parent", str(os.getpid()), *child.spec.command],
            env=env, stdin=subprocess.DEVNULL, process_group=0,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        log.info("child %s started: pid %d, `hub %s`, metrics on 127.0.0.1:%d", child.spec.name, child.process.pid,
                 _short(child.spec.command), child.metrics_port)

    def check(self) -> None:
        """Notes children that exited and starts again those whose backoff has passed."""
        if self.stopping:
            return
        now = time.monotonic()
        for child in self.children:
            if child.process is not None and child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    continue
                if now - child.started_at >= HEALTHY_AFTER_S:
                    child.backoff.reset()
                delay = child.backoff.next()
                child.restart_at = now + delay
                log.error("child %s (pid %d) exited with %s; restarting in %.1f s", child.spec.name,
                          child.process.pid, describe_exit(code), delay)
            elif child.restart_at is not None and now >= child.restart_at:
                child.restarts += 1
                try:
                    self._start(child)
                except OSError as exc:
                    child.restart_at = now + child.backoff.next()
                    log.error("child %s could not be started: %s", child.spec.name, exc)

    def terminate(self) -> None:
        """Asks every child to stop (SIGTERM) and returns at once; `wait()` then ends them."""
        self.stopping = True
        for child in self.children:
            if child.alive:
                assert child.process is not None
                child.process.send_signal(signal.SIGTERM)

    def wait(self, deadline: float) -> None:
        """Waits for the children until `deadline` (monotonic), then SIGKILLs all those still running at
        once: a consumer's uncommitted batch is read again, a connector's outbox keeps what it acknowledged."""
        running = [c for c in self.children if c.process is not None and c.restart_at is None]
        late = []
        for child in running:
            assert child.process is not None
            try:
                code = child.process.wait(max(0.0, deadline - time.monotonic()))
                log.info("child %s (pid %d) stopped with %s", child.spec.name, child.process.pid, describe_exit(code))
            except subprocess.TimeoutExpired:
                child.process.kill()
                late.append(child)
        for child in late:
            assert child.process is not None
            child.process.wait()
            log.warning("child %s (pid %d) did not stop in time and was killed", child.spec.name, child.process.pid)

    def stop(self) -> None:
        self.terminate()
        self.wait(time.monotonic() + self.grace_s)


def _short(command: Sequence[str]) -> str:
    """The command for a log line: `consumer run pharmacy (+26 -c files)` rather than every path."""
    shown = [arg for arg in command if arg != "-c" and not arg.endswith((".yaml", ".yml"))]
    files = sum(arg.endswith((".yaml", ".yml")) for arg in command)
    return " ".join(shown) + (f" (+{files} connector files)" if files else "")
