"""The `hub` command line. Errors are one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from hub.core.config import HubSettings, get_settings
from hub.core.errors import PermanentError
from hub.core.gc_pace import set_pace
from hub.core.masking import install_log_masking

app = typer.Typer(help="County medical community integration hub.", no_args_is_help=True, add_completion=False)
connector_app = typer.Typer(help="Run or dry-run one connector.", no_args_is_help=True)
consumer_app = typer.Typer(help="Run one consumer.", no_args_is_help=True)
dlq_app = typer.Typer(help="Inspect and re-ingest dead letters.", no_args_is_help=True)
db_app = typer.Typer(help="The database's migrations: the core's history and each part's branch.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens for programs: create, list, revoke, rotate.", no_args_is_help=True)
user_app = typer.Typer(help="Accounts of people who log in to the pages.", no_args_is_help=True)
app.add_typer(connector_app, name="connector")
app.add_typer(consumer_app, name="consumer")
app.add_typer(dlq_app, name="dlq")
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
app.add_typer(user_app, name="user")


# Long work draws progress on stderr when a person watches (hub/core/progress.py); --quiet never does.
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress on stderr (it is off anyway when stderr is "
                                     "not a terminal).")]


class CliError(PermanentError):
    """A problem the user can fix; printed as one line."""


def _settings() -> HubSettings:
    settings = get_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("kafka").setLevel(logging.ERROR)  # its reconnect chatter drowns the hub's own lines
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # the benchmark's client logs every request
    install_log_masking()  # resident IDs and phone numbers never reach a log line
    set_pace(settings.gc_young_threshold)
    return settings


def _database(settings: HubSettings) -> Any:
    from hub.app import parts as registered
    from hub.core.db import Database

    database = Database(settings.db_url)
    if not database.reachable():
        raise CliError(f"database {settings.db_url.split('@')[-1]} is not reachable; check HUB_DATABASE_URL")
    registered.migrate(database)
    return database


def _part_context() -> Any:
    """What a part's command gets (`ctx.obj()`): settings, the migrated database, the services and the
    results outbox (events a command adds wait there for the running hub's relay)."""
    from hub.app import parts as registered
    from hub.core.parts import PartContext
    from hub.core.results import ResultOutbox
    from hub.core.schema_registry import make_registry
    from hub.core.serialization import EventCodec

    settings = _settings()
    database = _database(settings)
    codec = EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
    return PartContext(settings, database, registered.services(), ResultOutbox(database, codec, settings))


@app.callback()
def _main(ctx: typer.Context) -> None:
    """County medical community integration hub."""
    ctx.obj = _part_context  # called by a part's command when it needs it, so --help stays quick


# hub run / broker ----------------------------------------------------------------------------------


@app.command()
def run(
    demo: Annotated[bool, typer.Option("--demo", help="Also run a simulated county feeding the connectors.")] = False,
    connector: Annotated[
        list[Path] | None, typer.Option("--connector", "-c", help="A connector config file (repeatable).")
    ] = None,
    processes: Annotated[
        bool | None, typer.Option("--processes/--threads", help="Each consumer and the pull connectors in child "
                                  "processes, restarted when they die (default: HUB_PROCESSES).", show_default=False),
    ] = None,
) -> None:
    """Run the whole hub: broker (embedded unless HUB_KAFKA_BOOTSTRAP), consumers, connectors, HTTP."""
    from hub.app.runner import Hub

    settings = _settings()
    if processes is not None:
        settings = settings.model_copy(update={"processes": "processes" if processes else "threads"})
    hub = Hub(settings, demo=demo, connector_files=list(connector or []))
    hub.start()
    hub.serve_forever()


@app.command()
def broker(
    port: Annotated[int | None, typer.Option(help="Port; default HUB_BROKER_PORT.")] = None,
) -> None:
    """Run the embedded Kafka-compatible broker (Tansu) alone until Ctrl-C."""
    import signal

    from hub.core.broker import EmbeddedBroker

    settings = _settings()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port or settings.broker_port, host=settings.broker_host) as running:
        typer.echo(f"broker ready on {running.bootstrap} (memory only); Ctrl-C stops it")
        while not stop.is_set() and running.alive:
            stop.wait(0.5)


