"""The Grafana dashboard and the alert rules in deploy/ query only series the gateway's `/metrics` exposes.

Names are compared as exposed, suffix included: a counter is only ever seen as `<name>_total`, a histogram as
`<name>_bucket`/`_count`/`_sum`, so a query for the bare counter name matches nothing and must fail here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiohttp
import yaml
from prometheus_client.parser import text_string_to_metric_families

from lunaroute.testing import GatewayFactory

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_NAME = re.compile(r"\blunaroute_[a-z0-9_]+")
_SERIES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "gauge": ("",),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}


def referenced(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in _NAME.findall(expression)}


def series_names(exposition: str) -> set[str]:
    """Every series name a query can match, from each family's type (labelled families may have no sample yet)."""
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SERIES[family.type])
        names.update(sample.name for sample in family.samples)
    return names


async def exposed(make_gateway: GatewayFactory, tmp_path: Path) -> set[str]:
    gw = await make_gateway(
        session_recording={
            "jsonl": {"directory": str(tmp_path / "s")},
            "sqlite": {"path": str(tmp_path / "s.db")},
            "journal_directory": str(tmp_path / "j"),
        }
    )
    async with aiohttp.ClientSession() as session, session.get(f"{gw.url}/metrics") as response:
        text = await response.text()
    return {name for name in series_names(text) if name.startswith("lunaroute_")}


def test_a_bare_counter_name_is_not_a_series() -> None:
    text = (
        "# HELP lunaroute_recorder_events_lost_total Lost.\n"
        "# TYPE lunaroute_recorder_events_lost_total counter\n"
        "lunaroute_recorder_events_lost_total 0.0\n"
    )
    names = series_names(text)
    assert "lunaroute_recorder_events_lost_total" in names
    assert "lunaroute_recorder_events_lost" not in names


async def test_dashboard_and_alerts_use_exposed_series(make_gateway: GatewayFactory, tmp_path: Path) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "lunaroute-dashboard.json").read_text())
    panel_exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alert_exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    available = await exposed(make_gateway, tmp_path)
    used = referenced(panel_exprs + alert_exprs)
    assert used, "the artifacts reference no metric"
    assert used - available == set()
