"""`hub run --processes`: each consumer and the pull connectors in child processes. A child killed with
SIGKILL is restarted and what it had not committed is applied once; its state shows on /readyz and
/api/status; SIGTERM (and a killed hub) leave no child process behind."""

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
import yaml

from tests.e2e.test_hub_run import _STARTED, ADMIN, broker_pids, hub_env, wait_until

pytestmark = [pytest.mark.broker, pytest.mark.slow]

MRN = "urn:hub:facility:th03:mrn"
START_S = 240  # a dozen Python processes importing at once on a loaded 2-core machine


def children_of(hub_pid: int) -> dict[int, str]:
    """pid -> command line of every process started as a child of that hub (hub/app/child.py)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                args = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            text = " ".join(a.decode(errors="replace") for a in args)
            if "hub.app.child" in text and f"--parent {hub_pid} " in text:
                found[int(proc.name)] = text
    return found


def child_pid(hub_pid: int, needle: str) -> int | None:
    return next((pid for pid, text in children_of(hub_pid).items() if needle in text), None)


class ProcessHub:
    def __init__(self, env: dict[str, str], log: Path, connector: Path) -> None:
        self.env = env
        self.log = log
        self.process = subprocess.Popen([sys.executable, "-m", "hub.app.cli", "run", "--processes", "-c", str(connector)],
                                        env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{env['HUB_HTTP_PORT']}",
                                 headers={"Authorization": f"Bearer {ADMIN}"}, timeout=20)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        return self.http.get("/readyz").status_code == 200

    def post_patient(self, mrn: str) -> None:
        body = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": mrn}],
                "name": [{"text": "欧阳娜娜"}], "gender": "female", "birthDate": "2000-06-15"}
        answer = self.http.post("/fhir/Patient", json=body, headers={"X-Hub-Facility": "th03"})
        assert answer.status_code == 201, answer.text

    def version(self, mrn: str) -> str | None:
        """The stored Patient's versionId: "1" when its event was applied once (each apply adds a version)."""
        found = self.http.get(f"/fhir/Patient/th03-pat-{mrn}")
        return found.json()["meta"]["versionId"] if found.status_code == 200 else None

    def status(self) -> dict:
        return self.http.get("/api/status").json()

    def close(self) -> None:
        """Kills whatever a failed test left running: the hub and its children."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for leftover in children_of(self.process.pid):
            os.kill(leftover, signal.SIGKILL)
        self.http.close()


def send_adt(port: int, control_id: str, mrn: str) -> str:
    message = (f"MSH|^~\\&|HIS|TH03|HUB|CTY01|20261123083000||ADT^A04|{control_id}|P|2.5|||||CHN|UNICODE UTF-8\r"
               f"PID|1||{mrn}^^^TH03^MR||司马^光||19800101|M\rPV1|1|O|||||||||||||||||V-{mrn}\r").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"\x0b" + message + b"\x1c\r")
        return sock.recv(4096).decode()


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> Iterator[dict[str, str]]:
    env = {**hub_env(tmp_path, database_url), "HUB_FACILITY_LEVELS": '{"th03": "township"}', "HUB_PROCESSES": "threads"}
    yield env
    for pid in broker_pids(env["HUB_BROKER_PORT"]):
        os.kill(pid, signal.SIGKILL)


def mllp_config(tmp_path: Path, port: str) -> Path:
    path = tmp_path / "mllp.yaml"
    path.write_text(yaml.safe_dump({"name": "mllp-th03", "kind": "mllp", "facility_id": "cty01",
                                    "options": {"port": int(port), "senders": {"TH03": {"facility_id": "th03"}}}}))
    return path


@pytest.mark.timeout(1500)
def test_children_restarted_state_visible_and_clean_stop(env: dict[str, str], tmp_path: Path) -> None:
    hub = ProcessHub(env, tmp_path / "hub.log", mllp_config(tmp_path, env["HUB_MLLP_PORT"]))
    _STARTED.append(hub)  # type: ignore[arg-type] - a timed-out wait prints its lag and warnings
    try:
        wait_until(hub.ready, START_S, "/readyz 200 with every consumer in its own process")
        pid = hub.process.pid
        assert child_pid(pid, "consumer run record_store") and child_pid(pid, "connector run")
        status = hub.status()
        assert all(c["assigned"] for c in status["consumers"]), status["consumers"]
        mllp = next(c for c in status["connectors"] if c["name"] == "mllp-th03")
        assert mllp["kind"] == "mllp" and mllp["broker_up"] is True
        assert 'child="consumer-record_store"' in hub.http.get("/metrics").text

        # The record store's process is killed while events arrive: what it had not committed is read
        # again by its successor and applied once.
        first = child_pid(pid, "consumer run record_store")
        assert first is not None
        for i in range(60):
            hub.post_patient(f"P-{i}")
            if i == 20:
                os.kill(first, signal.SIGKILL)
        wait_until(lambda: child_pid(pid, "consumer run record_store") not in (None, first), 60, "record store restarted")
        wait_until(lambda: all(hub.version(f"P-{i}") for i in range(60)), 300, "every posted patient stored")
        assert {i: hub.version(f"P-{i}") for i in range(60) if hub.version(f"P-{i}") != "1"} == {}
        assert "child consumer-record_store" in hub.log.read_text() and "exited with signal SIGKILL" in hub.log.read_text()
        wait_until(hub.ready, 120, "/readyz 200 again: the new record store assigned")

        # The connectors' process too: the MLLP listener comes back and its input reaches the record.
        assert "MSA|AA|A-1" in send_adt(int(env["HUB_MLLP_PORT"]), "A-1", "M-1")
        connectors = child_pid(pid, "connector run")
        assert connectors is not None
        os.kill(connectors, signal.SIGKILL)
        wait_until(lambda: child_pid(pid, "connector run") not in (None, connectors), 60, "connectors restarted")

        def acked() -> bool:
            try:
                return "MSA|AA|A-2" in send_adt(int(env["HUB_MLLP_PORT"]), "A-2", "M-2")
            except OSError:
                return False

        wait_until(acked, 120, "MLLP answering again")
        for mrn in ("M-1", "M-2"):
            wait_until(lambda m=mrn: hub.http.get(f"/fhir/Patient/th03-pat-{m}").status_code == 200, 300, f"{mrn} stored")

        started = time.monotonic()
        hub.process.send_signal(signal.SIGTERM)
        assert hub.process.wait(30) == 0, hub.log.read_text()[-3000:]
        assert time.monotonic() - started < 20
        assert children_of(pid) == {}, "stopping the hub left child processes"
        assert broker_pids(env["HUB_BROKER_PORT"]) == []
    finally:
        _STARTED.remove(hub)  # type: ignore[arg-type]
        hub.close()


@pytest.mark.timeout(600)
def test_killed_hub_takes_its_children(env: dict[str, str], tmp_path: Path) -> None:
    hub = ProcessHub(env, tmp_path / "hub.log", mllp_config(tmp_path, env["HUB_MLLP_PORT"]))
    try:
        wait_until(hub.ready, START_S, "/readyz 200: every child running")
        assert len(children_of(hub.process.pid)) == 13  # twelve consumers and one connectors process
        hub.process.send_signal(signal.SIGKILL)
        hub.process.wait(10)
        wait_until(lambda: children_of(hub.process.pid) == {}, 60, "children gone after the hub was killed")
    finally:
        hub.close()
