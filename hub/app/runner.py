"""`hub run`: the whole hub: broker (embedded unless configured), database, consumers, connectors,
the HTTP API and, with --demo, a simulated county feeding it.

HUB_PROCESSES=threads (the default): every part runs in a thread of this process. With `processes`,
each consumer and the pull connectors run in child processes (hub/app/supervisor.py) that are
restarted when they die; the HTTP API, the push connectors behind its routes, the MLLP listener, the
parts' workers, the lag monitor and the demo stay here. Threads watch one stop event; SIGINT/SIGTERM
set it; children are stopped next and the broker last. A second run resumes from the database and
the outboxes.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
import yaml
from prometheus_client import REGISTRY, CollectorRegistry

from hub.app import parts as registered
from hub.app import stacks
from hub.app.api.app import create_app
from hub.app.child_state import ChildrenMetrics, merged_registry
from hub.app.operations import OperationsSampler
from hub.app.status import ConnectorState
from hub.app.supervisor import ChildSpec, Supervisor
from hub.core import kafka_io, metrics
from hub.core.broker import BrokerSupervisor, EmbeddedBroker, StartupError, port_open
from hub.core.config import HubSettings
from hub.core.connector import ConnectorConfig
from hub.core.connector_runtime import ConnectorRuntime
from hub.core.consuming import ConsumerRunner
from hub.core.db import Database
from hub.core.lag import PartitionLag
from hub.core.outbox import Outbox
from hub.core.parts import PartContext
from hub.core.results import ResultOutbox
from hub.core.schema_registry import make_registry
from hub.core.serialization import EventCodec
from hub.core.services import Services
from hub.tools.demo.accounts import ensure_demo_accounts
from hub.tools.demo.county import build_county, roster
from hub.tools.demo.devices import DeviceFleet
from hub.tools.demo.generator import CountySimulator
from hub.tools.demo.insurance import write_settlements
from hub.tools.demo.result_listeners import MemberListeners
from hub.tools.demo.stock_keeper import StockKeeper
from hub.tools.demo.tokens import ensure_demo_tokens, saved_tokens

log = logging.getLogger("hub")


@dataclass
class HubRuntime:
    """What /readyz and the status page ask about the running parts, in this process and in children."""

    settings: HubSettings
    consumers: list[ConsumerRunner] = field(default_factory=list)
    connectors: list[ConnectorRuntime] = field(default_factory=list)
    operations: OperationsSampler | None = None  # lag monitor and the last hour's figures
    children: ChildrenMetrics | None = None  # HUB_PROCESSES=processes: what the children report
    child_consumers: list[str] = field(default_factory=list)
    child_connectors: list[ConnectorConfig] = field(default_factory=list)
    registry: CollectorRegistry = REGISTRY  # this process's metrics, and the children's when there are any

    def lag(self) -> list[PartitionLag] | None:
        return self.operations.latest if self.operations else None

    def history(self, since: float | None = None) -> dict[str, Any] | None:
        return self.operations.history.as_dict(since) if self.operations else None

    def metrics_registry(self) -> CollectorRegistry:
        return self.registry

    def consumer_states(self) -> dict[str, bool]:
        states = {runner.consumer.name: runner.assigned for runner in self.consumers}
        if self.children is not None:
            assigned = self.children.values(metrics.CONSUMER_ASSIGNED, "consumer")
            states |= {name: assigned.get(name, 0.0) > 0 for name in self.child_consumers}
        return states

    def connector_states(self) -> list[ConnectorState]:
        states = [
            ConnectorState(
                name=rt.config.name,
                kind=rt.config.kind,
                facility_id=rt.config.facility_id,
                backlog=rt.outbox.backlog(),
                broker_up=rt.relay.broker_up,
                last_event_at=_last_event(rt),
                rejected=_rejected(rt),
                oldest_unpublished_s=_age(rt.outbox.oldest_pending()),
            )
            for rt in self.connectors
        ]
        return states + self._child_connector_states()

    def _child_connector_states(self) -> list[ConnectorState]:
        """Read from the children's metrics; a connector whose child is down shows its outbox file's backlog."""
        if self.children is None:
            return []
        backlog = self.children.values(metrics.OUTBOX_BACKLOG, "connector")
        oldest = self.children.values(metrics.OUTBOX_OLDEST_SECONDS, "connector")
        up = self.children.values(metrics.BROKER_UP, "connector")
        last = self.children.values(metrics.CONNECTOR_LAST_EVENT, "connector")
        rejected = self.children.values(metrics.EVENTS_REJECTED, "connector")
        states = []
        for config in self.child_connectors:
            name = config.name
            if name in backlog:
                waiting, age = int(backlog[name]), oldest.get(name) or None
            else:
                waiting, age = _outbox_file(self.settings, name)
            states.append(ConnectorState(
                name=name, kind=config.kind, facility_id=config.facility_id, backlog=waiting,
                broker_up=bool(up[name]) if name in up else None, last_event_at=last.get(name) or None,
                rejected=int(rejected.get(name, 0)), oldest_unpublished_s=age,
            ))
        return states

    def broker_reachable(self) -> bool:
        return kafka_io.broker_reachable(self.settings, timeout_s=1.0)


def _outbox_file(settings: HubSettings, name: str) -> tuple[int, float | None]:
    """Backlog and oldest age read from a connector's outbox file (its process is down or starting)."""
    path = settings.outbox_path(name)
    if not path.exists():
        return 0, None
    outbox = Outbox(path, name)
    try:
        return outbox.backlog(), _age(outbox.oldest_pending())
    finally:
        outbox.close()


