"""``make bench``: pactwatch against bare spaCy on the same articles, in one run.

A benchmark, not a test (pytest never collects it). It prints a table and writes
``.bench/results.json``. Settings, from the environment:

- ``BENCH_ARTICLES`` (600): generated articles per pipeline run;
- ``BENCH_SEED`` (20211027): the generator's seed;
- ``BENCH_EXTRACTORS`` (one per core): extractor replicas of the main runs;
- ``BENCH_STAGE_MESSAGES`` (3000): messages per stage-alone run (at least BENCH_ARTICLES);
- ``BENCH_SEARCH_ARTICLES`` (5000), or ``BENCH_SEARCH=1`` for the 100,000 of issue #5:
  the size of the index searched;
- ``BENCH_POSTGRES_URL`` (postgresql://postgres@127.0.0.1:5432/test): where the PostgreSQL
  indexing rate is measured, in a schema of its own dropped afterwards ("" to skip).

Machines are noisy: compare the ratios, which are measured side by side in the same run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench import report
from tests.bench.generator import DEFAULT_SEED, BenchArticle, generate
from tests.bench.runs import (
    PipelineResult,
    StageResult,
    Workspace,
    deduplicator_stage,
    indexer_stage,
    ingest_stage,
    load_of_machine,
    notifier_stage,
    percentiles,
    pipeline_run,
    postgres_schema_url,
    replicate_enriched,
    rss_of,
    run_summary,
    search_latency,
    stage_summary,
)
from tests.support import ROOT, RedisServer

OUT = ROOT / ".bench"
WEBHOOK_SUBSCRIPTIONS = 100
DUPLICATE_SHARE = 0.3
DEFINITIONS = {
    "baseline_articles_per_s": "bare nlp.pipe (the extractor's model and excluded pipes, "
    "batches of 32) in one process over the texts the extractor reads",
    "baseline_parallel_articles_per_s": "the same in as many processes as extractor replicas, "
    "the texts dealt out between them",
    "pipeline_articles_per_s": "articles POSTed to ingest in batches of 50 as fast as it "
    "answers, from the first POST to the last article's indexed_at in the index",
    "ratio": "pipeline_articles_per_s / baseline_parallel_articles_per_s (equal cores)",
    "ratio_with_duplicates": "the pipeline with 30% near-duplicates / the same baseline",
    "scaling_2_vs_1": "pipeline throughput with 2 extractor replicas / with 1",
    "latency_ms.ingest_to_indexed": "indexed_at - ingested_at of each article, at half the "
    "measured capacity, one article per POST at a steady rate",
    "latency_ms.ingest_to_alert": "latency_ms of each alert (the notifier's own measure)",
    "latency_ms.ingest_to_webhook": "arrival at a local receiver - (detected_at - latency_ms)",
    "stage_articles_per_s": "one service alone: ingest over HTTP; the workers from the moment "
    "their input is appended to the stream until their group has acknowledged all of it",
    "cpu_ms_per_article": "CPU time of each process during the timed part, per article",
    "cpu_ratio": "bare nlp.pipe CPU ms per article (parallel run) / the pipeline's CPU ms per "
    "article summed over its processes and Redis: the throughput ratio to expect when every "
    "core is the benchmark's; it does not move with other load on the machine",
}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def say(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def nlp_yardsticks(articles: list[BenchArticle], processes: int, work: Path) -> dict[str, Any]:
    """Bare nlp.pipe (1 and ``processes`` processes) and the extractor against it, in a
    process of its own."""
    path = work / "articles.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(a.payload()) + "\n" for a in articles), "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.nlp", str(path), "--processes", str(processes)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _cpu_ratio(bare: dict[str, Any], run: dict[str, Any]) -> float | None:
    """Bare nlp.pipe's CPU per article / the pipeline's (every service and Redis; not this
    driver): the ratio the machine would give if every core were the benchmark's. Unlike the
    throughput ratio it does not move when other work takes cores away."""
    per = run.get("cpu_ms_per_article")
    if not per or not bare.get("cpu_ms_per_article"):
        return None
    ours = sum(float(v) for k, v in per.items() if k != "bench driver")
    return round(float(bare["cpu_ms_per_article"]) / ours, 3)


@contextmanager
def postgres_index(base: str) -> Iterator[str]:
    """An INDEX_URL in a fresh schema of ``base``, dropped afterwards."""
    import psycopg

    schema = f"pactwatch_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield postgres_schema_url(base, schema)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> int:
    cores = os.cpu_count() or 1
    count = _int("BENCH_ARTICLES", 600)
    seed = _int("BENCH_SEED", DEFAULT_SEED)
    replicas = _int("BENCH_EXTRACTORS", cores)
    stage_messages = max(count, _int("BENCH_STAGE_MESSAGES", 3000))
    search_articles = 100_000 if os.environ.get("BENCH_SEARCH") == "1" else 5000
    search_articles = _int("BENCH_SEARCH_ARTICLES", search_articles)
    postgres = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
    work = OUT / "work"
    work.mkdir(parents=True, exist_ok=True)
    load_before = load_of_machine()
    started_at = datetime.now(UTC)

    say(f"{cores} cores, load {load_before}; generating {count} articles (seed {seed})")
    originals = generate(count, seed=seed)
    with_duplicates = generate(count, seed=seed, duplicates=DUPLICATE_SHARE)
    warmup = generate(2 * replicas + 2, seed=seed + 1)
    latency_articles = originals[: max(60, count // 2)]

    say("NLP yardsticks: bare nlp.pipe (1 and N processes), extractor vs bare")
    nlp = nlp_yardsticks(originals, replicas, work)
    single = nlp["extractor_vs_bare"]["bare_articles_per_s"]
    parallel = nlp["parallel_bare"]["articles_per_s"]

    redis = RedisServer(work / "redis")
    redis.start()
    ws = Workspace(work, redis)
    runs: list[PipelineResult] = []
    stages: list[StageResult] = []
    try:
        say(f"pipeline, {replicas} extractor(s), no duplicates")
        main_run = pipeline_run(
            ws, "pipeline", originals, warmup, extractors=replicas, keep_enriched=True
        )
        runs.append(main_run)
        say(f"  {main_run.articles_per_s} articles/s")

        say(f"pipeline, {replicas} extractor(s), {DUPLICATE_SHARE:.0%} near-duplicates")
        dup_run = pipeline_run(
            ws, "pipeline-duplicates", with_duplicates, warmup, extractors=replicas
        )
        runs.append(dup_run)
        say(f"  {dup_run.articles_per_s} articles/s, {dup_run.duplicates} duplicates")

        scaling: dict[int, float] = {replicas: main_run.articles_per_s}
        for n in sorted({1, 2, cores} - {replicas}):
            say(f"pipeline, {n} extractor(s), for scaling")
            run = pipeline_run(ws, f"pipeline-{n}", originals, warmup, extractors=n)
            runs.append(run)
            scaling[n] = run.articles_per_s
            say(f"  {run.articles_per_s} articles/s")

        rate = main_run.articles_per_s / 2
        say(f"latency at half capacity: {rate:.1f} articles/s, {WEBHOOK_SUBSCRIPTIONS} webhooks")
        latency_run = pipeline_run(
            ws,
            "latency",
            latency_articles,
            warmup,
            extractors=replicas,
            rate=rate,
            subscriptions=WEBHOOK_SUBSCRIPTIONS,
        )
        runs.append(latency_run)

        say(f"stages alone: {stage_messages} messages each")
        stage_articles = generate(stage_messages, seed=seed + 2)
        ingest_result, ingested = ingest_stage(ws, stage_articles)
        stages.append(ingest_result)
        say(f"  ingest {ingest_result.per_s}/s")
        stages.append(deduplicator_stage(ws, ingested))
        say(f"  deduplicator {stages[-1].per_s}/s")
        enriched = replicate_enriched(main_run.enriched, stage_messages)
        stages.append(indexer_stage(ws, enriched))
        say(f"  indexer (SQLite) {stages[-1].per_s}/s")
        postgres_result: dict[str, Any]
        if postgres:
            try:
                with postgres_index(postgres) as index_url:
                    pg = indexer_stage(ws, enriched, name="indexer-postgres", index_url=index_url)
                stages.append(pg)
                postgres_result = stage_summary(pg)
                say(f"  indexer (PostgreSQL) {pg.per_s}/s")
            except Exception as exc:  # the figure is reported, not required
                postgres_result = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"  indexer (PostgreSQL) not measured: {exc}")
        else:
            postgres_result = {"error": "skipped (BENCH_POSTGRES_URL is empty)"}
        stages.append(notifier_stage(ws, enriched))
        say(f"  notifier {stages[-1].per_s}/s")

        say(f"search: {search_articles} generated articles in SQLite")
        search = search_latency(ws, generate(search_articles, seed=seed + 3))
    finally:
        redis.stop()

    by_stage = {s.name: s for s in stages}
    two_vs_one = round(scaling[2] / scaling[1], 3) if 1 in scaling and 2 in scaling else None
    results: dict[str, Any] = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cores": cores,
        "load_average_before": load_before,
        "load_average_after": load_of_machine(),
        "articles": count,
        "seed": seed,
        "extractor_replicas": replicas,
        "baseline_articles_per_s": single,
        "baseline_parallel_articles_per_s": parallel,
        "baseline_parallel_processes": replicas,
        "pipeline_articles_per_s": main_run.articles_per_s,
        "ratio": round(main_run.articles_per_s / parallel, 3),
        "ratio_to_single_process": round(main_run.articles_per_s / single, 3),
        "pipeline_with_duplicates_articles_per_s": dup_run.articles_per_s,
        "duplicate_share": DUPLICATE_SHARE,
        "duplicates_detected": dup_run.duplicates,
        "duplicates_generated": sum(1 for a in with_duplicates if a.duplicate_of),
        "ratio_with_duplicates": round(dup_run.articles_per_s / parallel, 3),
        "cpu_ratio": _cpu_ratio(nlp["parallel_bare"], run_summary(main_run)),
        "cpu_ratio_with_duplicates": _cpu_ratio(nlp["parallel_bare"], run_summary(dup_run)),
        "scaling_articles_per_s": {str(k): v for k, v in sorted(scaling.items())},
        "scaling_2_vs_1": two_vs_one,
        "latency_ms": {
            "rate_articles_per_s": round(rate, 2),
            "articles": latency_run.articles,
            "webhook_subscriptions": WEBHOOK_SUBSCRIPTIONS,
            "ingest_to_indexed": percentiles(latency_run.ingest_to_indexed_ms),
            "ingest_to_alert": percentiles(latency_run.alert_latencies_ms),
            "ingest_to_webhook": latency_run.webhooks.get("ingest_to_webhook_ms"),
            "webhook_deliveries": latency_run.webhooks.get("deliveries"),
            "sender_lateness_s": latency_run.lateness_s,
        },
        "stage_articles_per_s": {
            "ingest": by_stage["ingest"].per_s,
            "deduplicator": by_stage["deduplicator"].per_s,
            "indexer": by_stage["indexer"].per_s,
            "notifier": by_stage["notifier"].per_s,
        },
        "notifier_alerts_per_s": by_stage["notifier"].extra.get("alerts_per_s"),
        "indexer_postgres_articles_per_s": postgres_result.get("per_s"),
        "stages": {s.name: stage_summary(s) for s in stages},
        "indexer_postgres": postgres_result,
        "extractor_vs_bare": nlp["extractor_vs_bare"],
        "parallel_bare": nlp["parallel_bare"],
        "search": search,
        "peak_rss_mb": rss_of([*runs, *stages]),
        "runs": {r.name: run_summary(r) for r in runs},
    }
    results["targets"] = report.targets(results)
    results["definitions"] = DEFINITIONS
    OUT.mkdir(exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    print(report.table(results))
    say(f"wrote {OUT / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
