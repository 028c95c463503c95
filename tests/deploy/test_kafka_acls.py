"""The production set-up keeps personal data to the hub's principals: every topic of the catalogue is
covered by deploy/kafka/acls.sh, and the compose cluster denies what no ACL allows."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from hub.core.topics import CATALOGUE, DEAD_LETTER, EPOCH, all_topics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
ACLS = (DEPLOY / "kafka" / "acls.sh").read_text(encoding="utf-8")


def _words(variable: str) -> set[str]:
    match = re.search(rf'^{variable}="([^"]*)"', ACLS, re.MULTILINE)
    assert match, f"{variable} missing from acls.sh"
    return set(match.group(1).split())


def test_connectors_write_what_they_publish_and_read_nothing() -> None:
    # Readers' reports and notices are written at the county data centre, not by members.
    published = {spec.name for spec in CATALOGUE if not spec.from_hub} | {DEAD_LETTER.name}
    assert _words("CONNECTOR_TOPICS") == published
    assert _words("CONNECTOR_DESCRIBE") == {EPOCH.name}
    connector_lines = [line for line in ACLS.splitlines() if '"User:$user"' in line]
    assert connector_lines and not any("Read" in line or "All" in line for line in connector_lines)


def test_only_the_hub_principal_reads_personal_topics() -> None:
    personal = [spec for spec in all_topics() if spec.personal_data]
    assert EPOCH not in personal and DEAD_LETTER in personal
    # One prefixed grant covers every topic of the catalogue, so a new topic cannot be forgotten.
    assert all(spec.name.startswith("hub.") for spec in personal)
    grants = [line for line in ACLS.splitlines() if "--operation All" in line]
    assert grants and all("User:county-hub" in line for line in grants)


def test_compose_cluster_denies_by_default_and_clients_use_tls_and_scram() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    for name in ("kafka1", "kafka2", "kafka3"):
        env = compose["services"][name]["environment"]
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert "CLIENT:SASL_SSL" in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"]
        assert env["KAFKA_ADVERTISED_LISTENERS"].startswith(f"CLIENT://{name}:9092")
    assert compose["networks"]["kafka-internal"]["internal"] is True
    for name in ("hub", "record-store", "connector-th01"):
        assert "kafka-internal" not in compose["services"][name].get("networks", [])
    env_file = (DEPLOY / "hub.env").read_text(encoding="utf-8")
    assert re.search(r"^HUB_KAFKA_SECURITY_PROTOCOL=SASL_SSL$", env_file, re.MULTILINE)
    assert compose["services"]["connector-th01"]["environment"]["HUB_KAFKA_SASL_USERNAME"] == "connector-th01"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash")
def test_scripts_are_valid_shell() -> None:
    for script in ("acls.sh", "make-certs.sh"):
        subprocess.run(["bash", "-n", str(DEPLOY / "kafka" / script)], check=True)
