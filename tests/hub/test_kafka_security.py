"""Broker hardening: TLS, mutual TLS and SASL/SCRAM settings reach kafka-python; the embedded
broker listens on loopback only and says so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from hub.core import kafka_io
from hub.core.broker import BrokerError, EmbeddedBroker
from hub.core.config import HubSettings
from tests.conftest import free_port

PRODUCTION = {
    "kafka_bootstrap": "127.0.0.1:1",
    "kafka_security_protocol": "sasl_ssl",
    "kafka_sasl_mechanism": "scram-sha-512",
    "kafka_sasl_username": "county-hub",
    "kafka_sasl_password": "s3cret",
    "kafka_ssl_cafile": "/etc/hub/ca.pem",
    "kafka_ssl_certfile": "/etc/hub/client.pem",
    "kafka_ssl_keyfile": "/etc/hub/client.key",
    "kafka_ssl_password": "keypass",
    "kafka_ssl_crlfile": "/etc/hub/crl.pem",
}


def test_tls_and_scram_settings_reach_kafka_python(tmp_path: Path) -> None:
    settings = HubSettings(data_dir=tmp_path, **PRODUCTION)
    # api_version given: the client is built without talking to the (absent) cluster.
    client = kafka_io.producer(settings, api_version=(3, 9))
    try:
        config = client.config
        assert config["security_protocol"] == "SASL_SSL"
        assert config["sasl_mechanism"] == "SCRAM-SHA-512"
        assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("county-hub", "s3cret")
        assert config["ssl_cafile"] == "/etc/hub/ca.pem"
        assert (config["ssl_certfile"], config["ssl_keyfile"]) == ("/etc/hub/client.pem", "/etc/hub/client.key")
        assert config["ssl_password"] == "keypass"
        assert config["ssl_crlfile"] == "/etc/hub/crl.pem"
        assert config["ssl_check_hostname"] is True
        assert config["allow_auto_create_topics"] is False
    finally:
        client.close(timeout=0)
    consumer_side = kafka_io._common(settings)  # consumers and the admin client share these options
    assert consumer_side["ssl_keyfile"] == "/etc/hub/client.key" and consumer_side["sasl_mechanism"] == "SCRAM-SHA-512"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kafka_sasl_mechanism": None}, "HUB_KAFKA_SASL_MECHANISM"),
        ({"kafka_sasl_password": None}, "HUB_KAFKA_SASL_PASSWORD"),
        ({"kafka_ssl_keyfile": None}, "HUB_KAFKA_SSL_KEYFILE"),
        ({"kafka_security_protocol": "TLS"}, "SASL_SSL"),
        ({"kafka_sasl_mechanism": "SCRAM-SHA-1"}, "SCRAM-SHA-512"),
    ],
)
def test_incomplete_security_settings_are_refused(tmp_path: Path, changes: dict, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        HubSettings(data_dir=tmp_path, **{**PRODUCTION, **changes})


def test_embedded_broker_refuses_other_than_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="loopback only"):
        HubSettings(data_dir=tmp_path, broker_host="0.0.0.0")
    with pytest.raises(BrokerError, match="loopback only, not on 0.0.0.0"):
        EmbeddedBroker(free_port(), host="0.0.0.0")
    assert HubSettings(data_dir=tmp_path, broker_host="::1").bootstrap.startswith("[::1]:")


@pytest.mark.broker
def test_embedded_broker_says_it_listens_on_loopback_only(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="hub.core.broker")
    with EmbeddedBroker(free_port(), log_file=tmp_path / "b.log"):
        pass
    assert any("loopback only" in r.getMessage() for r in caplog.records)


def test_a_connector_principal_that_may_not_create_topics_still_publishes() -> None:
    """On a cluster with ACLs (deploy/kafka/acls.sh) a member's connector may not create topics; the
    data centre's hub does. The relay's topic check must not take that refusal for a broker outage."""
    from kafka.errors import TopicAuthorizationFailedError

    from hub.core.topics import CATALOGUE

    class RefusingAdmin:
        calls = 0

        def create_topics(self, topics: list[object]) -> None:
            RefusingAdmin.calls += 1
            raise TopicAuthorizationFailedError("not authorised")

    kafka_io._create(RefusingAdmin(), HubSettings(kafka_bootstrap="127.0.0.1:1"), CATALOGUE[0])  # type: ignore[arg-type]
    assert RefusingAdmin.calls == 1