def _age(moment: float | None) -> float | None:
    return None if moment is None else max(0.0, time.time() - moment)


def _last_event(rt: ConnectorRuntime) -> float | None:
    value = metrics.CONNECTOR_LAST_EVENT.labels(rt.config.name)._value.get()
    return value or None


def _rejected(rt: ConnectorRuntime) -> int:
    total = 0.0
    for metric in metrics.EVENTS_REJECTED.collect():
        for sample in metric.samples:
            if sample.name.endswith("_total") and sample.labels.get("connector") == rt.config.name:
                total += sample.value
    return int(total)


class Hub:
    def __init__(self, settings: HubSettings, demo: bool = False, connector_files: list[Path] | None = None) -> None:
        self.settings = settings
        self.demo = demo
        self.connector_files = connector_files or []
        self.stop = threading.Event()
        self.broker: EmbeddedBroker | None = None
        self.supervisor: BrokerSupervisor | None = None
        self.threads: list[threading.Thread] = []
        self.server: uvicorn.Server | None = None
        self.database: Database | None = None
        self.services: Services | None = None
        self.results: ResultOutbox | None = None
        self.runtime = HubRuntime(settings)
        self.children: Supervisor | None = None

    # Start ----------------------------------------------------------------------------------------

    def start(self) -> None:
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.embedded_broker:
            self.broker = EmbeddedBroker(
                settings.broker_port, host=settings.broker_host, log_file=settings.data_dir / "broker.log"
            ).start()
            self.supervisor = BrokerSupervisor(
                self.broker, attempts=settings.broker_restarts, on_restart=lambda: kafka_io.ensure_topics(settings)
            )
        try:
            self._start_parts()
        except BaseException:
            self.shutdown()
            raise

    def _start_parts(self) -> None:
        settings = self.settings
        if not kafka_io.broker_reachable(settings, timeout_s=5):
            raise StartupError(f"Kafka is not reachable at {settings.bootstrap}; check HUB_KAFKA_BOOTSTRAP")
        kafka_io.ensure_topics(settings)
        self.database = Database(settings.db_url)
        if not self.database.reachable():
            raise StartupError(f"the database is not reachable ({_safe_url(settings.db_url)}); check HUB_DATABASE_URL")
        registered.migrate(self.database)
        codec = EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
        self.services = registered.services()
        # The hub's own events (reports, notices), published by one relay like a connector's outbox.
        self.results = ResultOutbox(self.database, codec, settings)
        self._thread(self.results.relay().run, "relay-results", self.stop)
        # Connector configs before the consumers: consumers and workers are told who the members are and
        # where their results go (`deliver_to`).
        # Push connectors (FHIR REST ingest, the DICOM inbox and STOW-RS) always run here: their sinks sit
        # behind the HTTP routes.
        here = [config for part in registered.connector_parts() if part.instances
                for config in registered.load(part.instances)(settings)]
        files = list(self.connector_files)
        if self.demo:
            mllp, county_files = self._start_demo()
            here.append(mllp)
            files += county_files
        pushed = {part.name for part in registered.connector_parts() if part.routers}
        loaded = [(path, registered.load_connector_config(path)) for path in files]
        in_children = settings.processes == "processes"
        in_code = list(here)  # no file names them: a consumer child gets them written out (_written)
        here += [config for path, config in loaded if not in_children or config.kind in pushed]
        configs = [*here, *(config for _path, config in loaded if in_children and config.kind not in pushed)]
        context = PartContext(settings, self.database, self.services, self.results, connector_configs=tuple(configs))

        for part in registered.consumer_parts():
            if part.consumer and not in_children:
                consumer = registered.consumer_class(part.name)(settings)
                consumer.bind(context)
                runner = ConsumerRunner(consumer, settings, self.database, codec)
                self.runtime.consumers.append(runner)
                self._thread(runner.run, f"consumer-{part.name}", self.stop)
            for target in part.workers:
                self._thread(registered.load(target), f"{part.name}-{target.rpartition(':')[2]}", context, self.stop)

        for config in here:
            runtime = ConnectorRuntime.build(config, settings, registered.connector_class(config.kind), codec)
            self.runtime.connectors.append(runtime)
            for thread in runtime.threads(self.stop):
                thread.start()
                self.threads.append(thread)
        if in_children:
            connectors = [(path, config) for path, config in loaded if config.kind not in pushed]
            self._start_children(connectors, [*self._written(in_code), *files])

        # One lag monitor for every consumer group (stopped ones too), and the status page's last hour.
        self.runtime.operations = OperationsSampler(settings, registry=self.runtime.registry)
        self._thread(self.runtime.operations.run, "operations", self.stop)
        self._start_http()

    def _written(self, configs: list[ConnectorConfig]) -> list[Path]:
        """The configs of the connectors running here, as files a consumer child reads with `-c` (the
        demo's MLLP listener and the push connectors exist only in this process)."""
        folder = self.settings.data_dir / "run" / "connectors"
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for config in configs:
            path = folder / f"{config.name}.yaml"
            data = config.model_dump(mode="json")
            data["options"] = {k: v for k, v in data["options"].items() if not k.startswith("_")}
            path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
            paths.append(path)
        return paths

    def _start_children(self, connectors: list[tuple[Path, ConnectorConfig]], member_files: list[Path]) -> None:
        """Each consumer in a process of its own; the pull connectors spread over HUB_CONNECTOR_PROCESSES."""
        members = tuple(arg for path in member_files for arg in ("-c", str(path)))  # `deliver_to` and the like
        names = [part.name for part in registered.consumer_parts() if part.consumer]
        specs = [ChildSpec(f"consumer-{name}", ("consumer", "run", name, *members)) for name in names]
        count = min(self.settings.connector_processes, len(connectors))
        for i in range(count):
            share = connectors[i::count]
            specs.append(ChildSpec(f"connectors-{i + 1}", ("connector", "run", *(str(path) for path, _ in share))))
        env = {
            **os.environ,
            # The children's /metrics listen on loopback only (the hub reads them and serves them merged)
            # while the links they write name the hub's public address.
            "HUB_HTTP_HOST": "127.0.0.1",
            "HUB_PUBLIC_BASE_URL": self.settings.public_base,
        }
        self.children = Supervisor(specs, env)
        self.children.start()
        children = ChildrenMetrics(self.children)
        self.runtime.children = children
        self.runtime.child_consumers = names
        self.runtime.child_connectors = [config for _path, config in connectors]
        self.runtime.registry = merged_registry(children)

    def _start_demo(self) -> tuple[ConnectorConfig, list[Path]]:
        """The simulated county; returns the MLLP listener's config and the members' connector files."""
        # Each member's HIS listens for its results (reports, critical-value notices) over MLLP.
        listeners = MemberListeners(roster(self.settings.data_dir))
        self._thread(listeners.run, "demo-member-listeners", self.stop)
        county = build_county(self.settings.data_dir, seed=self.settings.demo_seed, deliver_to=listeners.deliver_to())
        # The county data centre's MLLP listener: every member may send HL7 v2, named by MSH-4.
        mllp = ConnectorConfig(
            name="mllp", kind="mllp", facility_id=self.settings.facility_id,
            options={"senders": {f.id.upper(): {"facility_id": f.id} for f in county.facilities}},
        )
        simulator = CountySimulator(county, rate=self.settings.demo_rate, seed=self.settings.demo_seed)
        simulator.seed_population()
        self._thread(simulator.run, "demo-county", self.stop)
        # The members' pharmacies: stock counted and dispensed, a few villages running low.
        keeper = StockKeeper(county, rate=self.settings.demo_rate, seed=self.settings.demo_seed)
        keeper.seed_stock()
        self._thread(keeper.run, "demo-stock", self.stop)
        assert self.database is not None
        tokens = ensure_demo_tokens(self.database, county, self.settings.data_dir, self.settings.demo_seed)
        print(_token_banner(self.settings, tokens, ensure_demo_accounts(self.database, county)), flush=True)
        # Visits outside the county are only in insurance data: a month's file for a person to import.
        today = datetime.now(ZoneInfo("Asia/Shanghai")).date()  # the county's calendar month
        settlements = write_settlements(self.settings.data_dir / "demo", today, 60, self.settings.demo_seed)
        print(f"County indicators (/indicators): import this month's insurance settlements with `hub indicators "
              f"import-insurance {settlements} --month {today:%Y-%m}` or on the page.\n", flush=True)
        # ECG carts and DR/CT machines: STOW-RS for members, the inbox for the county hospital; a few
        # studies a minute (each ECG is measured on arrival).
        local = self.settings.model_copy(update={"public_base_url": None}).public_base  # the devices are on this machine
        fleet = DeviceFleet(county, simulator.ecg_orders, simulator.registered, saved_tokens(self.settings.data_dir),
                            local, self.settings.inbox,
                            rate=min(0.2, max(0.02, self.settings.demo_rate / 100)), seed=self.settings.demo_seed,
                            mllp=("127.0.0.1", self.settings.mllp_port))
        self._thread(fleet.run, "demo-devices", self.stop)
        return mllp, list(county.connector_configs)

    def _start_http(self) -> None:
        assert self.database is not None
        # Push connectors that sit behind HTTP routes (FHIR REST ingest, STOW-RS), by kind.
        pushed = {part.name for part in registered.connector_parts() if part.routers}
        sinks = {rt.config.kind: rt.sink for rt in self.runtime.connectors if rt.config.kind in pushed}
        app = create_app(self.settings, self.database, self.runtime, sinks, self.results)
        config = uvicorn.Config(
            app, host=self.settings.http_host, port=self.settings.http_port, log_level="warning", lifespan="off",
            log_config=None,  # uvicorn's lines go through the hub's handlers, and their masking
        )
        if port_open(self.settings.http_host, self.settings.http_port):
            raise StartupError(
                f"HTTP port {self.settings.http_port} is already in use; is another hub running? (set HUB_HTTP_PORT)"
            )
        self.server = uvicorn.Server(config)
        self._thread(self.server.run, "http")
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.threads[-1].is_alive() or time.monotonic() > deadline:
                raise StartupError(f"the HTTP server did not start on port {self.settings.http_port}")
            time.sleep(0.05)

    def _thread(self, target: object, name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)  # type: ignore[arg-type]
        thread.start()
        self.threads.append(thread)

    # Run and stop ---------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s; stopping", signal.Signals(signum).name)
            self.stop.set()

        signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
        stacks.dump_on_sigusr1()
        log.info("hub running: http://%s:%d/status", self.settings.http_host, self.settings.http_port)
        try:
            while not self.stop.is_set():
                self.stop.wait(0.5)
                if self.supervisor is not None:
                    # A dead broker is restarted; MLLP, HTTP and the outboxes carry on meanwhile.
                    self.supervisor.check(self.stop)
                if self.children is not None:
                    self.children.check()  # from this thread, which started them (their death signal)
        finally:
            self.shutdown()

    def shutdown(self, timeout_s: float = 8.0) -> None:
        self.stop.set()
        if self.server is not None:
            self.server.should_exit = True
        if self.children is not None:
            self.children.terminate()  # they stop while this process's threads do
        deadline = time.monotonic() + timeout_s
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        if self.children is not None:
            self.children.wait(max(deadline, time.monotonic() + 1.0))  # before the broker: their last commits need it
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            log.warning("threads still busy at shutdown (they are daemons and end with the process): %s", stuck)
        for rt in self.runtime.connectors:
            rt.outbox.close()
        if self.runtime.children is not None:
            self.runtime.children.close()
        if self.database is not None:
            self.database.dispose()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
        log.info("hub stopped")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _token_banner(settings: HubSettings, tokens: dict[str, str], users: dict[str, str] | None = None) -> str:
    lines = ["", "Demo county is running. Bearer tokens for this demo (role:facility = token):"]
    lines += [f"  {name:<28} {token}" for name, token in tokens.items()]
    if users:
        lines.append(f"Page accounts (log in at http://{settings.http_host}:{settings.http_port}/login; "
                     "new passwords at every start):")
        lines += [f"  {name:<28} {password}" for name, password in users.items()]
    lines += [
        f"Status page: http://{settings.http_host}:{settings.http_port}/status",
        f"Try: curl -H 'Authorization: Bearer {tokens.get('admin', '...')}' "
        f"http://{settings.http_host}:{settings.http_port}/fhir/Patient",
        "",
    ]
    return "\n".join(lines)
