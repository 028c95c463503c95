"""The Kubernetes manifests (deploy/k8s) checked as far as they can be without a cluster: Kubernetes'
own kinds against its published schemas (kubernetes-validate ships them, strict), Strimzi's kinds
structurally (their CRD schemas are not shipped offline), each county's overlay built with `kubectl
kustomize` where kubectl exists, its topics and users against the hub's catalogue, probes, limits,
Secrets and the disruption budget."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from hub.core.topics import CATALOGUE, DEAD_LETTER, EPOCH, all_topics

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.33.0"
COUNTIES = sorted(path.name for path in (K8S / "counties").iterdir())
STRIMZI = "kafka.strimzi.io/v1"
ACL_OPERATIONS = {"Read", "Write", "Create", "Delete", "Alter", "Describe", "ClusterAction", "AlterConfigs",
                  "DescribeConfigs", "IdempotentWrite", "All"}
KUBECTL = shutil.which("kubectl")


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifests() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, doc) for path in sorted(K8S.rglob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in documents(path)]


def kustomization(path: Path) -> dict[str, Any]:
    return yaml.safe_load((path / "kustomization.yaml").read_text(encoding="utf-8"))


def built(directory: Path) -> list[dict[str, Any]]:
    """The resources `kubectl kustomize` makes of a directory, or (without kubectl) its files merged the
    way the overlays here use kustomize: namespace set, generator literals merged into ConfigMaps."""
    if KUBECTL is not None:
        done = subprocess.run([KUBECTL, "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    spec = kustomization(directory)
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        target = directory / resource
        docs += built(target) if target.is_dir() else documents(target)
    for generator in spec.get("configMapGenerator", []):
        config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == generator["name"])
        config["data"].update(literal.split("=", 1) for literal in generator.get("literals", []))
    if "namespace" in spec:
        for doc in docs:
            if doc["kind"] != "Namespace":
                doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc["kind"] not in ("Deployment", "StatefulSet"):
        return []
    return list(doc["spec"]["template"]["spec"]["containers"])


def test_kubernetes_kinds_are_schema_valid() -> None:
    checked = 0
    for path, doc in manifests():
        if doc["apiVersion"].startswith("kafka.strimzi.io/"):
            continue
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.relative_to(K8S)}: {doc['kind']} {doc['metadata']['name']}: {exc.message} "
                        f"at {'.'.join(map(str, exc.path))}")
        checked += 1
    assert checked >= 10


def test_the_schema_check_catches_a_mistake() -> None:
    deployment = next(doc for _, doc in manifests() if doc["kind"] == "Deployment")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = {"no": "port"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_strimzi_resources_are_well_formed() -> None:
    """Structural: Strimzi's CRD schemas are not available offline (README, deploy/k8s)."""
    found = [doc for _, doc in manifests() if doc["apiVersion"].startswith("kafka.strimzi.io/")]
    assert {doc["apiVersion"] for doc in found} == {STRIMZI}
    clusters = [doc for doc in found if doc["kind"] == "Kafka"]
    assert len(clusters) == 1
    cluster = clusters[0]["metadata"]["name"]
    kafka = clusters[0]["spec"]["kafka"]
    assert kafka["config"]["min.insync.replicas"] == 2 and kafka["config"]["default.replication.factor"] == 3
    assert kafka["config"]["auto.create.topics.enable"] is False
    assert kafka["authorization"]["type"] == "simple"
    assert all(listener["tls"] and listener["authentication"]["type"] == "scram-sha-512"
               for listener in kafka["listeners"])
    pools = {doc["metadata"]["name"]: doc["spec"] for doc in found if doc["kind"] == "KafkaNodePool"}
    roles = [role for pool in pools.values() for role in pool["roles"]]
    assert roles.count("controller") == 1 and roles.count("broker") == 1  # KRaft: separate pools
    assert all(pool["replicas"] == 3 and pool["storage"]["type"] == "jbod" for pool in pools.values())
    for doc in found:
        if doc["kind"] != "Kafka":
            assert doc["metadata"]["labels"]["strimzi.io/cluster"] == cluster, doc["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc["metadata"]["name"]), doc["metadata"]["name"]
        if doc["kind"] == "KafkaUser":
            assert doc["spec"]["authentication"]["type"] == "scram-sha-512"
            for acl in doc["spec"]["authorization"]["acls"]:
                assert set(acl["operations"]) <= ACL_OPERATIONS
                assert acl["resource"]["type"] in ("topic", "group", "cluster", "transactionalId")


def county_prefix(county: str) -> str:
    config = next(doc for doc in built(K8S / "counties" / county / "hub")
                  if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "hub-config")
    prefix: str = config["data"]["HUB_TOPIC_PREFIX"]
    return prefix


@pytest.mark.parametrize("county", COUNTIES)
def test_county_topics_match_the_catalogue(county: str) -> None:
    prefix = county_prefix(county)
    assert prefix == f"{county}."
    topics = {doc["spec"]["topicName"]: doc["spec"] for doc in built(K8S / "counties" / county / "kafka")
              if doc["kind"] == "KafkaTopic"}
    assert {name: spec["partitions"] for name, spec in topics.items()} == {
        prefix + spec.name: spec.partitions for spec in all_topics()}
    assert all(spec["replicas"] == 3 and spec["config"]["min.insync.replicas"] == 2 for spec in topics.values())


@pytest.mark.parametrize("county", COUNTIES)
def test_county_users_grant_what_acls_sh_grants(county: str) -> None:
    prefix = county_prefix(county)
    users = {doc["metadata"]["name"]: doc for doc in built(K8S / "counties" / county / "kafka")
             if doc["kind"] == "KafkaUser"}
    hub = users[f"{county}-county-hub"]["spec"]["authorization"]["acls"]
    assert {(a["resource"]["type"], a["resource"].get("name"), a["resource"].get("patternType")) for a in hub
            if a["operations"] == ["All"]} == {("topic", f"{prefix}hub.", "prefix"), ("group", f"{prefix}hub.", "prefix")}
    connector = users[f"{county}-connector-th01"]["spec"]["authorization"]["acls"]
    written = {a["resource"]["name"] for a in connector if "Write" in a["operations"]}
    assert written == {prefix + spec.name for spec in CATALOGUE if not spec.from_hub} | {prefix + DEAD_LETTER.name}
    assert not any({"Read", "All"} & set(a["operations"]) for a in connector)
    assert {a["resource"]["name"] for a in connector if a["operations"] == ["Describe"]} == {prefix + EPOCH.name}
    # The overlay logs the hub and the connector in as these users.
    configs = {doc["metadata"]["name"]: doc["data"] for doc in built(K8S / "counties" / county / "hub")
               if doc["kind"] == "ConfigMap"}
    assert configs["hub-config"]["HUB_KAFKA_SASL_USERNAME"] in users
    assert configs["connector-th01-config"]["HUB_KAFKA_SASL_USERNAME"] in users


@pytest.mark.parametrize("county", COUNTIES)
def test_county_overlay_builds_into_its_own_namespace(county: str) -> None:
    docs = built(K8S / "counties" / county / "hub")
    for doc in docs:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == f"hub-{county}"
        else:
            assert doc["metadata"]["namespace"] == f"hub-{county}", doc["metadata"]["name"]
        if not doc["apiVersion"].startswith("kafka.strimzi.io/"):
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_hub_workloads_have_probes_limits_and_known_secrets() -> None:
    docs = built(K8S / "hub")
    secrets = {doc["metadata"]["name"]: set(doc["stringData"]) for doc in documents(K8S / "hub" / "secrets.example.yaml")}
    configs = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "ConfigMap"}
    claims = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "PersistentVolumeClaim"}
    workloads = [doc for doc in docs if doc["kind"] in ("Deployment", "StatefulSet")]
    assert {doc["metadata"]["labels"].get("app.kubernetes.io/component") for doc in workloads} >= {
        "api", "consumer", "connector"}
    for doc in workloads:
        pod = doc["spec"]["template"]["spec"]
        for container in pod["containers"]:
            where = f"{doc['metadata']['name']}/{container['name']}"
            assert {"livenessProbe", "readinessProbe"} <= set(container), f"{where} has no probes"
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), where
            assert "memory" in container["resources"]["limits"], where
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets.get(ref["name"], set()), f"{where}: {ref} not in secrets.example.yaml"
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in configs, where
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                keys = {item["key"] for item in volume["secret"].get("items", [])}
                assert keys <= secrets.get(volume["secret"]["secretName"], set()), volume
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claims, volume
    api = next(doc for doc in workloads if doc["metadata"]["name"] == "hub")["spec"]["template"]["spec"]["containers"][0]
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    # Every budget covers the pods of a workload that has more than one of them.
    budgets = [doc for doc in docs if doc["kind"] == "PodDisruptionBudget"]
    assert budgets
    for budget in budgets:
        selector = budget["spec"]["selector"]["matchLabels"]
        covered = [doc for doc in workloads
                   if selector.items() <= doc["spec"]["template"]["metadata"]["labels"].items()]
        assert covered and all(doc["spec"]["replicas"] > budget["spec"]["minAvailable"] for doc in covered)
