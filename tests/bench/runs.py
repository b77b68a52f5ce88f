"""The benchmark's measurements, each on a fresh Redis database and a fresh index.

- :func:`pipeline_run`: the five services as processes, articles through the ingest API
  (as fast as it accepts them, or at a steady rate), timed from the first POST to the last
  article indexed; per-article ingest-to-indexed latency from the index (``indexed_at`` minus
  ``ingested_at``), alert latencies from the alerts themselves.
- :func:`ingest_stage` and :func:`worker_stage`: one service alone. A worker is started on
  an empty stream; its input (real messages from an earlier run) is then appended in
  pipelined chunks and the clock runs until its consumer group has read and acknowledged
  every entry.
- :func:`search_latency`: an index built in-process from generated articles, served by the
  indexer, queried over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import redis
from faststream.redis.parser.binary import BinaryMessageFormatV1
from pactwatch.contracts import (
    ALERTS_STREAM,
    ALERTS_STREAM_FIELD,
    ARTICLES_DUPLICATES,
    ARTICLES_ENRICHED,
    ARTICLES_INGESTED,
    GROUP_DEDUPLICATOR,
    GROUP_INDEXER,
    GROUP_NOTIFIER,
    Article,
    ArticleEnriched,
)

from tests.bench.cluster import (
    Entry,
    IndexReader,
    base_env,
    batch_bodies,
    cpu_snapshot,
    group_drained,
    post_all,
    post_paced,
    read_stream,
    receiver_stats,
    service_rss,
    utc_now,
    wait_drained,
    wait_indexed,
    webhook_receiver,
    write_stream,
)
from tests.bench.generator import BenchArticle, targets
from tests.bench.profiling import profiled
from tests.support import RedisServer, Service, services, wait_until

ALL = ["ingest", "deduplicator", "extractor", "indexer", "notifier"]
PIPELINE_BATCH = 50
"""Articles per POST when the pipeline is fed as fast as ingest accepts."""
INGEST_BATCH = 100
"""Articles per POST in the ingest stage."""
WEBHOOK_DELIVERIES = "webhooks.deliveries"
WEBHOOK_RETRIES = "{webhooks.deliveries}:retries"


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99 (nearest rank) and the count; None when there is nothing to rank."""
    if not values:
        return {"p50": None, "p95": None, "p99": None, "count": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))], 1)

    return {"p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "count": len(ordered)}


@dataclass
class Workspace:
    """Where a benchmark run keeps its Redis, indexes and logs."""

    root: Path
    redis: RedisServer

    def fresh(self, name: str) -> Path:
        """An empty directory for one run; Redis emptied too."""
        path = self.root / name
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(parents=True)
        r = self.redis.client()
        r.flushall()
        r.close()
        return path


@dataclass
class PipelineResult:
    name: str
    extractors: int
    articles: int
    seconds: float
    articles_per_s: float
    ingest_to_indexed_ms: list[float]
    alert_latencies_ms: list[float]
    duplicates: int
    alerts: int
    peak_rss_mb: dict[str, float]
    rate: float | None = None
    lateness_s: float = 0.0
    webhooks: dict[str, Any] = field(default_factory=dict)
    enriched: list[Entry] = field(default_factory=list)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    """CPU used by each process kind while the articles went through (startup excluded)."""


def _subscribe(notifier: str, receiver: str, count: int, seed: int) -> None:
    """``count`` webhook subscriptions to the receiver: a tenth take every alert, the rest
    one party each (as analysts watching a country would)."""
    rng = random.Random(seed)
    codes = [c.code for c in targets()]
    with httpx.Client(base_url=notifier, timeout=30) as http:
        for n in range(count):
            body: dict[str, Any] = {"url": f"{receiver}/hook/{n}", "description": "bench"}
            if n % 10:
                body["filter"] = {"parties": [rng.choice(codes)]}
            answer = http.post("/subscriptions", json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"subscription refused: {answer.status_code} {answer.text}")


def _webhooks_settled(r: redis.Redis) -> bool:
    return (
        group_drained(r, ALERTS_STREAM, GROUP_NOTIFIER)
        and group_drained(r, WEBHOOK_DELIVERIES, GROUP_NOTIFIER)
        and not r.zcard(WEBHOOK_RETRIES)
    )


def _alert_latencies(r: redis.Redis, ids: set[str]) -> list[float]:
    out = []
    for _, fields in read_stream(r, ALERTS_STREAM):
        alert = orjson.loads(fields[ALERTS_STREAM_FIELD.encode()])
        if alert["article"]["id"] in ids:
            out.append(float(alert["latency_ms"]))
    return out


def pipeline_run(
    ws: Workspace,
    name: str,
    articles: Sequence[BenchArticle],
    warmup: Sequence[BenchArticle],
    *,
    extractors: int,
    rate: float | None = None,
    subscriptions: int = 0,
    keep_enriched: bool = False,
) -> PipelineResult:
    """Every service as a process; ``articles`` through the ingest API, as fast as it
    accepts them (``rate`` None) or one every ``1/rate`` s; timed from the first POST to the
    last article indexed. A few warm-up articles go through first (each extractor's first
    ``nlp.pipe`` pays for lazy set-up) and are left out of every figure."""
    work = ws.fresh(name)
    index = work / "index.sqlite3"
    env = base_env(ws.redis.url, f"sqlite:///{index}")
    r = ws.redis.client()
    reader = IndexReader(index)
    ids = {a.id for a in articles}
    with (
        services(ALL, env, work / "logs", {"extractor": extractors}) as started,
        _maybe_receiver(work / "logs", subscriptions) as receiver,
    ):
        ingest = started["ingest"][0].base_url
        if receiver:
            _subscribe(started["notifier"][0].base_url, receiver, subscriptions, len(articles))
        for body in batch_bodies([a.payload() for a in warmup], 1):
            post_all(ingest, [body], concurrency=1)
        wait_indexed(reader, len(warmup))
        lateness = 0.0
        bodies = batch_bodies([a.payload() for a in articles], 1 if rate else PIPELINE_BATCH)
        pids = _pids(ws, started)
        with profiled(name, started):
            cpu_before = cpu_snapshot(pids)
            started_at = utc_now()
            if rate is None:
                post_all(ingest, bodies)
            else:
                lateness = post_paced(ingest, bodies, rate)
            wait_indexed(reader, len(warmup) + len(articles))
            cpu_after = cpu_snapshot(pids)
        times = {k: v for k, v in reader.times().items() if k in ids}
        webhooks: dict[str, Any] = {}
        if receiver:
            wait_until(lambda: _webhooks_settled(r), timeout=120, what="webhook deliveries")
            stats = receiver_stats(receiver)
            webhooks = {
                "subscriptions": subscriptions,
                "deliveries": stats["deliveries"],
                "ingest_to_webhook_ms": percentiles(stats["latencies_ms"]),
            }
        alert_latencies = _alert_latencies(r, ids)
        result = PipelineResult(
            name=name,
            extractors=extractors,
            articles=len(articles),
            seconds=0.0,
            articles_per_s=0.0,
            ingest_to_indexed_ms=[
                (indexed - ingested).total_seconds() * 1000 for ingested, indexed in times.values()
            ],
            alert_latencies_ms=alert_latencies,
            duplicates=int(r.xlen(ARTICLES_DUPLICATES)),
            alerts=len(alert_latencies),
            peak_rss_mb=service_rss(started),
            rate=rate,
            lateness_s=round(lateness, 3),
            webhooks=webhooks,
            enriched=read_stream(r, ARTICLES_ENRICHED) if keep_enriched else [],
            cpu_seconds={k: round(cpu_after[k] - cpu_before.get(k, 0.0), 2) for k in cpu_after},
        )
    reader.close()
    r.close()
    last = max(indexed for _, indexed in times.values())
    result.seconds = round((last - started_at).total_seconds(), 3)
    result.articles_per_s = round(len(articles) / result.seconds, 2)
    return result


def _pids(ws: Workspace, started: Mapping[str, Sequence[Service]]) -> dict[str, list[int]]:
    """The processes whose CPU a run accounts for: the services, Redis, this driver."""
    pids = {n: [s.process.pid for s in group] for n, group in started.items()}
    if ws.redis.process is not None:
        pids["redis"] = [ws.redis.process.pid]
    pids["bench driver"] = [os.getpid()]
    return pids


def _per_message(
    before: Mapping[str, float], after: Mapping[str, float], messages: int
) -> dict[str, float]:
    return {k: round(1000 * (after[k] - before.get(k, 0.0)) / messages, 3) for k in after}


@contextmanager
def _maybe_receiver(logs: Path, subscriptions: int) -> Iterator[str | None]:
    if not subscriptions:
        yield None
        return
    with webhook_receiver(logs) as base:
        yield base


# --- one service alone -----------------------------------------------------------------------


@dataclass
class StageResult:
    name: str
    messages: int
    seconds: float
    per_s: float
    peak_rss_mb: dict[str, float]
    extra: dict[str, Any] = field(default_factory=dict)


def ingest_stage(
    ws: Workspace, articles: Sequence[BenchArticle], concurrency: int = 2
) -> tuple[StageResult, list[Entry]]:
    """Ingest and Redis only: batches of articles POSTed as fast as ingest answers. Returns
    what ingest published too (the deduplicator stage's input)."""
    work = ws.fresh("stage-ingest")
    env = base_env(ws.redis.url, f"sqlite:///{work / 'unused.sqlite3'}")
    bodies = batch_bodies([a.payload() for a in articles], INGEST_BATCH)
    r = ws.redis.client()
    with services(["ingest"], env, work / "logs") as started:
        # one small request first: the first request pays for lazy set-up
        post_all(started["ingest"][0].base_url, batch_bodies([articles[0].payload()], 1), 1)
        pids = _pids(ws, started)
        with profiled("stage-ingest", started):
            cpu_before = cpu_snapshot(pids)
            start = time.perf_counter()
            accepted = post_all(started["ingest"][0].base_url, bodies, concurrency)
            seconds = time.perf_counter() - start
            cpu_after = cpu_snapshot(pids)
        rss = service_rss(started)
    entries = read_stream(r, ARTICLES_INGESTED)[1:]
    r.close()
    result = StageResult(
        "ingest",
        accepted,
        round(seconds, 3),
        round(accepted / seconds, 1),
        rss,
        {
            "batch": INGEST_BATCH,
            "concurrent_requests": concurrency,
            "cpu_ms_per_message": _per_message(cpu_before, cpu_after, accepted),
        },
    )
    return result, entries


def worker_stage(
    ws: Workspace,
    name: str,
    service: str,
    stream: str,
    group: str,
    entries: Sequence[Entry],
    *,
    index_url: str | None = None,
) -> StageResult:
    """One worker alone, started on an empty stream; ``entries`` are then appended and the
    clock runs until its group has read and acknowledged every one."""
    work = ws.fresh(name)
    env = base_env(ws.redis.url, index_url or f"sqlite:///{work / 'index.sqlite3'}")
    r = ws.redis.client()
    with services([service], env, work / "logs") as started:
        pids = _pids(ws, started)
        with profiled(f"stage-{name}", started):
            cpu_before = cpu_snapshot(pids)
            start = time.time()
            write_stream(r, stream, [fields for _, fields in entries])
            loaded = time.time()
            end = wait_drained(r, stream, group, timeout=600)
            cpu_after = cpu_snapshot(pids)
        extra: dict[str, Any] = {
            "load_seconds": round(loaded - start, 3),
            "cpu_ms_per_message": _per_message(cpu_before, cpu_after, len(entries)),
        }
        if service == "notifier":
            alerts = int(r.xlen(ALERTS_STREAM))
            extra["alerts"] = alerts
            extra["alerts_per_s"] = round(alerts / (end - start), 1)
        if service == "deduplicator":
            extra["duplicates"] = int(r.xlen(ARTICLES_DUPLICATES))
        rss = service_rss(started)
    r.close()
    seconds = end - start
    rate = round(len(entries) / seconds, 1)
    return StageResult(name, len(entries), round(seconds, 3), rate, rss, extra)


def deduplicator_stage(ws: Workspace, ingested: Sequence[Entry]) -> StageResult:
    return worker_stage(
        ws, "deduplicator", "deduplicator", ARTICLES_INGESTED, GROUP_DEDUPLICATOR, ingested
    )


def indexer_stage(
    ws: Workspace, enriched: Sequence[Entry], *, name: str = "indexer", index_url: str | None = None
) -> StageResult:
    return worker_stage(
        ws, name, "indexer", ARTICLES_ENRICHED, GROUP_INDEXER, enriched, index_url=index_url
    )


def notifier_stage(ws: Workspace, enriched: Sequence[Entry]) -> StageResult:
    return worker_stage(ws, "notifier", "notifier", ARTICLES_ENRICHED, GROUP_NOTIFIER, enriched)


def replicate_enriched(entries: Sequence[Entry], total: int) -> list[Entry]:
    """At least ``total`` distinct enriched messages from the real ones of a pipeline run:
    copy k of an article gets a new id and URL, and it and its agreements move k weeks
    later, so that each copy is a new article reporting new agreements (new registry keys)."""
    if not entries:
        return []
    copies = -(-total // len(entries))
    return asyncio.run(_replicate(entries, copies))


async def _replicate(entries: Sequence[Entry], copies: int) -> list[Entry]:
    out: list[Entry] = []
    for k in range(copies):
        for entry_id, fields in entries:
            if k == 0:
                out.append((entry_id, fields))
                continue
            data, headers = BinaryMessageFormatV1.parse(fields[b"__data__"])
            message = orjson.loads(data)
            article = message["article"]
            article["id"] = f"{article['id']}-r{k}"
            if article.get("url"):
                article["url"] = f"{article['url']}?copy={k}"
            if article.get("published"):
                article["published"] = _later(article["published"], k)
            for record in message.get("agreements", []):
                signed = record.get("signed_on")
                if signed and len(signed) == 10:
                    record["signed_on"] = _later(signed, k)
            ArticleEnriched.model_validate(message)  # still a valid message
            encoded = await BinaryMessageFormatV1.encode(
                message=orjson.dumps(message),
                reply_to=None,
                headers={k_: v for k_, v in headers.items() if k_ != "correlation_id"},
                correlation_id=uuid.uuid4().hex,
            )
            out.append((entry_id, {b"__data__": encoded}))
    return out


def _later(day: str, weeks: int) -> str:
    return (date.fromisoformat(day) + timedelta(weeks=weeks)).isoformat()


# --- search ----------------------------------------------------------------------------------

QUERIES: list[dict[str, str]] = [
    {"q": "agreement"},
    {"q": "memorandum"},
    {"q": "defence cooperation"},
    {"q": "energy"},
    {"q": "trade investment"},
    {"q": "visa"},
    {"q": "students universities"},
    {"q": "declaration"},
    {"q": "foreign minister"},
    {"q": '"foreign ministers"'},
    {"q": '"strategic partnership"'},
    {"q": '"joint statement"'},
    {"q": '"natural gas"'},
    {"q": "energy OR mining"},
    {"q": "trade -visa"},
    {"q": "sign*"},
    {"q": "(defence OR security) cooperation"},
    {"q": "exclusive economic zone"},
    {"q": "remittances workers"},
    {"q": "summit communique"},
    {"q": "agreement", "from": "2020-01-01", "to": "2022-12-31"},
    {"q": "signed", "from": "2024-01-01"},
    {"q": "pharmaceuticals"},
    {"q": "consulate"},
]


def _search_queries(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    names = targets()
    out = []
    for n in range(count):
        query = dict(rng.choice(QUERIES))
        if n % 4 == 1:
            country = rng.choice(names)
            query["country"] = country.code
        elif n % 4 == 2:
            query["q"] = f"{query['q']} {rng.choice(names).name}"
        out.append(query)
    return out


async def _build_index(url: str, articles: Sequence[BenchArticle], batch: int) -> float:
    import logging

    import structlog
    from pactwatch_indexer.store import open_store
    from pactwatch_indexer.writing import Indexer

    # the indexer logs each batch; in the benchmark's own process that is noise
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    store = open_store(url)
    await store.open()
    indexer = Indexer(store)
    now = utc_now()
    try:
        start = time.perf_counter()
        for i in range(0, len(articles), batch):
            await indexer.index(
                [
                    ArticleEnriched(
                        article=Article(
                            id=a.id,
                            url=a.url,
                            source=a.source,
                            published=a.published,
                            title=a.title,
                            text=a.text,
                            language="en",
                        ),
                        ingested_at=now,
                        countries=a.countries,
                    )
                    for a in articles[i : i + batch]
                ]
            )
        return time.perf_counter() - start
    finally:
        await store.close()


def search_latency(
    ws: Workspace, articles: Sequence[BenchArticle], queries: int = 300, seed: int = 1
) -> dict[str, Any]:
    """Build a SQLite index of ``articles`` in-process (no NLP fields), serve it with the
    indexer, and time ``queries`` searches over HTTP, one at a time, after a warm-up."""
    work = ws.fresh("search")
    url = f"sqlite:///{work / 'index.sqlite3'}"
    build_s = asyncio.run(_build_index(url, articles, 500))
    env = base_env(ws.redis.url, url)
    timings: list[float] = []
    hits: list[int] = []
    with (
        services(["indexer"], env, work / "logs") as started,
        httpx.Client(base_url=started["indexer"][0].base_url, timeout=60) as http,
    ):
        plan = _search_queries(queries + 20, seed)
        for n, params in enumerate(plan):
            t0 = time.perf_counter()
            answer = http.get("/search", params=params)
            elapsed = (time.perf_counter() - t0) * 1000
            if answer.status_code != 200:
                raise RuntimeError(f"search {params} answered {answer.status_code}: {answer.text}")
            if n >= 20:  # the first ones warm the page cache
                timings.append(elapsed)
                hits.append(len(answer.json()["hits"]))
        rss = service_rss(started)
    return {
        "index_articles": len(articles),
        "build_seconds": round(build_s, 2),
        "build_articles_per_s": round(len(articles) / build_s, 1),
        "queries": len(timings),
        "latency_ms": percentiles(timings),
        "mean_hits": round(statistics.mean(hits), 1) if hits else 0,
        "indexer_peak_rss_mb": rss.get("indexer"),
    }


def load_of_machine() -> list[float]:
    """The 1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()]


def stage_summary(result: StageResult) -> dict[str, Any]:
    return {
        "messages": result.messages,
        "seconds": result.seconds,
        "per_s": result.per_s,
        **result.extra,
    }


def run_summary(result: PipelineResult) -> dict[str, Any]:
    out: dict[str, Any] = {
        "extractors": result.extractors,
        "articles": result.articles,
        "seconds": result.seconds,
        "articles_per_s": result.articles_per_s,
        "duplicates_detected": result.duplicates,
        "alerts": result.alerts,
        "ingest_to_indexed_ms": percentiles(result.ingest_to_indexed_ms),
        "ingest_to_alert_ms": percentiles(result.alert_latencies_ms),
    }
    if result.rate is not None:
        out["rate_articles_per_s"] = round(result.rate, 2)
        out["sender_lateness_s"] = result.lateness_s
    if result.webhooks:
        out["webhooks"] = result.webhooks
    if result.cpu_seconds:
        out["cpu_seconds"] = result.cpu_seconds
        out["cpu_share_of_machine"] = round(
            sum(result.cpu_seconds.values()) / (result.seconds * (os.cpu_count() or 1)), 3
        )
        out["cpu_ms_per_article"] = {
            k: round(1000 * v / result.articles, 2) for k, v in result.cpu_seconds.items()
        }
    return out


def rss_of(results: Sequence[PipelineResult | StageResult]) -> dict[str, float]:
    """The highest peak of each service over several runs."""
    out: dict[str, float] = {}
    for result in results:
        for name, value in result.peak_rss_mb.items():
            out[name] = max(out.get(name, 0.0), value)
    return out


def postgres_schema_url(base: str, schema: str) -> str:
    return f"{base}?options=-csearch_path%3D{schema}"
