"""The Helm chart in `deploy/helm/lunaroute`: its values conform to its schema, its templates use only values that
exist and helpers that are defined, the gateway config it ships loads, and (where `helm` is installed) it lints and
renders to the objects the README promises.

`helm` is neither a Debian package nor on PyPI, and building it needs a Go toolchain this machine kind lacks, so the
rendering test skips where it is missing (it is not one of the components `.ci/run` provides).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lunaroute.config import check_exposure, config_from_mapping

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "lunaroute"
VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
TEMPLATES = {path.name: path.read_text() for path in sorted((CHART / "templates").iterdir())}
_VALUE_REF = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_ACTION = re.compile(r"\{\{-?\s*(if|range|with|define|else|end)\b")


def placeholder_env() -> dict[str, str]:
    """What the chart's Secret gives each replica, filled in as a user would."""
    filled = {
        "LUNAROUTE_ADMIN_KEY": "an-admin-key-of-24-chars",
        "LUNAROUTE_PG_URL": "postgresql://lunaroute:pw@postgres:5432/lunaroute",
        "LUNAROUTE_REDIS_URL": "redis://redis:6379/0",
    }
    return {name: filled.get(name, "") for name in VALUES["secret"]["values"]}


def test_chart_metadata_matches_the_package() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "lunaroute"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert chart["appVersion"] == version


def test_values_conform_to_the_schema_and_the_schema_refuses_typos() -> None:
    jsonschema.validate(VALUES, SCHEMA)
    with pytest.raises(jsonschema.ValidationError, match="replicas"):
        jsonschema.validate({**VALUES, "replicas": 3}, SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**VALUES, "service": {"type": "Ingress", "port": 8081}}, SCHEMA)


def _lookup(values: dict[str, Any], path: str) -> bool:
    node: Any = values
    for part in path.strip(".").split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_templates_use_only_values_that_exist() -> None:
    used = {ref for text in TEMPLATES.values() for ref in _VALUE_REF.findall(text)}
    assert used, "no template reads a value"
    assert sorted(ref for ref in used if not _lookup(VALUES, ref)) == []


def test_templates_include_only_defined_helpers_and_close_every_block() -> None:
    defined = set(re.findall(r'define "([^"]+)"', TEMPLATES["_helpers.tpl"]))
    for name, text in TEMPLATES.items():
        assert set(re.findall(r'include "([^"]+)"', text)) <= defined, name
        assert text.count("{{") == text.count("}}"), name
        actions = _ACTION.findall(text)
        opened = sum(a in ("if", "range", "with", "define") for a in actions)
        assert opened == actions.count("end"), name


def test_the_chart_makes_the_objects_of_a_deployment() -> None:
    kinds = {re.search(r"^kind: (\w+)", text, re.MULTILINE) for text in TEMPLATES.values()}
    found = {match.group(1) for match in kinds if match is not None}
    assert found == {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
        "ServiceMonitor",
    }
    assert VALUES["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert VALUES["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "secretRef" in TEMPLATES["deployment.yaml"]


def test_the_shipped_gateway_config_loads_with_the_secrets_environment() -> None:
    config = config_from_mapping(dict(VALUES["config"]), source="values.yaml:config", env=placeholder_env())
    check_exposure(config)
    assert config.auth.mode == "keys"
    assert config.state.backend == "redis"
    assert config.session_recording.postgres.enabled
    assert config.port == VALUES["service"]["port"]


def test_pods_run_as_the_images_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"--uid (\d+)", dockerfile)
    assert uid is not None
    assert VALUES["podSecurityContext"]["runAsUser"] == int(uid.group(1))
    assert VALUES["podSecurityContext"]["runAsNonRoot"] is True


def _helm(*args: str) -> str:
    helm = shutil.which("helm")
    if helm is None:
        pytest.skip(
            "helm is not installed: it is not packaged for Debian or PyPI here, so the chart is checked "
            "by the schema and template tests only"
        )
    done = subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_helm_lints_and_renders_every_object() -> None:
    _helm("lint", str(CHART))
    rendered = _helm(
        "template", "gw", str(CHART),
        "--set", "autoscaling.enabled=true", "--set", "serviceMonitor.enabled=true",
        "--set", "persistence.enabled=true",
    )  # fmt: skip
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert sorted(doc["kind"] for doc in documents) == [
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "Secret",
        "Service",
        "ServiceMonitor",
    ]
    (configmap,) = [doc for doc in documents if doc["kind"] == "ConfigMap"]
    assert yaml.safe_load(configmap["data"]["lunaroute.yaml"]) == VALUES["config"]
