"""The benchmark's targets (issues #3 to #8) checked against a run, and its table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Check = tuple[str, str, Callable[[dict[str, Any]], float | None], Callable[[float], bool]]

TARGETS: list[Check] = [
    (
        "pipeline / bare nlp.pipe, equal cores",
        ">= 0.90",
        lambda r: r["ratio"],
        lambda v: v >= 0.90,
    ),
    (
        "the same with 30% near-duplicates",
        ">= 1.25",
        lambda r: r["ratio_with_duplicates"],
        lambda v: v >= 1.25,
    ),
    (
        "2 extractor replicas / 1",
        ">= 1.7",
        lambda r: r["scaling_2_vs_1"],
        lambda v: v >= 1.7,
    ),
    (
        "extractor extract_many / bare nlp.pipe",
        ">= 0.85",
        lambda r: r["extractor_vs_bare"]["ratio"],
        lambda v: v >= 0.85,
    ),
    (
        "ingest articles/s",
        ">= 2000",
        lambda r: r["stage_articles_per_s"]["ingest"],
        lambda v: v >= 2000,
    ),
    (
        "deduplicator articles/s",
        ">= 1000",
        lambda r: r["stage_articles_per_s"]["deduplicator"],
        lambda v: v >= 1000,
    ),
    (
        "indexer articles/s (SQLite)",
        ">= 1000",
        lambda r: r["stage_articles_per_s"]["indexer"],
        lambda v: v >= 1000,
    ),
    (
        "ingest->alert p50 ms at half capacity",
        "< 200",
        lambda r: r["latency_ms"]["ingest_to_alert"]["p50"],
        lambda v: v < 200,
    ),
    (
        "ingest->alert p99 ms at half capacity",
        "< 1000",
        lambda r: r["latency_ms"]["ingest_to_alert"]["p99"],
        lambda v: v < 1000,
    ),
    (
        "search p95 ms",
        "< 50",
        lambda r: r["search"]["latency_ms"]["p95"],
        lambda v: v < 50,
    ),
    (
        "extractor peak RSS MiB",
        "< 500",
        lambda r: r["peak_rss_mb"].get("extractor"),
        lambda v: v < 500,
    ),
]


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with the measured value and whether it is met (None: not measured)."""
    out = []
    for name, target, measure, ok in TARGETS:
        value = measure(results)
        out.append(
            {
                "name": name,
                "target": target,
                "measured": value,
                "met": None if value is None else ok(value),
            }
        )
    return out


def _p(stats: dict[str, Any] | None) -> str:
    if not stats or stats.get("p50") is None:
        return "n/a"
    return f"{stats['p50']:.0f} / {stats['p95']:.0f} / {stats['p99']:.0f}  (n={stats['count']})"