def _serve_metrics(settings: HubSettings) -> Any:
    """/metrics for a process without the HTTP API (HUB_METRICS_PORT), so Prometheus sees its outbox or lag.
    Returns the server (None when unset); it runs in a daemon thread until the process ends."""
    if settings.metrics_port is None:
        return None
    from prometheus_client import start_http_server

    try:
        server, _thread = start_http_server(settings.metrics_port, addr=settings.http_host)
        return server
    except OSError as exc:
        raise CliError(f"cannot serve /metrics on {settings.http_host}:{settings.metrics_port} ({exc.strerror}); "
                       "set HUB_METRICS_PORT to a free port") from None


# hub connector ------------------------------------------------------------------------------------


@connector_app.command("run")
def connector_run(
    config: Annotated[list[Path], typer.Argument(help="Connector YAML file (several: they share this process).")],
) -> None:
    """Run connectors and their outbox relays until Ctrl-C."""
    import signal

    from hub.app import parts as registered
    from hub.core.connector_runtime import ConnectorRuntime

    settings = _settings()
    configs = [registered.load_connector_config(path) for path in config]
    runtimes = [ConnectorRuntime.build(cfg, settings, registered.connector_class(cfg.kind)) for cfg in configs]
    _serve_metrics(settings)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [thread for runtime in runtimes for thread in runtime.threads(stop)]
    for thread in threads:
        thread.start()
    while not stop.is_set():
        stop.wait(0.5)
    for thread in threads:
        thread.join(8)
    for runtime in runtimes:
        runtime.outbox.close()


@connector_app.command("backfill")
def connector_backfill(
    config: Annotated[Path, typer.Argument(help="The live connector's YAML file (same mapping, same outbox name).")],
    since: Annotated[str | None, typer.Option(help="Only rows changed at or after this ISO date or time.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per read and outbox transaction.")] = 5000,
    workers: Annotated[int, typer.Option(min=0, help="Processes that map, validate and encode (0: none, "
                                         "all in this one).")] = 0,
    nice: Annotated[int, typer.Option(min=0, max=19, help="CPU niceness of this process: below live work.")] = 10,
    quiet: Quiet = False,
) -> None:
    """Onboard a member's history: map, validate and publish every row up to where the live connector
    starts, below live traffic. Ctrl-C or a kill stops it; run it again to resume where it stopped."""
    import os
    import signal

    from hub.app import parts as registered
    from hub.core.backfill import Backfill
    from hub.core.progress import ProgressBar, wanted

    settings = _settings()
    cfg = registered.load_connector_config(config)
    if since is not None:
        try:
            datetime.fromisoformat(since)
        except ValueError:
            raise CliError(f"--since {since!r} is not an ISO date or time, e.g. 2026-01-01 or 2026-01-01T08:00") from None
    if nice:
        os.nice(nice)  # the live connector and the consumers on this machine come first
    backfill = Backfill(cfg, settings, registered.connector_class(cfg.kind), batch_size=batch_size, since=since,
                        workers=workers)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    shown = wanted(settings.progress, quiet)
    with ProgressBar(f"backfill {cfg.name}", backfill.remaining(), shown, unit="rows") as bar:
        report = backfill.run(stop, bar.advance)
    backfill.close()
    typer.echo(
        f"backfill {cfg.name}: {report.read} rows read, {report.accepted} events new, {report.duplicates} already "
        f"there, {report.rejected} dead letters in {report.seconds:.0f} s; "
        + ("complete" if report.remaining == 0 and report.unpublished == 0 else
           f"stopped with {report.remaining} rows to read and {report.unpublished} events to publish: run it again "
           "to resume")
    )
    if report.remaining or report.unpublished:
        raise typer.Exit(1)


