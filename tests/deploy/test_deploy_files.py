"""deploy/: the alert rules and the Grafana dashboard speak of metrics data-mash really exports.

CI also runs `promtool check rules deploy/alerts.yml` (.ci/run); this test catches a renamed or
dropped metric, which promtool cannot know about.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

import core.metrics  # noqa: F401  (registers the metrics)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
_NAME = re.compile(r"\bdata_mash_[a-z_]+")
_SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def _exported() -> set[str]:
    from tools.health.store_metrics import install_store_metrics

    install_store_metrics()  # the gauges read from the store (sync queues, conflicts)
    names = set()
    for family in REGISTRY.collect():
        if family.name.startswith("data_mash_"):
            names.add(family.name)
            names.update(family.name + suffix for suffix in _SUFFIXES)
    return names


def _rules() -> list[dict]:
    data = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_alert_rules_use_exported_metrics_and_say_what_to_do() -> None:
    exported = _exported()
    rules = _rules()
    assert len(rules) >= 6
    for rule in rules:
        assert rule["alert"].startswith("DataMash")
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        used = set(_NAME.findall(rule["expr"]))
        assert used <= exported, (rule["alert"], used - exported)
        assert "policy_id" not in rule["expr"]


def test_dashboard_panels_use_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    exported = _exported()
    targets = [t for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(targets) >= 10
    used = {name for t in targets for name in _NAME.findall(t["expr"])}
    assert used and used <= exported, used - exported
    # Every stage-level panel is about throughput, p95, errors, quarantine or reconciliation.
    text = json.dumps(dashboard)
    for needed in (
        "histogram_quantile(0.95",
        "quarantined",
        "reconciliation",
        "errors",
        "data_mash_sync_oldest_pending_age_seconds",
        "data_mash_sync_conflicts",
        "data_mash_db_pool_connections",
    ):
        assert needed in text
