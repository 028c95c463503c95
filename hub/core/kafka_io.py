"""The one module that imports kafka-python: producer, consumer and admin with the hub's settings.

Settings are chosen to be right on a production Apache Kafka cluster (acks=all, idempotence)
and quick on the embedded broker (short session timeouts so a group joins in seconds).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterable
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import (
    AuthorizationError,
    KafkaError,
    TopicAlreadyExistsError,
    UnknownTopicOrPartitionError,
    for_code,
)
from kafka.structs import OffsetAndMetadata

from hub.core.config import HubSettings
from hub.core.errors import PermanentError
from hub.core.topics import EPOCH, TopicSpec, all_topics

log = logging.getLogger(__name__)


class TopicMismatchError(PermanentError, KafkaError):
    """A topic exists with other partitions than the catalogue names: keys would land elsewhere."""

    retriable = False


__all__ = [
    "KafkaError",
    "ConsumerRebalanceListener",
    "OffsetAndMetadata",
    "TopicMismatchError",
    "TopicPartition",
    "admin",
    "close_quietly",
    "broker_reachable",
    "ensure_topics",
    "consumer",
    "producer",
    "topic_id",
    "group_offsets",
    "probe",
]


def _common(settings: HubSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
        "client_id": "county-hub",
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    if settings.kafka_ssl_cafile:
        options["ssl_cafile"] = settings.kafka_ssl_cafile
    if settings.kafka_ssl_certfile:  # mutual TLS: the hub's own client certificate
        options["ssl_certfile"] = settings.kafka_ssl_certfile
        options["ssl_keyfile"] = settings.kafka_ssl_keyfile
        if settings.kafka_ssl_password is not None:
            options["ssl_password"] = settings.kafka_ssl_password.get_secret_value()
    if settings.kafka_ssl_crlfile:
        options["ssl_crlfile"] = settings.kafka_ssl_crlfile
    options["ssl_check_hostname"] = settings.kafka_ssl_check_hostname
    return options


def close_quietly(client: Any, what: str, **options: Any) -> None:
    """Closes a Kafka client that may be talking to a broker already gone; a failure is only logged,
    since the caller is dropping the client anyway (a broker error, a new epoch, shutdown)."""
    if client is None:
        return
    try:
        client.close(**options)
    except Exception:  # noqa: BLE001
        log.debug("%s close failed", what, exc_info=True)


def producer(settings: HubSettings, **overrides: Any) -> KafkaProducer:
    options = {
        **_common(settings),
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,  # idempotence keeps order up to 5
        "linger_ms": 5,
        "max_request_size": settings.max_event_bytes + 64 * 1024,
        "retries": 5,
        "request_timeout_ms": 15_000,
        "max_block_ms": 10_000,
        "reconnect_backoff_max_ms": 2_000,
        # A topic a producer writes before the hub created it would get the broker's default partition
        # count, and keys would be spread differently from the catalogue; the hub creates topics itself.
        "allow_auto_create_topics": False,
        **overrides,
    }
    return KafkaProducer(**options)


def consumer(settings: HubSettings, group_id: str | None, topics: Iterable[str] = (),
             listener: ConsumerRebalanceListener | None = None, **overrides: Any) -> KafkaConsumer:
    options = {
        **_common(settings),
        "group_id": group_id,
        "enable_auto_commit": False,  # offsets are committed after the database commit
        "auto_offset_reset": "earliest",
        "session_timeout_ms": 6_000,
        "heartbeat_interval_ms": 1_000,
        "max_poll_records": settings.consumer_batch_size,
        "fetch_max_bytes": 16 * 1024 * 1024,
        "max_partition_fetch_bytes": max(1024 * 1024, settings.max_event_bytes + 64 * 1024),
        "reconnect_backoff_max_ms": 2_000,
        "request_timeout_ms": 30_000,
        "allow_auto_create_topics": False,  # see producer(): only ensure_topics creates topics
        **overrides,
    }
    topics = list(topics)
    if topics:
        # Some brokers (Tansu) create a topic a consumer merely asks about, whatever the client says:
        # make sure the catalogue's topics exist, with their partition counts, before subscribing.
        ensure_topics(settings, [spec for spec in all_topics() if spec.topic(settings) in topics])
    client = KafkaConsumer(**options)
    if topics:
        client.subscribe(topics, listener=listener)
    return client


def admin(settings: HubSettings, **overrides: Any) -> KafkaAdminClient:
    return KafkaAdminClient(**{**_common(settings), "request_timeout_ms": 10_000, **overrides})


def broker_reachable(settings: HubSettings, timeout_s: float = 3.0) -> bool:
    if not bootstrap_port_open(settings, timeout_s):
        return False  # fail fast: the admin client would wait for its full bootstrap timeout
    try:
        client = admin(settings, request_timeout_ms=int(timeout_s * 1000))
    except Exception:  # noqa: BLE001 - any failure to connect means "not reachable"
        return False
    try:
        client.list_topics()
        return True
    except Exception:  # noqa: BLE001
        return False
    finally:
        client.close()


def bootstrap_port_open(settings: HubSettings, timeout_s: float = 3.0) -> bool:
    """Whether some bootstrap server accepts a TCP connection (not that it speaks Kafka)."""
    return any(_port_open(server, timeout_s) for server in settings.bootstrap.split(","))


def _port_open(server: str, timeout_s: float) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


# The cluster id of the hub's own memory-only broker (`hub broker`, or the one `hub run` embeds).
MEMORY_CLUSTER_ID = "county-hub-memory"


def ensure_topics(settings: HubSettings, specs: Iterable[TopicSpec] | None = None) -> list[str]:
    """Creates missing topics with their catalogue partition counts and checks those that exist;
    returns the names created. Raises TopicMismatchError when a topic has other partition counts
    (on the hub's own memory broker such topics are rebuilt instead, see _rebuild)."""
    chosen = list(specs or all_topics())
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        created = [spec.topic(settings) for spec in chosen if spec.topic(settings) not in existing]
        for spec in chosen:  # one by one: a concurrent creator must not fail the others
            if spec.topic(settings) not in existing:
                _create(client, settings, spec)
        if created:
            log.info("created topics: %s", ", ".join(created))
        wrong = _wrong_partitions(client, settings, chosen)
        if wrong and memory_broker(client):
            _rebuild(client, settings, [spec for spec in chosen if spec.topic(settings) in wrong])
            wrong = _wrong_partitions(client, settings, chosen)
        if wrong:
            raise TopicMismatchError(
                "topics exist with the wrong partition counts (" + "; ".join(wrong.values()) + "); a client "
                "created them with the broker's defaults: recreate them with the catalogue's counts (README, "
                "Topics) and set auto.create.topics.enable=false on the cluster; the outboxes keep every event"
            )
        return created
    finally:
        client.close()


def _create(client: KafkaAdminClient, settings: HubSettings, spec: TopicSpec) -> None:
    configs: dict[str, str] = {}
    if settings.kafka_min_insync_replicas:
        configs["min.insync.replicas"] = str(settings.kafka_min_insync_replicas)
    try:
        client.create_topics(
            [NewTopic(spec.topic(settings), spec.partitions, settings.kafka_replication_factor, topic_configs=configs)]
        )
    except TopicAlreadyExistsError:
        pass  # a concurrent creator was first
    except AuthorizationError:
        # A member's connector principal may write its topics but neither see nor create the others
        # (deploy/kafka/acls.sh): the data centre's hub creates them. Events for a topic that does not
        # exist yet stay in the outbox until it does.
        log.info("not allowed to create topic %s; the data centre's hub creates it", spec.topic(settings))


def _wrong_partitions(client: KafkaAdminClient, settings: HubSettings, specs: list[TopicSpec]) -> dict[str, str]:
    expected = {spec.topic(settings): spec.partitions for spec in specs}
    wrong: dict[str, str] = {}
    for described in client.describe_topics(list(expected)):
        name = described.get("name")
        if described.get("error_code", 0) != 0 or name not in expected:
            continue
        count = len(described.get("partitions") or ())
        if count != expected[name]:
            wrong[name] = f"{name} has {count} partitions, the catalogue says {expected[name]}"
    return wrong


def memory_broker(client: KafkaAdminClient) -> bool:
    """True for the hub's own memory-only broker, which forgets everything when it stops."""
    try:
        return client.describe_cluster().get("cluster_id") == MEMORY_CLUSTER_ID
    except KafkaError:
        return False


def _rebuild(client: KafkaAdminClient, settings: HubSettings, specs: list[TopicSpec]) -> None:
    """The memory broker creates any topic a client merely asks about, with 4 partitions, and a
    reconnecting client may ask before the hub re-created the catalogue. Nothing on it is durable:
    delete and re-create those topics, and the epoch marker first of all, so every outbox relay sees
    a new epoch and sends everything it retains again (and every consumer reads from the start)."""
    log.warning(
        "the memory broker created %s with its default partition count; re-creating them (outboxes resend)",
        ", ".join(spec.topic(settings) for spec in specs),
    )
    _delete(client, [EPOCH.topic(settings)])
    for spec in specs:  # delete and create at once: a client asking in between would create it again
        _delete(client, [spec.topic(settings)])
        _create(client, settings, spec)
    _create(client, settings, EPOCH)


def _delete(client: KafkaAdminClient, topics: list[str]) -> None:
    try:
        client.delete_topics(topics)
    except KafkaError as exc:
        log.debug("delete %s: %s", topics, exc)


def topic_id(settings: HubSettings, topic: str, client: KafkaAdminClient | None = None) -> str | None:
    """The broker's id for a topic (None: the broker has no such topic); it changes when the topic is
    deleted and created again. Raises KafkaError when the broker cannot say now.
    Pass a long-lived admin `client` to ask often without a new connection each time."""
    own = client is None
    client = client or admin(settings)
    try:
        for described in client.describe_topics([topic]):
            if described.get("name") != topic:
                continue
            code = described.get("error_code", 0)
            if code == 0:
                return str(described.get("topic_id"))
            if code != UnknownTopicOrPartitionError.errno:
                # Not an answer about the topic (leader moving, a busy broker): the caller asks again, and
                # never takes it for a topic rebuilt, which would make consumers read everything again.
                raise for_code(code)(f"the broker could not describe {topic} now")
        return None
    finally:
        if own:
            client.close()


def group_offsets(settings: HubSettings, group_id: str,
                  client: KafkaAdminClient | None = None) -> dict[TopicPartition, int]:
    """A group's committed offsets (the next offset it will apply), per partition it ever committed.
    Pass a long-lived admin `client` to ask often without a new connection each time."""
    own = client is None
    client = client or admin(settings)
    try:
        offsets = client.list_group_offsets(group_id).get(group_id, {})
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        if own:
            client.close()


def probe(settings: HubSettings, **overrides: Any) -> KafkaConsumer:
    """A consumer outside every group, for reading single records by offset (the lag monitor): small
    fetches that come back at once, and never a commit."""
    return KafkaConsumer(**{
        **_common(settings),
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": 20,  # a partition at its end answers empty, with its high watermark, at once
        # At most one record batch per partition (a broker always returns the first batch whole, whatever
        # the limit): the monitor needs one record, and a long backlog must not be fetched and decoded.
        "max_partition_fetch_bytes": 1,
        "request_timeout_ms": 10_000,
        "reconnect_backoff_max_ms": 2_000,
        "allow_auto_create_topics": False,
        **overrides,
    })