@connector_app.command("check")
def connector_check(
    config: Annotated[Path, typer.Argument(help="Connector YAML file.")],
    sample: Annotated[Path | None, typer.Option(help="Sample input instead of the live source.")] = None,
) -> None:
    """Dry run: print the FHIR the connector would publish and every mapping problem. Publishes nothing."""
    from hub.app import parts as registered
    from hub.core.fhir import FhirValidationError, validate_resource

    settings = _settings()
    cfg = registered.load_connector_config(config)
    connector = registered.connector_class(cfg.kind)(cfg, settings)
    result = connector.check(sample)
    problems = 0
    for event in result.events:
        typer.echo(f"# {event.event_type} {event.resource_type}/{event.resource.get('id')} key={event.patient_key}")
        for resource in (event.resource, *event.related):
            try:
                validate_resource(resource)
            except FhirValidationError as exc:
                problems += 1
                typer.echo(f"! invalid FHIR: {exc}")
        typer.echo(json.dumps(event.resource, ensure_ascii=False, indent=2))
        for flag in event.flags:
            typer.echo(f"! flag: {flag}")
    for rejected in result.rejected:
        problems += 1
        typer.echo(f"! rejected at {rejected.position} ({rejected.stage}): {rejected.reason}")
    for note in result.notes:
        typer.echo(f"! note: {note}")
    typer.echo(f"{len(result.events)} events, {problems} problems, {len(result.notes)} notes")
    connector.close()
    if problems:
        raise typer.Exit(1)


# hub consumer -------------------------------------------------------------------------------------


@consumer_app.command("run")
def consumer_run(
    name: Annotated[str, typer.Argument(help="Consumer name, e.g. record_store.")],
    connector: Annotated[
        list[Path] | None,
        typer.Option("--connector", "-c", help="A member's connector config file, for what the consumer needs "
                     "from it (e.g. `deliver_to` for delivery); repeatable."),
    ] = None,
) -> None:
    """Run one consumer until Ctrl-C (a second process of the same name shares the partitions)."""
    import dataclasses
    import signal

    from hub.app import parts as registered
    from hub.app import stacks
    from hub.core import kafka_io
    from hub.core.consuming import ConsumerRunner
    from hub.core.schema_registry import make_registry
    from hub.core.serialization import EventCodec

    settings = _settings()
    try:
        cls = registered.consumer_class(name)
    except KeyError as exc:
        raise CliError(str(exc.args[0])) from None
    configs = tuple(registered.load_connector_config(path) for path in connector or [])
    consumer = cls(settings)
    context = dataclasses.replace(_part_context(), connector_configs=configs)
    consumer.bind(context)  # before Kafka: a consumer that cannot work says so first
    codec = EventCodec(make_registry(settings.schema_registry_url), settings.topic_prefix)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stacks.dump_on_sigusr1()
    kafka_io.ensure_topics(settings)
    _serve_metrics(settings)
    # Events this consumer adds to the results outbox leave through a relay of its own process.
    threading.Thread(target=context.results.relay().run, args=(stop,), name="relay-results", daemon=True).start()
    ConsumerRunner(consumer, settings, context.database, codec).run(stop)


