"""The Grafana dashboard and the alert rules in deploy/ use only metric names the gateway exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import yaml

from lunaroute.testing import GatewayFactory

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_NAME = re.compile(r"\blunaroute_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def referenced(expressions: list[str]) -> set[str]:
    names = set()
    for expression in expressions:
        for name in _NAME.findall(expression):
            for suffix in _SUFFIXES:
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
                    break
            names.add(name)
    return names


async def exported(make_gateway: GatewayFactory, tmp_path: Path) -> set[str]:
    gw = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "s")},
            "sqlite": {"path": str(tmp_path / "s.db")},
            "journal_directory": str(tmp_path / "j"),
        }
    )
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        text = await response.text()
    names = set(re.findall(r"^# TYPE (lunaroute_[a-z0-9_]+) ", text, re.MULTILINE))
    return {n[: -len("_total")] if n.endswith("_total") else n for n in names}


async def test_dashboard_and_alerts_use_existing_metrics(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "lunaroute-dashboard.json").read_text())
    panel_exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alert_exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    available = await exported(make_gateway, tmp_path)
    used = referenced(panel_exprs + alert_exprs)
    assert used, "the artifacts reference no metric"
    assert used - available == set()
