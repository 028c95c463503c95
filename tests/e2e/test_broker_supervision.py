"""Defect 2 of issue 8: a dead embedded broker no longer takes the hub with it. It is restarted with
backoff while the API keeps reading and connectors keep accepting into their outboxes; when it
cannot be restarted, the hub exits non-zero with one clear line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_hub_run import _STARTED, ADMIN, broker_pids, hub_env, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

MRN = "urn:hub:facility:th03:mrn"


class Hub:
    """`hub run` without the demo: FHIR REST ingest is the connector."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.errors = log.with_suffix(".err")  # log lines and the final error line
        self.process = subprocess.Popen([sys.executable, "-m", "hub.app.cli", "run"], env=env,
                                        stdout=log.open("ab"), stderr=self.errors.open("ab"))
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{env['HUB_HTTP_PORT']}",
                                 headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self.http.get("/readyz").status_code == 200

    def post_patient(self, mrn: str) -> int:
        body = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}],
                "name": [{"text": "欧阳娜娜"}], "gender": "female", "birthDate": "2000-06-15"}
        return self.http.post("/fhir/Patient", json=body, headers={"X-Hub-Facility": "th03"}).status_code

    def stored(self, mrn: str) -> bool:
        found = self.http.get("/fhir/Patient", params={"identifier": f"{MRN}|{mrn}"})
        return found.status_code == 200 and found.json().get("total", 0) >= 1

    def broker_pid(self) -> int:
        pids = broker_pids(self.env["HUB_BROKER_PORT"])
        assert len(pids) == 1, pids
        return pids[0]


@pytest.fixture
def hub(tmp_path: Path, database_url: str) -> Iterator[Hub]:
    # th03 is a member the hub knows (an admin may only name known members in X-Hub-Facility).
    env = {**hub_env(tmp_path, database_url), "HUB_BROKER_RESTARTS": "5", "HUB_FACILITY_LEVELS": '{"th03": "township"}'}
    running = Hub(env, tmp_path / "hub.log")
    _STARTED.append(running)  # a timed-out wait prints its lag and warnings (wait_until)
    yield running
    _STARTED.remove(running)
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(20)
    running.http.close()
    for pid in broker_pids(env["HUB_BROKER_PORT"]):
        os.kill(pid, signal.SIGKILL)


def take_port(port: int) -> socket.socket:
    """Listens on the broker's port, so a restart finds it taken."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    deadline = time.monotonic() + 5
    while True:
        try:
            sock.bind(("127.0.0.1", port))
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)
    sock.listen()
    return sock


def test_killed_broker_comes_back_and_data_flows_again(hub: Hub) -> None:
    wait_until(hub.ready, 60, "/readyz 200")
    assert hub.post_patient("SUP-1") == 201
    wait_until(lambda: hub.stored("SUP-1"), 30, "first patient stored")
    first_pid = hub.broker_pid()

    os.kill(first_pid, signal.SIGKILL)
    taken = take_port(int(hub.env["HUB_BROKER_PORT"]))  # the first restarts fail: backoff is exercised
    try:
        time.sleep(1.0)
        # While the broker is away: reads are served, ingest is accepted into the outbox, the hub lives.
        assert hub.process.poll() is None
        assert hub.stored("SUP-1")
        assert hub.post_patient("SUP-2") == 201
        time.sleep(2.0)
        assert hub.process.poll() is None
    finally:
        taken.close()

    new_pid = wait_until(lambda: [p for p in broker_pids(hub.env["HUB_BROKER_PORT"]) if p != first_pid], 30,
                         "a new broker")
    assert len(new_pid) == 1
    wait_until(lambda: hub.stored("SUP-2"), 60, "the patient accepted during the outage stored")
    assert hub.post_patient("SUP-3") == 201
    wait_until(lambda: hub.stored("SUP-3"), 30, "a patient posted after the restart stored")
    wait_until(hub.ready, 30, "/readyz 200 again")
    assert "embedded broker restarted" in hub.errors.read_text()


def test_broker_that_cannot_restart_ends_the_hub_non_zero(hub: Hub) -> None:
    wait_until(hub.ready, 60, "/readyz 200")
    os.kill(hub.broker_pid(), signal.SIGKILL)
    taken = take_port(int(hub.env["HUB_BROKER_PORT"]))
    try:
        code = hub.process.wait(60)
    finally:
        taken.close()
    last = hub.errors.read_text().strip().splitlines()[-1]
    assert code != 0
    assert last.startswith("hub: error: the embedded broker") and "could not be restarted" in last, last
