"""The Kubernetes manifests start real modules on the ports they probe, with every setting a service needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"


def _documents() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(MANIFESTS.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in yaml.safe_load_all(path.read_text())
    ]


def test_kustomization_applies_every_manifest() -> None:
    kustomization = yaml.safe_load((MANIFESTS / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_every_service_has_a_deployment_that_runs_its_module_and_probes_its_port() -> None:
    deployments = {d["metadata"]["name"]: d for d in _documents() if d["kind"] == "Deployment"}
    assert set(deployments) == {"gateway", "routing", "conversation", "history", "webhooks", "mailer"}
    for name, deployment in deployments.items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        module = container["command"][-1]
        assert module == f"services.{name}"
        assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} cannot be run with -m"
        port = container["ports"][0]["containerPort"]
        env = {item["name"]: item.get("value") for item in container["env"]}
        assert env["PARLEY_PORT"] == str(port), f"{name} listens elsewhere than its probes look"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        sources = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        # The mailer gets its own Secret: the derived link key, never the key that signs agents' tokens.
        secret = "parley-mailer-secrets" if name == "mailer" else "parley-secrets"
        assert sources == {"parley-config", secret}, name


def test_production_settings_point_at_a_replicated_cluster() -> None:
    (config,) = [d for d in _documents() if d["kind"] == "ConfigMap"]
    assert int(config["data"]["PARLEY_KAFKA_REPLICATION_FACTOR"]) >= 3
    assert config["data"]["PARLEY_ENVIRONMENT"] == "production", (
        "else the gateway accepts its development secret"
    )
    assert "PARLEY_SECRET_KEY" not in config["data"], "secrets belong in the Secret, not the ConfigMap"
