"""``pactwatch dedup --input FILE.jsonl``: the deduplicator's logic offline.

Prints ``{"id", "duplicate_of"}`` per line (plus how it matched), in the file's order, with
the claims held in memory instead of Redis: the same code decides.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pactwatch.contracts import Article

DEFAULT_THRESHOLD = 0.5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dedup", help="find duplicate articles in a JSONL file, offline")
    p.add_argument("--input", required=True, type=Path, help="articles, one JSON object a line")
    p.add_argument(
        "--threshold",
        type=float,
        default=DEFAULT_THRESHOLD,
        help="Jaccard similarity of 5-word shingles from which a text is a near-duplicate",
    )
    p.set_defaults(handler=run_dedup)


def dedup_articles(
    articles: Iterable[Article], threshold: float = DEFAULT_THRESHOLD
) -> list[dict[str, Any]]:
    """Judge each article against those before it, as the service would, one at a time."""
    import anyio
    from pactwatch_deduplicator.judging import MemoryClaims, MemoryLsh, judge
    from pactwatch_deduplicator.nearness import Fingerprinter

    claims, lsh = MemoryClaims(), MemoryLsh()
    fingerprinter = Fingerprinter(threshold=threshold)
    start = datetime.now(UTC)

    async def judge_all() -> list[dict[str, Any]]:
        rows = []
        for n, article in enumerate(articles):
            when = start + timedelta(milliseconds=n)
            (verdict,) = await judge(claims, lsh, fingerprinter, [(article, when)])
            rows.append(
                {
                    "id": article.id,
                    "duplicate_of": verdict.duplicate_of,
                    "method": verdict.method,
                    "similarity": verdict.similarity if verdict.duplicate_of else None,
                }
            )
        return rows

    return anyio.run(judge_all)


def run_dedup(args: argparse.Namespace) -> int:
    from pactwatch_cli.extraction import read_articles

    for row in dedup_articles(read_articles(args.input), args.threshold):
        sys.stdout.write(json.dumps(row) + "\n")
    return 0