# hub status ---------------------------------------------------------------------------------------


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Throughput, consumer lag and dead letters of the hub configured here."""
    from dataclasses import asdict

    from hub.app.status import collect_status, format_status

    settings = _settings()
    report = collect_status(settings, _database(settings), None)
    typer.echo(json.dumps(asdict(report), default=str, ensure_ascii=False, indent=2) if as_json else format_status(report))


# hub dlq ------------------------------------------------------------------------------------------


@dlq_app.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    origin: Annotated[str | None, typer.Option(help="Only this connector or consumer.")] = None,
) -> None:
    """List dead letters, newest first."""
    from hub.app.dead_letters import list_dead_letters

    settings = _settings()
    rows = list_dead_letters(_database(settings), limit=limit, origin=origin)
    for row in rows:
        replayed = " replayed" if row.replayed_at else ""
        typer.echo(f"{row.id}  {row.created_at:%Y-%m-%d %H:%M:%S}  {row.origin:<20} {row.stage:<9}{replayed}  {row.reason[:100]}")
    typer.echo(f"{len(rows)} dead letters")


@dlq_app.command("show")
def dlq_show(dead_letter_id: Annotated[str, typer.Argument(help="Dead letter id (from `hub dlq list`).")]) -> None:
    """Show one dead letter: reason, origin, headers and payload."""
    from hub.app.dead_letters import get_dead_letter

    settings = _settings()
    row = get_dead_letter(_database(settings), dead_letter_id)
    if row is None:
        raise CliError(f"no dead letter {dead_letter_id}; `hub dlq list` shows the ids")
    for name in ("id", "origin", "stage", "reason", "exception", "facility_id", "origin_topic", "origin_partition",
                 "origin_offset", "position", "quarantine", "created_at", "replayed_at"):
        typer.echo(f"{name:>17}: {getattr(row, name)}")
    typer.echo(f"{'headers':>17}: {row.headers}")
    typer.echo("payload:")
    typer.echo(row.payload.decode("utf-8", "backslashreplace"))


@dlq_app.command("replay")
def dlq_replay(
    dead_letter_id: Annotated[list[str] | None, typer.Argument(help="Dead letter ids.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter not yet replayed.")] = False,
    origin: Annotated[str | None, typer.Option(help="With --all: only this origin.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Connector config, to re-map dead letters a connector rejected.")
    ] = None,
    quiet: Quiet = False,
) -> None:
    """Re-ingest dead letters after fixing the cause: consumer failures are republished to their
    topic; connector rejections are mapped again by the connector (give --config)."""
    from hub.app.dead_letters import replay_dead_letters
    from hub.core.progress import ProgressBar, wanted

    settings = _settings()
    if not dead_letter_id and not all_:
        raise CliError("name dead letter ids, or use --all")
    with ProgressBar("replaying dead letters", None, wanted(settings.progress, quiet), unit="letters") as bar:
        report = replay_dead_letters(settings, _database(settings), dead_letter_id or [], all_, origin, config,
                                     on_total=bar.total, on_progress=bar.advance)
    for line in report.lines:
        typer.echo(line)
    typer.echo(f"{report.replayed} replayed, {report.failed} still failing")
    if report.failed:
        raise typer.Exit(1)


# hub replay ---------------------------------------------------------------------------------------


@app.command()
def replay(
    config: Annotated[Path, typer.Argument(help="The connector's YAML file (names its outbox).")],
    since: Annotated[str | None, typer.Option(help="ISO time; default: everything retained.")] = None,
    topic: Annotated[str | None, typer.Option(help="Only events of this topic.")] = None,
    quiet: Quiet = False,
) -> None:
    """Republish events from a connector's outbox (consumers skip those they already applied)."""
    from hub.app import parts as registered
    from hub.core.outbox import Outbox, OutboxRelay
    from hub.core.progress import ProgressBar, wanted

    settings = _settings()
    cfg = registered.load_connector_config(config)
    path = settings.outbox_path(cfg.name)
    if not path.exists():
        raise CliError(f"connector {cfg.name} has no outbox at {path}; has it run with this HUB_DATA_DIR?")
    try:
        since_ts = datetime.fromisoformat(since).timestamp() if since else None
    except ValueError:
        raise CliError(f"--since {since!r} is not an ISO date or time, e.g. 2026-11-23T08:00") from None
    outbox = Outbox(path, cfg.name)
    marked = outbox.mark_for_replay(since_ts, topic)
    relay = OutboxRelay(outbox, settings)
    with ProgressBar(f"republishing {cfg.name}", outbox.backlog(), wanted(settings.progress, quiet)) as bar:
        while outbox.backlog():
            bar.advance(relay.publish_pending())
    relay.close()
    typer.echo(f"republished {bar.done} events ({marked} marked) from {cfg.name}")


