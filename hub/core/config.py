"""The hub's settings: one place, read from HUB_* environment variables or a YAML file."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
_SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI")


class HubSettings(BaseSettings):
    """Every knob of the hub. Environment variables win over the YAML file (HUB_CONFIG)."""

    model_config = SettingsConfigDict(env_prefix="HUB_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...). Unset: the hub starts its embedded broker."
    )
    kafka_security_protocol: str = Field("PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
    kafka_sasl_mechanism: str | None = Field(None, description="SASL mechanism, e.g. SCRAM-SHA-512.")
    kafka_sasl_username: str | None = Field(None, description="SASL user name.")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password.")
    kafka_ssl_cafile: str | None = Field(None, description="CA bundle for TLS to the cluster.")
    kafka_ssl_certfile: str | None = Field(
        None, description="Client certificate (PEM) for mutual TLS to the cluster; needs HUB_KAFKA_SSL_KEYFILE."
    )
    kafka_ssl_keyfile: str | None = Field(None, description="Private key (PEM) of the client certificate.")
    kafka_ssl_password: SecretStr | None = Field(None, description="Password of the client key, if it is encrypted.")
    kafka_ssl_crlfile: str | None = Field(None, description="Certificate revocation list (PEM) to check the cluster against.")
    kafka_ssl_check_hostname: bool = Field(
        True, description="Check that the cluster's certificate names the host connected to."
    )
    kafka_replication_factor: int = Field(
        1, description="Replication factor for topics the hub creates (3 on a production cluster)."
    )
    kafka_min_insync_replicas: int | None = Field(
        None, description="min.insync.replicas set on created topics (2 on a production cluster)."
    )
    topic_prefix: str = Field("", description="Prefix for every topic name, to share a cluster between counties.")
    schema_registry_url: str | None = Field(
        None, description="Confluent-compatible schema registry. Unset: ids come from the schema files."
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the shared database. Unset: SQLite under HUB_DATA_DIR."
    )
    data_dir: Path = Field(Path("./var"), description="Where SQLite files, outboxes and blobs live.")
    http_host: str = Field("127.0.0.1", description="Address the HTTP API binds to.")
    http_port: int = Field(8080, description="HTTP API and pages.")
    public_base_url: str | None = Field(
        None, description="The hub's address as clients reach it (e.g. https://hub.county.example), used in "
        "Bundle links. Unset: http://HUB_HTTP_HOST:HUB_HTTP_PORT. Never taken from a request's Host header.",
    )
    metrics_port: int | None = Field(
        None, description="Port of a plain /metrics listener (on HUB_HTTP_HOST) for `hub connector run` and `hub "
        "consumer run`, which serve no HTTP API, so Prometheus can scrape them. Unset: none. `hub run` serves "
        "/metrics on HUB_HTTP_PORT.",
    )
    processes: Literal["threads", "processes"] = Field(
        "threads", description="How `hub run` runs its parts: `threads` (one process) or `processes` (each consumer "
        "and the pull connectors in child processes that a supervisor restarts, so the hub uses every core; the "
        "HTTP API, push connectors, MLLP listener, workers and demo stay in the main process).",
    )
    connector_processes: int = Field(
        2, ge=1, description="With HUB_PROCESSES=processes: how many child processes share the pull connectors "
        "(HIS database pollers and --connector files).",
    )
    mllp_port: int = Field(2575, description="HL7 v2 MLLP listener.")
    broker_port: int = Field(9092, description="Port of the embedded broker.")
    broker_host: str = Field(
        "127.0.0.1", description="Loopback address of the embedded broker (127.0.0.1, ::1 or localhost; nothing else)."
    )
    broker_restarts: int = Field(
        5, description="Attempts to restart an embedded broker that died before the hub gives up and exits."
    )
    dicom_inbox: Path | None = Field(None, description="Watched DICOM folder. Default: $HUB_DATA_DIR/dicom-inbox.")
    facility_id: str = Field(
        "cty01", description="The lead county hospital's facility id: owner of the built-in DICOM inbox and MLLP listener."
    )
    facility_levels: dict[str, str] = Field(
        default_factory=dict,
        description="Referral direction: level of each member by facility id (county, township or village), "
        'e.g. {"qs-hosp": "county"}. Unlisted ids follow the demo convention cty*, th*, vc*.',
    )
    facility_parents: dict[str, str] = Field(
        default_factory=dict,
        description="The supply hierarchy village -> township -> county: each member's parent facility, e.g. "
        '{"vc01": "th01", "th01": "cty01"}. Village clinics are replenished from their township and the county '
        "(consumers/drug_supply).",
    )
    admin_token: SecretStr | None = Field(None, description="Bearer token with the admin role.")
    token_cache_s: float = Field(
        60.0, description="How long a checked token or session is trusted without asking the database again: "
        "revocations, expiries, disabled accounts and logouts in other processes take effect within this time."
    )
    token_outage_grace_s: float = Field(
        300.0, description="While the database is down, credentials checked within this time keep working."
    )
    session_idle_minutes: float = Field(30.0, description="A page session ends after this long without a request.")
    session_max_hours: float = Field(12.0, description="A page session ends this long after login, however active.")
    outbox_retention_hours: float = Field(168.0, description="How long published events stay replayable.")
    consumer_batch_size: int = Field(500, description="Most events one consumer applies in one transaction.")
    consumer_max_retries: int = Field(3, description="Attempts for one failing event before it is dead-lettered.")
    gc_young_threshold: int = Field(
        50_000, ge=0, description="New objects between runs of Python's cycle collector in hub processes (see "
        "hub/core/gc_pace.py); 0 keeps Python's 700.",
    )
    operations_sample_s: float = Field(
        15.0, gt=0, description="How often the hub samples consumer lag (messages and seconds), the outboxes and the "
        "data disk for /metrics and the status page's charts (which keep the last hour).",
    )
    latency_max_source_age_s: float = Field(
        86_400.0, gt=0, description="Events the hub accepted longer than this after the member recorded them (a "
        "first load or backfill of a member's history) are left out of hub_event_latency_seconds.",
    )
    max_event_bytes: int = Field(1_000_000, description="Largest event the hub publishes; larger ones are rejected.")
    demo_rate: float = Field(5.0, description="Simulated county: new clinical events per second across members.")
    demo_seed: int = Field(20261123, description="Simulated county: random seed.")
    log_level: str = Field("INFO", description="Python log level.")
    match_rules: Path | None = Field(
        None, description="Matching rules of the patient index (YAML). Unset: consumers/record_store/matching/rules.yaml."
    )
    rematch_interval_s: float = Field(
        30.0, description="How often the hub looks for links made under older matching rules and re-matches them."
    )
    recognition_rules: Path | None = Field(
        None,
        description="Rules for mutual recognition of results (检查检验结果互认): windows per test and the "
        "accredited laboratories. Unset: consumers/record_store/recognition.yaml.",
    )
    reading_lease_s: float = Field(
        600.0, gt=0, description="How long a reader's claim on a reading item lasts unless the open page renews it."
    )
    reading_targets: Path | None = Field(
        None, description="Turnaround targets, at-risk share and escalation lists of the remote reading centres "
        "(YAML). Unset: consumers/reading/targets.yaml.",
    )

    critical_rules: Path | None = Field(
        None, description="Critical-value (危急值) limits per analyte, acknowledgement times and the county duty "
        "doctors (YAML). Unset: consumers/critical_values/rules.yaml.",
    )
    pharmacy_review_due_s: float = Field(
        1800, gt=0, description="Time a pharmacist has to decide a held prescription (the review Task's due time)."
    )
    critical_ack_s: float = Field(
        600.0, gt=0, description="How long a member has to acknowledge a critical-value notice before it is sent "
        "again (level 1); as long again before the county duty doctors are called (level 2). A rule's ack_s wins.",
    )
    supply_low_days: float = Field(
        7.0, gt=0, description="Drug stock: a member with fewer days of supply than this (stock on hand / average "
        "daily dispensing of the last 30 days) gets a low-stock warning.",
    )
    supply_near_expiry_days: int = Field(
        90, gt=0, description="Drug stock: a batch that expires within this many days is near expiry.",
    )
    supply_shortage_members: int = Field(
        2, ge=1, description="Drug stock: a county-level shortage is raised when this many members are low on or "
        "out of the same drug.",
    )
    supply_target_days: float = Field(
        30.0, gt=0, description="Replenishment of village clinics brings each drug to this many days of supply.",
    )
    supply_reserve_days: float = Field(
        14.0, ge=0, description="Replenishment never takes a township's or the county's stock below this many days "
        "of its own use.",
    )
    supply_delivery_hours: float = Field(
        48.0, gt=0, description="A delivery to a village clinic is on time when received within this many hours "
        "of its request (配送到位率).",
    )

    progress: Literal["auto", "always", "never"] = Field(
        "auto", description="Progress of long command-line work (replays, re-matching, bulk loads) on stderr: "
        "auto draws it only when stderr is a terminal; --quiet and --json always turn it off.",
    )
    member_timezone: str = Field(
        "Asia/Shanghai", description="Silent members: the time zone of the members' working day, in which a "
        "member's usual traffic is counted per hour of the week (IANA name).",
    )
    member_history_weeks: int = Field(
        4, ge=1, le=52, description="Silent members: how many weeks of each member's own traffic teach its usual "
        "events per hour of the week (older hours are forgotten).",
    )
    member_learning_days: float = Field(
        7.0, gt=0, description="Silent members: a member is not judged until the hub has seen this many days of "
        "its traffic (every hour of the week once, by default).",
    )
    member_silent_after_events: float = Field(
        5.0, gt=0, description="Silent members: a member is silent once its usual traffic would have brought "
        "this many events since its last one (none arriving when 5 are expected happens by chance under 1%).",
    )
    member_silence_floor_s: float = Field(
        900.0, gt=0, description="Silent members: the shortest silence ever reported, however busy the member.",
    )
    member_check_s: float = Field(
        15.0, gt=0, description="Silent members: how often the hub judges the members and refreshes the metrics.",
    )

    @field_validator("critical_rules", mode="before")
    @classmethod
    def _blank_rules_file(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "kafka_bootstrap", "database_url", "schema_registry_url", "recognition_rules", "reading_targets", "public_base_url",
        "kafka_ssl_cafile", "kafka_ssl_certfile", "kafka_ssl_keyfile", "kafka_ssl_crlfile", mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("member_timezone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"HUB_MEMBER_TIMEZONE {value!r} is not a known time zone; use an IANA name such as "
                             "Asia/Shanghai") from None
        return value

    @field_validator("broker_host")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        if not is_loopback(value):
            raise ValueError(
                "the embedded broker has no authentication and listens on loopback only "
                "(127.0.0.1, ::1 or localhost); to serve other machines use a Kafka cluster (HUB_KAFKA_BOOTSTRAP)"
            )
        return value

    @field_validator("kafka_security_protocol")
    @classmethod
    def _known_protocol(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in _PROTOCOLS:
            raise ValueError(f"must be one of {', '.join(_PROTOCOLS)}")
        return value

    @field_validator("kafka_sasl_mechanism")
    @classmethod
    def _known_mechanism(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip().upper()
        if value not in _SASL_MECHANISMS:
            raise ValueError(f"must be one of {', '.join(_SASL_MECHANISMS)}")
        return value

    @model_validator(mode="after")
    def _security_complete(self) -> HubSettings:
        protocol = self.kafka_security_protocol
        if protocol.startswith("SASL_") and self.kafka_sasl_mechanism is None:
            raise ValueError(f"HUB_KAFKA_SECURITY_PROTOCOL={protocol} needs HUB_KAFKA_SASL_MECHANISM (e.g. SCRAM-SHA-512)")
        if (
            self.kafka_sasl_mechanism in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
            and protocol.startswith("SASL_")
            and (not self.kafka_sasl_username or self.kafka_sasl_password is None)
        ):
            raise ValueError(
                f"SASL {self.kafka_sasl_mechanism} needs HUB_KAFKA_SASL_USERNAME and HUB_KAFKA_SASL_PASSWORD"
            )
        if bool(self.kafka_ssl_certfile) != bool(self.kafka_ssl_keyfile):
            raise ValueError("mutual TLS needs both HUB_KAFKA_SSL_CERTFILE and HUB_KAFKA_SSL_KEYFILE")
        return self

    @field_validator("facility_levels")
    @classmethod
    def _known_levels(cls, value: dict[str, str]) -> dict[str, str]:
        wrong = {k: v for k, v in value.items() if v not in ("county", "township", "village")}
        if wrong:
            raise ValueError(f"facility levels must be county, township or village; fix {wrong}")
        return value

    @field_validator("facility_parents")
    @classmethod
    def _parents_form_a_tree(cls, value: dict[str, str]) -> dict[str, str]:
        for child in value:  # walking up from any member must end at a root, never come back
            seen, at = {child}, value[child]
            while at in value:
                if at in seen:
                    raise ValueError(f"facility parents loop through {at!r}; fix HUB_FACILITY_PARENTS")
                seen.add(at)
                at = value[at]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlSource(settings_cls))

    # Derived values -------------------------------------------------------------------------------

    @property
    def embedded_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        host = f"[{self.broker_host}]" if ":" in self.broker_host else self.broker_host
        return f"{host}:{self.broker_port}"

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hub.db').resolve()}"

    @property
    def public_base(self) -> str:
        """Base of absolute links the hub writes (no trailing slash)."""
        if self.public_base_url:
            return self.public_base_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.http_port}"

    @property
    def inbox(self) -> Path:
        return self.dicom_inbox or self.data_dir / "dicom-inbox"

    def outbox_path(self, connector: str) -> Path:
        return self.data_dir / "outbox" / f"{connector}.db"


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the same keys (without the HUB_ prefix, lower case) from the YAML file named by HUB_CONFIG."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("HUB_CONFIG")
        if not path:
            return {}
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read HUB_CONFIG file {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ValueError(f"HUB_CONFIG file {path} must hold a mapping of settings")
        return {str(k).lower().removeprefix("hub_"): v for k, v in data.items()}


@lru_cache(maxsize=1)
def get_settings() -> HubSettings:
    return HubSettings()
