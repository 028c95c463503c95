"""What the deployments set and run is what exists: every HUB_* variable named in deploy/ (compose,
hub.env, Kubernetes) is a setting of HubSettings, and every image is pinned to a version or digest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.core.config import HubSettings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
# Read by the settings' YAML source, not a field: it names the file the other settings come from.
NOT_FIELDS = {"HUB_CONFIG"}
PINNED = re.compile(r"^[^\s:@]+(?::[^\s:@]*\d+\.\d+[^\s:@]*)?(?:@sha256:[0-9a-f]{64})?$")


def setting_names() -> set[str]:
    """The environment variable of each field, as pydantic-settings reads it (prefix, no aliases)."""
    prefix = HubSettings.model_config.get("env_prefix", "")
    assert all(field.alias is None and field.validation_alias is None for field in HubSettings.model_fields.values())
    return {f"{prefix}{name}".upper() for name in HubSettings.model_fields} | NOT_FIELDS


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    return loaded


def k8s_documents() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((DEPLOY / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield str(path.relative_to(DEPLOY)), doc


def named_variables() -> Iterator[tuple[str, str]]:
    """(where, variable) for every environment variable deploy/ sets for the hub."""
    for line in (DEPLOY / "hub.env").read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", line)  # commented-out examples count too
        if match:
            yield "hub.env", match.group(1)
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        keys = environment if isinstance(environment, dict) else [item.split("=")[0] for item in environment]
        for key in keys:
            yield f"docker-compose.yml {name}", key
    for where, doc in k8s_documents():
        if doc["kind"] == "ConfigMap":
            for key in doc.get("data", {}):
                yield f"{where} {doc['metadata']['name']}", key
        if doc["kind"] == "Kustomization":
            continue
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            for variable in container.get("env", []):
                yield f"{where} {doc['metadata']['name']}", variable["name"]
    for path in sorted((DEPLOY / "k8s").rglob("kustomization.yaml")):
        for generator in yaml.safe_load(path.read_text(encoding="utf-8")).get("configMapGenerator", []):
            for literal in generator.get("literals", []):
                yield str(path.relative_to(DEPLOY)), literal.split("=", 1)[0]


def test_every_hub_variable_is_a_setting() -> None:
    known = setting_names()
    hub_variables = [(where, name) for where, name in named_variables() if name.startswith("HUB_")]
    assert len(hub_variables) > 20
    unknown = [(where, name) for where, name in hub_variables if name not in known]
    assert not unknown, f"not settings of hub/core/config.py: {unknown}"


def test_the_check_knows_a_wrong_name() -> None:
    assert "HUB_KAFKA_BOOTSTRAP" in setting_names() and "HUB_KAFKA_BOOTSTRAPS" not in setting_names()


def images() -> Iterator[tuple[str, str]]:
    for name, service in compose()["services"].items():
        if "image" in service:
            yield f"docker-compose.yml {name}", service["image"]
    for anchor, block in compose().items():
        if anchor.startswith("x-") and isinstance(block, dict) and "image" in block:
            yield f"docker-compose.yml {anchor}", block["image"]
    for where, doc in k8s_documents():
        for container in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            yield f"{where} {doc['metadata']['name']}", container["image"]
    for line in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FROM "):
            yield "Dockerfile", line.split()[1]


@pytest.mark.parametrize(("where", "image"), list(images()))
def test_every_image_is_pinned(where: str, image: str) -> None:
    tag = image.rpartition("/")[2].partition(":")[2].partition("@")[0]
    assert "@sha256:" in image or (tag and tag != "latest" and PINNED.match(image)), (
        f"{where}: {image} is not pinned to a version (x.y...) or a digest")


def test_the_pin_check_refuses_floating_images() -> None:
    for image in ("postgres", "postgres:latest", "postgres:16", "grafana/grafana:main"):
        tag = image.rpartition("/")[2].partition(":")[2]
        assert not (tag and tag != "latest" and PINNED.match(image)), image


def test_every_yaml_file_of_deploy_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert len(files) > 20
    for path in files:
        try:
            list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.relative_to(DEPLOY)}: {exc}")