@app.command()
def bench(
    events: Annotated[int, typer.Option(help="Events through the whole path, and on the consumers' pre-filled topics.")] = 20000,
    stages: Annotated[
        str, typer.Option(help="Comma-separated stages to run (default all): e2e, latency, transport, ecg, connector, "
                          "relay, record_store, reading, pharmacy, ecg_consumer, reads_under_load, reading_worklist, mpi, "
                          "pharmacy_review, soak.")
    ] = "all",
    connector_rows: Annotated[int, typer.Option(help="HIS rows the one-connector stage reads.")] = 20000,
    read_seconds: Annotated[float, typer.Option(help="How long the reads under write load run.")] = 30.0,
    soak_s: Annotated[float, typer.Option("--soak-s", help="Seconds of the `hub run --demo` memory soak (0: skip it).")] = 600.0,
    mpi_indexed: Annotated[
        int, typer.Option(help="Residents already in the patient index for the matching benchmark (0: skip it).")
    ] = 200_000,
    pharmacy_patients: Annotated[
        int, typer.Option(help="People with a medication history for the pharmacy review benchmark (0: skip it).")
    ] = 200_000,
    pharmacy_prescriptions: Annotated[
        int, typer.Option(help="New prescriptions the pharmacy consumer reviews in that benchmark.")
    ] = 2000,
    only_pharmacy: Annotated[
        bool, typer.Option("--only-pharmacy", help="Run only the pharmacy review benchmark.")
    ] = False,
) -> None:
    """Benchmark: whole path and bare transport on the same broker, each stage alone (one connector, its
    relay, each consumer, reads under load), the patient index and $everything at county size, the
    pharmacy's prescription review and a memory soak of `hub run --demo`; the last line is JSON."""
    from hub.tools.bench import STAGES, run_benchmark
    from hub.tools.bench_mpi import run_mpi_benchmark
    from hub.tools.bench_pharmacy import run_pharmacy_benchmark

    settings = _settings()
    chosen = set(STAGES) if stages.strip() == "all" else {s.strip() for s in stages.split(",") if s.strip()}
    unknown = sorted(chosen - set(STAGES))
    if unknown or not chosen:
        raise CliError(f"unknown stage {', '.join(unknown) or '(none)'}; the stages are {', '.join(STAGES)}")
    if only_pharmacy:
        chosen = {"pharmacy_review"}
    if only_pharmacy and pharmacy_patients <= 0:
        raise CliError("--only-pharmacy needs --pharmacy-patients above 0")
    if pharmacy_prescriptions < 1:
        raise CliError("--pharmacy-prescriptions must be at least 1")
    if events < 1 or connector_rows < 1:
        raise CliError("--events and --connector-rows must be at least 1")
    result: dict[str, Any] = {}
    if chosen - {"mpi", "pharmacy_review"}:
        result = run_benchmark(settings, events=events, stages=chosen, connector_rows=connector_rows,
                               read_seconds=read_seconds, soak_s=soak_s)
        typer.echo(json.dumps(result))
    if "mpi" in chosen and mpi_indexed > 0:
        result |= run_mpi_benchmark(settings, indexed=mpi_indexed)
        typer.echo(json.dumps(result))
    if "pharmacy_review" in chosen and pharmacy_patients > 0:
        result |= run_pharmacy_benchmark(settings, patients=pharmacy_patients, prescriptions=pharmacy_prescriptions)
        typer.echo(json.dumps(result))


# hub mpi evaluate (a tool, in the record store's verb) ---------------------------------------------------------------------------------------


