"""``pactwatch search`` and ``pactwatch agreements``: ask the indexer's HTTP API.

Both print readable lines by default and the API's JSON with ``--json``. When the indexer
cannot be reached or answers an error, they say so on stderr and exit with status 1.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
from typing import Any

from pactwatch_cli.ingesting import auth_headers

DEFAULT_INDEXER_URL = "http://127.0.0.1:8001"

EXIT_CODES = """\
exit status:
  0    the indexer answered (even with no results)
  1    the indexer could not be reached, or refused the query (the reason is printed)
  2    invalid arguments
"""

Params = list[tuple[str, str | int | float | bool | None]]
_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError("must be between 1 and 100")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("PACTWATCH_INDEXER_URL", DEFAULT_INDEXER_URL),
        help="the indexer's base URL (default: $PACTWATCH_INDEXER_URL or %(default)s)",
    )
    parser.add_argument("--limit", type=_limit, default=20, metavar="N", help="1 to 100")
    parser.add_argument("--cursor", help="continue after the page that printed this cursor")
    parser.add_argument(
        "--from", dest="date_from", metavar="YYYY-MM-DD", help="on or after this day"
    )
    parser.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="on or before")
    parser.add_argument("--json", action="store_true", help="print the API's JSON answer")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    search = sub.add_parser(
        "search",
        help="full-text search of the indexed articles",
        description='Search the indexed articles: words, "phrases", prefix*, OR, -excluded.',
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    search.add_argument("query", help="what to look for, e.g. '\"Shusha Declaration\"'")
    search.add_argument(
        "--country",
        action="append",
        default=[],
        metavar="ISO3",
        help="articles mentioning this country (repeat: all of them)",
    )
    search.add_argument("--source", help="articles from this outlet only")
    search.add_argument(
        "--no-duplicates", action="store_true", help="leave out articles that repeat another"
    )
    _common(search)
    search.set_defaults(handler=run_search)

    agreements = sub.add_parser(
        "agreements",
        help="list the agreements found, newest first",
        description="List the agreement registry, newest first, with mention counts.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    agreements.add_argument(
        "--party",
        action="append",
        default=[],
        metavar="ISO3",
        help="agreements this country is party to (repeat: between all of them)",
    )
    agreements.add_argument("--kind", help="memorandum, agreement, treaty, declaration...")
    agreements.add_argument("--status", help="signed, planned, past_reference or cancelled")
    _common(agreements)
    agreements.set_defaults(handler=run_agreements)


def _params(args: argparse.Namespace) -> Params:
    params: Params = [("limit", args.limit)]
    if args.cursor:
        params.append(("cursor", args.cursor))
    if args.date_from:
        params.append(("from", args.date_from))
    if args.date_to:
        params.append(("to", args.date_to))
    return params


def fetch(url: str, path: str, params: Params) -> dict[str, Any] | None:
    """GET the indexer's JSON; on failure print why on stderr and return None."""
    import httpx

    try:
        response = httpx.get(
            f"{url.rstrip('/')}{path}", params=params, headers=auth_headers(), timeout=30
        )
    except httpx.HTTPError as exc:
        print(f"pactwatch: cannot reach the indexer at {url}: {exc}", file=sys.stderr)
        return None
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code != 200 or not isinstance(body, dict):
        reason = body.get("error") if isinstance(body, dict) else None
        print(
            f"pactwatch: the indexer answered {response.status_code}: "
            f"{reason or response.text[:300] or response.reason_phrase}",
            file=sys.stderr,
        )
        return None
    return body


def run_search(args: argparse.Namespace) -> int:
    params = [("q", args.query), *(("country", c) for c in args.country), *_params(args)]
    if args.source:
        params.append(("source", args.source))
    if args.no_duplicates:
        params.append(("duplicates", "false"))
    body = fetch(args.url, "/search", params)
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    hits = body.get("hits", [])
    if not hits:
        print("no articles match")
    bold = sys.stdout.isatty()
    for n, hit in enumerate(hits, 1):
        meta = "  ".join(
            part
            for part in (hit.get("published") or "undated", hit.get("source") or "", hit["id"])
            if part
        )
        print(f"{n:>3}. {hit['title'] or '(no title)'}")
        print(
            f"     {meta}"
            + (f"  (duplicate of {hit['duplicate_of']})" if hit.get("duplicate_of") else "")
        )
        print(f"     {render_snippet(hit.get('snippet', ''), bold)}")
        if hit.get("url"):
            print(f"     {hit['url']}")
    _more(body)
    return 0


def run_agreements(args: argparse.Namespace) -> int:
    params = [*(("party", p) for p in args.party), *_params(args)]
    if args.kind:
        params.append(("kind", args.kind))
    if args.status:
        params.append(("status", args.status))
    body = fetch(args.url, "/agreements", params)
    if body is None:
        return 1
    if args.json:
        print(json.dumps(body, indent=2, ensure_ascii=False))
        return 0
    found = body.get("agreements", [])
    if not found:
        print("no agreements match")
    for agreement in found:
        parties = "–".join(p or "?" for p in agreement["parties"])
        print(
            f"{agreement.get('signed_on') or 'undated':<10}  {parties:<11}  "
            f"{agreement['kind']:<11}  {agreement['status']:<14}  {agreement['title']}"
        )
        first = agreement.get("first_article") or {}
        print(
            f"{'':<10}  {agreement['mentions']} mention(s) from {agreement['sources']} "
            f"source(s); first: {first.get('url') or first.get('id', '')}; key {agreement['key']}"
        )
    _more(body)
    return 0


def render_snippet(snippet: str, bold: bool) -> str:
    """The API's HTML snippet as terminal text: matches in bold on a terminal, else *starred*."""
    marked = _MARK.sub(
        lambda m: f"\x1b[1m{m.group(1)}\x1b[0m" if bold else f"*{m.group(1)}*", snippet
    )
    return html.unescape(marked).replace("\n", " ")


def _more(body: dict[str, Any]) -> None:
    if body.get("next_cursor"):
        print(f"(more: add --cursor {body['next_cursor']})", file=sys.stderr)
