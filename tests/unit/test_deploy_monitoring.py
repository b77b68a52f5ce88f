"""The monitoring profile: Prometheus scrapes every service, Grafana's dashboard reads it."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.deploy import COMPOSE_FILE
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
PIPELINE = ["ingest", "deduplicator", "extractor", "indexer", "notifier"]
# the metrics the services export (issue #9), with the labels the dashboard groups by
METRICS = {
    "pactwatch_messages_total": {"service", "stream", "outcome"},
    "pactwatch_handler_seconds_bucket": {"service", "stream", "le"},
    "pactwatch_batch_size_bucket": {"service", "stream", "le"},
    "pactwatch_group_lag": {"stream", "group"},
    "pactwatch_group_pending": {"stream", "group"},
    "pactwatch_dlq_size": {"stream"},
    "pactwatch_alerts_total": {"channel"},
    "pactwatch_webhook_deliveries_total": {"outcome"},
    "pactwatch_service_info": {"service"},
}
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
PROMETHEUS: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
DASHBOARD: dict[str, Any] = json.loads((DEPLOY / "grafana/dashboards/pactwatch.json").read_text())
DATASOURCES: dict[str, Any] = yaml.safe_load(
    (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text()
)


def panels() -> list[dict[str, Any]]:
    return [p for p in DASHBOARD["panels"] if p["type"] != "row"]


def expressions() -> list[str]:
    return [t["expr"] for p in panels() for t in p["targets"]]


def test_prometheus_scrapes_every_replica_of_every_service() -> None:
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    for service in PIPELINE:
        (sd,) = jobs[service]["dns_sd_configs"]
        # DNS, not static targets: the service name resolves to each --scale'd replica
        assert sd["names"] == [service]
        assert sd["type"] == "A"
        assert sd["port"] == int(COMPOSE["services"][service]["environment"]["PORT"])
        assert jobs[service].get("metrics_path", "/metrics") == "/metrics"
    volume = next(v for v in COMPOSE["services"]["prometheus"]["volumes"] if "prometheus.yml" in v)
    assert volume.split(":")[0] == "./deploy/prometheus/prometheus.yml"


def test_the_dashboard_reads_the_provisioned_datasource() -> None:
    (datasource,) = DATASOURCES["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    for panel in panels():
        assert panel["datasource"]["uid"] == datasource["uid"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == datasource["uid"]


def test_the_dashboard_is_loaded_from_where_compose_mounts_it() -> None:
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/pactwatch.yml").read_text()
    )["providers"][0]
    grafana = COMPOSE["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/pactwatch.json"


def test_every_panel_queries_known_metrics_and_every_metric_has_a_panel() -> None:
    used: set[str] = set()
    for expr in expressions():
        assert expr.count("(") == expr.count(")"), expr
        names = set(re.findall(r"\b(pactwatch_\w+|up)\b(?=\s*[{\[)])", expr))
        assert names, f"no metric in {expr}"
        for name in names - {"up"}:
            assert name in METRICS, f"unknown metric {name}"
            for label in re.findall(r"(?:by|without) \(([^)]*)\)", expr):
                grouped = {x.strip() for x in label.split(",")}
                assert grouped <= METRICS[name] | {"job"}, f"{name} has no label {grouped}"
        used |= names
    assert set(METRICS) <= used


def test_latency_and_batch_panels_are_quantiles_of_histograms() -> None:
    for expr in expressions():
        if "_bucket" in expr:
            assert expr.startswith("histogram_quantile(")
            assert "le" in re.findall(r"by \(([^)]*)\)", expr)[0]


def test_dashboard_titles_and_ids_are_unique() -> None:
    ids = [p["id"] for p in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in panels()]
    assert len(titles) == len(set(titles))
    assert DASHBOARD["uid"]
    for panel in panels():
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24
