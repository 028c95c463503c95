"""`hub run -c member.yaml` as an operator runs it: the member's `deliver_to` reaches the delivery part,
a report published on the hub's broker arrives at the member's listener, and a message queued while
the member is down survives a restart of the hub (the embedded broker forgets; the database does not)
and is delivered once when the member is back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.core import kafka_io
from hub.core.config import HubSettings
from hub.core.schema_registry import FileSchemaRegistry
from hub.core.serialization import EventCodec
from hub.core.topics import spec_for
from tests.conftest import free_port
from tests.delivery.factories import report_event
from tests.delivery.members import MllpMember, field_of
from tests.waiting import wait_for

pytestmark = [pytest.mark.broker, pytest.mark.slow]
ADMIN = "delivery-e2e-admin-token"


class Hub:
    def __init__(self, env: dict[str, str], config: Path, log: Path) -> None:
        self.env, self.log = env, log
        self.process = subprocess.Popen([sys.executable, "-m", "hub.app.cli", "run", "-c", str(config)], env=env,
                                        stdout=log.open("ab"), stderr=subprocess.STDOUT)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{env['HUB_HTTP_PORT']}",
                                 headers={"Authorization": f"Bearer {ADMIN}"}, timeout=10)

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return self.http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def destination(self) -> dict:
        return self.http.get("/api/delivery").json()["destinations"][0]

    def publish(self, *events: object) -> None:
        settings = HubSettings(kafka_bootstrap=f"127.0.0.1:{self.env['HUB_BROKER_PORT']}")
        codec = EventCodec(FileSchemaRegistry())
        producer = kafka_io.producer(settings)
        try:
            for event in events:
                producer.send(spec_for(event.event_type).topic(settings),  # type: ignore[attr-defined]
                              key=event.patient_key.encode(), value=codec.encode(event)).get(10)  # type: ignore[attr-defined]
        finally:
            producer.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.http.close()


@pytest.fixture
def started() -> Iterator[list[Hub]]:
    hubs: list[Hub] = []
    yield hubs
    for hub in hubs:
        hub.stop()


@pytest.mark.timeout(600)
def test_a_member_down_across_a_hub_restart_gets_its_report_once(
        tmp_path: Path, database_url: str, started: list[Hub]) -> None:
    member = MllpMember(charset="gb18030")
    config = tmp_path / "th01.yaml"
    config.write_text(
        "name: th01-mllp\nkind: mllp\nfacility_id: th01\n"
        f"options: {{port: {free_port()}}}\n"
        f"deliver_to:\n  - {{kind: mllp, host: 127.0.0.1, port: {member.port}, charset: GB18030, timeout_s: 3}}\n",
        encoding="utf-8")
    env = {**os.environ, "HUB_DATA_DIR": str(tmp_path / "var"), "HUB_DATABASE_URL": database_url,
           "HUB_HTTP_PORT": str(free_port()), "HUB_BROKER_PORT": str(free_port()), "HUB_ADMIN_TOKEN": ADMIN,
           "HUB_KAFKA_BOOTSTRAP": ""}
    log = tmp_path / "hub.log"
    try:
        hub = Hub(env, config, log)
        started.append(hub)
        wait_for(hub.ready, 90)
        hub.publish(report_event("th01", "1", 1))  # the township's HIS is down
        wait_for(lambda: hub.destination()["failing"] and hub.destination()["queued"] == 1, 90)
        hub.stop()

        hub = Hub(env, config, log)  # a new embedded broker, empty; the queued message is in the database
        started.append(hub)
        wait_for(hub.ready, 90)
        member.start()
        wait_for(lambda: hub.destination()["acknowledged"] == 1, 90)
        hub.publish(report_event("th01", "1", 2))
        wait_for(lambda: hub.destination()["acknowledged"] == 2, 90)
        state = hub.destination()
        assert (state["queued"], state["failing"], state["refused"]) == (0, False, 0)
        assert [field_of(m, "OBR", 3) for m in member.received] == ["R00001", "R00002"]
        assert len(set(member.control_ids())) == 2
        metrics = hub.http.get("/metrics").text
        assert 'hub_delivery_acknowledged_total{destination="th01/mllp"} 2.0' in metrics
    finally:
        member.stop()