def table(r: dict[str, Any]) -> str:
    """The run as a table a person reads."""
    lines: list[str] = []

    def row(label: str, value: Any, note: str = "") -> None:
        lines.append(f"  {label:<46} {value!s:<30} {note}".rstrip())

    def section(title: str) -> None:
        lines.append("")
        lines.append(title)

    lines.append(
        f"pactwatch benchmark: {r['cores']} cores, {r['articles']} articles (seed {r['seed']}), "
        f"load {r['load_average_before']} -> {r['load_average_after']}"
    )
    evb = r["extractor_vs_bare"]
    section("NLP alone (same texts, same model, same excluded pipes)")
    row("bare nlp.pipe, 1 process", f"{r['baseline_articles_per_s']} articles/s")
    row(
        f"bare nlp.pipe, {r['baseline_parallel_processes']} processes",
        f"{r['baseline_parallel_articles_per_s']} articles/s",
        f"CPU utilisation {r['parallel_bare'].get('cpu_utilisation')}",
    )
    row(
        "Extractor.extract_many (rules included)",
        f"{evb['extractor_articles_per_s']} articles/s",
        f"ratio {evb['ratio']} to bare",
    )
    row(
        "CPU ms per article: bare / extractor",
        f"{evb.get('bare_cpu_ms_per_article')} / {evb.get('extractor_cpu_ms_per_article')}",
        f"{r['parallel_bare'].get('cpu_ms_per_article')} in the parallel bare run",
    )
    section(f"Pipeline: five services as processes, {r['extractor_replicas']} extractor(s)")
    row("first POST to last indexed", f"{r['pipeline_articles_per_s']} articles/s")
    row("ratio to bare nlp.pipe, equal cores", r["ratio"])
    row("ratio to bare nlp.pipe, 1 process", r["ratio_to_single_process"])
    row(
        f"with {r['duplicate_share']:.0%} near-duplicates",
        f"{r['pipeline_with_duplicates_articles_per_s']} articles/s",
        f"{r['duplicates_detected']} of {r['duplicates_generated']} caught",
    )
    row("ratio with duplicates, equal cores", r["ratio_with_duplicates"])
    row(
        "CPU ratio, without / with duplicates",
        f"{r.get('cpu_ratio')} / {r.get('cpu_ratio_with_duplicates')}",
        "bare CPU per article / pipeline's: unmoved by other load",
    )
    for n, rate in r["scaling_articles_per_s"].items():
        row(f"{n} extractor replica(s)", f"{rate} articles/s")
    row("scaling 2 vs 1", r["scaling_2_vs_1"])
    main = r["runs"]["pipeline"]
    if "cpu_ms_per_article" in main:
        per = main["cpu_ms_per_article"]
        row(
            "CPU ms per article, by process",
            ", ".join(f"{k} {v:g}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])),
        )
        row(
            "our processes' share of the machine's CPU",
            main["cpu_share_of_machine"],
            "well below 1 while saturated: other work had the rest",
        )
    lat = r["latency_ms"]
    section(
        f"Latency at half capacity: {lat['rate_articles_per_s']} articles/s, "
        f"{lat['webhook_subscriptions']} webhook subscriptions (p50 / p95 / p99 ms)"
    )
    row("ingest -> indexed", _p(lat["ingest_to_indexed"]))
    row("ingest -> alert", _p(lat["ingest_to_alert"]))
    row(
        "ingest -> webhook received",
        _p(lat["ingest_to_webhook"]),
        f"{lat['webhook_deliveries']} deliveries",
    )
    section("Each stage alone (messages/s, one process; CPU ms per message: service, Redis)")
    stages = r["stages"]
    labels = {
        "ingest": ("ingest (HTTP, batches of 100)", "ingest"),
        "deduplicator": ("deduplicator", "deduplicator"),
        "indexer": ("indexer, SQLite", "indexer"),
        "indexer-postgres": ("indexer, PostgreSQL", "indexer"),
        "notifier": ("notifier", "notifier"),
    }
    for key, (label, process) in labels.items():
        stage = stages.get(key)
        if stage is None:
            pg = r["indexer_postgres"]
            row(label, pg.get("error", "not measured"))
            continue
        cpu = stage.get("cpu_ms_per_message", {})
        note = f"cpu {cpu.get(process, '?')}, redis {cpu.get('redis', '?')}"
        if key == "notifier":
            note += f"; {stage.get('alerts_per_s')} alerts/s"
        row(label, stage["per_s"], note)
    s = r["search"]
    section(f"Search: SQLite index of {s['index_articles']} generated articles, over HTTP")
    row("p50 / p95 / p99 ms", _p(s["latency_ms"]))
    row("index built in-process", f"{s['build_articles_per_s']} articles/s")
    section("Peak resident memory (MiB)")
    for name, value in sorted(r["peak_rss_mb"].items()):
        row(name, value)
    section("Targets")
    for t in r["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[t["met"]]
        if t["name"].startswith("search") and s["index_articles"] < 100_000:
            verdict += f" on {s['index_articles']} articles only (BENCH_SEARCH=1 for 100,000)"
        row(t["name"], t["measured"], f"{t['target']:<8} {verdict}")
    return "\n".join(lines)