def mpi_evaluate(
    records: Annotated[int, typer.Option(help="Labelled synthetic registrations to match (generated sets).")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the generator (the same seed gives the same set).")] = 7,
    dataset: Annotated[str, typer.Option(help="Generated set: county (Chinese, the default) or latin.")] = "county",
    input_file: Annotated[Path | None, typer.Option("--input", help="A labelled CSV, FHIR Bundle or NDJSON file "
                                                    "instead of a generated set (see hub/tools/labelled_sets.py).")] = None,
    rules: Annotated[Path | None, typer.Option(help="Matching rules file (default: HUB_MATCH_RULES).")] = None,
    label_column: Annotated[str, typer.Option(help="CSV column naming the person.")] = "person",
    label_system: Annotated[str, typer.Option(help="FHIR identifier system naming the person.")] = "urn:hub:label",
    quiet: Quiet = False,
) -> None:
    """Measure precision, recall and the review share of the patient index on a labelled set.

    Runs the real record store (with --rules or HUB_MATCH_RULES) on a fresh temporary SQLite
    database; the labels stay out of the records. The last line is JSON."""
    import tempfile

    from hub.app import parts as registered
    from hub.core.db import Database
    from hub.core.progress import ProgressBar, wanted
    from hub.tools.demo import latin_dataset
    from hub.tools.demo.matching_dataset import labelled_set
    from hub.tools.labelled_sets import read
    from hub.tools.mpi_estimation import rules_version
    from hub.tools.mpi_evaluation import evaluate_set

    settings = _settings()
    if rules is not None:
        settings = settings.model_copy(update={"match_rules": rules})
    if records < 2:
        raise CliError("--records must be at least 2")
    if dataset not in ("county", "latin"):
        raise CliError(f"--dataset must be county or latin, not {dataset!r}")
    with tempfile.TemporaryDirectory(prefix="hub-mpi-eval-") as tmp:
        if input_file is not None:
            data = read(input_file, label_column, label_system)
        elif dataset == "latin":
            latin_dataset.write_csv(Path(tmp) / "latin.csv", records, seed)
            data = read(Path(tmp) / "latin.csv")
        else:
            data = labelled_set(records, seed)
        database = Database(f"sqlite:///{Path(tmp) / 'eval.db'}")
        registered.migrate(database)
        with ProgressBar("loading registrations", len(data.events), wanted(settings.progress, quiet),
                         unit="records") as bar:
            result = evaluate_set(database, data, registered.consumer_class("record_store")(settings), on_progress=bar.advance)
        database.dispose()
    version = rules_version(settings.match_rules)
    typer.echo(f"rules {version} ({settings.match_rules or 'built-in rules.yaml'})")
    typer.echo(result.report())
    typer.echo(json.dumps({"records": result.records, "precision": round(result.precision, 4),
                           "recall_links": round(result.recall_links, 4),
                           "recall_links_and_reviews": round(result.recall_with_reviews, 4),
                           "open_reviews": result.reviews, "review_share": round(result.review_share, 4),
                           "rules_version": version}))


def mpi_estimate(
    input_file: Annotated[Path, typer.Argument(help="Unlabelled records: CSV, FHIR Bundle or NDJSON of Patients.")],
    out: Annotated[Path, typer.Option(help="Where to write the new rules file (never over the source).")],
    rules: Annotated[Path | None, typer.Option(help="Field rules to start from (default: HUB_MATCH_RULES).")] = None,
    max_pairs: Annotated[int, typer.Option(help="Most blocked pairs to learn from.")] = 200_000,
) -> None:
    """Estimate m and u of every comparison level from unlabelled records (expectation-maximisation)
    and write them as a new rules file for a person to read and adopt (HUB_MATCH_RULES=<out>)."""
    from hub.tools.mpi_estimation import run_estimate

    try:
        typer.echo(run_estimate(input_file, rules or _settings().match_rules, out, max_pairs))
    except ValueError as exc:
        raise CliError(str(exc)) from None


def mpi_dataset(
    out: Annotated[Path, typer.Argument(help="CSV file to write.")],
    records: Annotated[int, typer.Option(help="Registrations to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 11,
) -> None:
    """Write the generated labelled Latin-script set (names, street addresses, an insurance number) as CSV."""
    from hub.tools.demo import latin_dataset

    typer.echo(f"wrote {latin_dataset.write_csv(out, records, seed)} records to {out}")


# hub db -------------------------------------------------------------------------------------------


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Upgrade the database to the core's head and every registered part's head (the hub also does
    this when it starts)."""
    _database(_settings())
    typer.echo("database upgraded to every head")


@db_app.command("heads")
def db_heads() -> None:
    """The head revision of the core and of each part with tables, and where the database is."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from hub.app import parts as registered
    from hub.core.db import Database
    from hub.core.db.migrate import alembic_config

    settings = _settings()
    parts = registered.all_parts()
    script = ScriptDirectory.from_config(alembic_config(None, registered.migration_locations(parts)))
    database = Database(settings.db_url)
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    applied = {rev.revision for rev in script.iterate_revisions(current, "base")} if current else set()
    for label in ["core", *(p.name for p in parts if p.migrations)]:
        head = script.get_revision(f"{label}@head")
        assert head is not None
        state = "applied" if head.revision in applied else "not applied"
        typer.echo(f"{label:<16} {head.revision:<10} {state:<12} {(head.doc or '').splitlines()[0]}")
    database.dispose()


@db_app.command("revision")
def db_revision(
    part: Annotated[str, typer.Argument(help="The part whose branch gets the migration (e.g. record_store), or core.")],
    message: Annotated[str, typer.Option("--message", "-m", help="What the migration does.")],
    autogenerate: Annotated[bool, typer.Option(help="Compare the models with the database (HUB_DATABASE_URL).")] = True,
) -> None:
    """Write a new migration on a part's own branch (in its folder) or on the core's history."""
    from alembic import command

    from hub.app import parts as registered
    from hub.core.db import Database
    from hub.core.db.migrate import MIGRATIONS, alembic_config

    settings = _settings()
    parts = registered.all_parts()
    owner = {p.name: p for p in parts if p.migrations}.get(part)
    if owner is None and part != "core":
        with_tables = ", ".join(p.name for p in parts if p.migrations)
        raise CliError(f"{part!r} has no migrations folder; parts with tables: {with_tables}, or core")
    database = Database(settings.db_url)
    config = alembic_config(database.engine, registered.migration_locations(parts), registered.model_modules(parts))
    folder = owner.migrations if owner is not None and owner.migrations else MIGRATIONS / "versions"
    command.revision(config, message, autogenerate=autogenerate, head=f"{part}@head", version_path=str(folder))
    database.dispose()


# hub token / hub user -----------------------------------------------------------------------------

Role = Annotated[str, typer.Option(help="connector, clinician, reader, pharmacist or admin.")]
Facility = Annotated[str | None, typer.Option(help="The member it acts for (required for connectors).")]
Expiry = Annotated[str | None, typer.Option("--expires-in", help="Lifetime, e.g. 90d or 12h (default: none).")]


@token_app.command("create")
def token_create(
    role: Role,
    name: Annotated[str, typer.Option(help="What or who it is for, e.g. th01-his.")],
    facility: Facility = None,
    expires_in: Expiry = None,
) -> None:
    """Create a token and print it once (only its hash is kept)."""
    from hub.app.api import tokens

    settings = _settings()
    expiry = tokens.parse_duration(expires_in) if expires_in else None
    with _database(settings).transaction() as session:
        secret, info = tokens.create(session, name, role, facility, expiry)
    typer.echo(info.line())
    typer.echo(f"token (shown once; store it now): {secret}")


@token_app.command("list")
def token_list() -> None:
    """List tokens: id, name, role, facility, expiry, state. Never the tokens themselves."""
    from hub.app.api import tokens

    settings = _settings()
    with _database(settings).sessions() as session:
        rows = tokens.listing(session)
    for info in rows:
        typer.echo(info.line())
    typer.echo(f"{len(rows)} tokens")


@token_app.command("revoke")
def token_revoke(id_or_name: Annotated[str, typer.Argument(help="A token id (from `hub token list`) or a name.")]) -> None:
    """Revoke a token by id, or every active token of a name (the hub stops honouring it within
    HUB_TOKEN_CACHE_S seconds)."""
    from hub.app.api import tokens

    settings = _settings()
    with _database(settings).transaction() as session:
        done = tokens.revoke(session, id_or_name)
    for info in done:
        typer.echo(f"revoked {info.id} {info.name}")


@token_app.command("rotate")
def token_rotate(
    id_or_name: Annotated[str, typer.Argument(help="A token id or a name.")], expires_in: Expiry = None
) -> None:
    """Replace a token: a new one with the same name, role and facility, printed once; the old one is revoked."""
    from hub.app.api import tokens

    settings = _settings()
    expiry = tokens.parse_duration(expires_in) if expires_in else None
    with _database(settings).transaction() as session:
        secret, info, revoked = tokens.rotate(session, id_or_name, expiry)
    for old in revoked:
        typer.echo(f"revoked {old.id} {old.name}")
    typer.echo(info.line())
    typer.echo(f"token (shown once; store it now): {secret}")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input.")]


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument(help="The login name.")], role: Role, facility: Facility = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Create an account (asks for its password; only an argon2 hash is kept)."""
    from hub.app.api import accounts

    settings = _settings()
    password = _password(password_stdin)
    with _database(settings).transaction() as session:
        accounts.create_user(session, username, password, role, facility)
    typer.echo(f"created user {username} ({role}{', ' + facility if facility else ''})")


@user_app.command("list")
def user_list() -> None:
    """List accounts: name, role, facility, state."""
    from sqlalchemy import select

    from hub.core.db.models import UserAccount

    settings = _settings()
    with _database(settings).sessions() as session:
        users = session.scalars(select(UserAccount).order_by(UserAccount.username)).all()
    for user in users:
        state = "disabled" if user.disabled_at else "active"
        typer.echo(f"{user.username:<24} {user.role:<10} {user.facility_id or '-':<8} {state}")
    typer.echo(f"{len(users)} users")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="The login name.")]) -> None:
    """Disable an account and end its sessions (`hub user passwd` enables it again)."""
    from hub.app.api import accounts

    settings = _settings()
    with _database(settings).transaction() as session:
        accounts.disable_user(session, username)
    typer.echo(f"disabled user {username}; its sessions are ended")


@user_app.command("passwd")
def user_passwd(username: Annotated[str, typer.Argument(help="The login name.")],
                password_stdin: PasswordStdin = False) -> None:
    """Set a new password (ends the account's sessions, enables a disabled account)."""
    from hub.app.api import accounts

    settings = _settings()
    password = _password(password_stdin)
    with _database(settings).transaction() as session:
        accounts.set_password(session, username, password)
    typer.echo(f"new password set for {username}; its sessions are ended")


def _mount_parts() -> None:
    """Each part's verbs (`Part.cli`) as `hub <verb> ...`; tools that belong under a part's verb join it."""
    from hub.app import parts as registered

    tools = {"mpi": {"evaluate": mpi_evaluate, "estimate": mpi_estimate, "dataset": mpi_dataset}}
    for part in registered.all_parts():
        if part.cli is None:
            continue
        verb, target = part.cli
        group = registered.load(target)
        for name, command in tools.get(verb, {}).items():
            group.command(name)(command)
        app.add_typer(group, name=verb)


_mount_parts()


def main() -> None:
    from pydantic import ValidationError

    from hub.core.broker import StartupError
    from hub.core.connector import ConnectorConfigError
    from hub.core.kafka_io import KafkaError

    try:
        code = app(standalone_mode=False)  # without standalone mode, click returns Exit codes
        if isinstance(code, int) and code:
            sys.exit(code)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        setting = f"HUB_{where.upper()}" if exc.title == "HubSettings" else where
        if not where:  # a rule across several settings names them in its message
            typer.echo(f"hub: error: settings: {first['msg'].removeprefix('Value error, ')}", err=True)
        else:
            typer.echo(f"hub: error: setting {setting}: {first['msg']} (got {first.get('input')!r})", err=True)
        sys.exit(2)
    except (CliError, ConnectorConfigError, StartupError, KafkaError, ValueError, OSError) as exc:
        typer.echo(f"hub: error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # click's usage errors and the like
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
