"""``pactwatch feeds add|list|remove``: the RSS/Atom feeds the ingest service polls.

The subscriptions live in Redis behind the ingest API (POST/GET/DELETE /feeds); this
command only talks to that API, so it works against any ingest replica.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any
from urllib.parse import quote

from pactwatch_cli.ingesting import DEFAULT_INGEST_URL, auth_headers, ingest_url_from, key_hint

EXIT_CODES = """\
exit status:
  0    done
  1    the ingest API refused (invalid URL or interval, refused address, unknown feed)
  2    the ingest API could not be reached
"""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    feeds = sub.add_parser(
        "feeds",
        help="manage the RSS/Atom feeds ingest polls",
        description="Subscribe to RSS/Atom feeds; the ingest service polls them on schedule.",
    )
    commands = feeds.add_subparsers(dest="feeds_command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        dest="ingest_url",
        default=None,
        help=f"ingest API base URL (default: $PACTWATCH_INGEST_URL or {DEFAULT_INGEST_URL})",
    )
    add = commands.add_parser(
        "add",
        parents=[common],
        help="subscribe to a feed (polled at once, then every --every)",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add.add_argument("feed_url", metavar="URL", help="the feed's http(s) URL")
    add.add_argument(
        "--every",
        default=None,
        metavar="INTERVAL",
        help="polling interval: 90s, 5m, 1h30m, 1d (default: the service's, 5m)",
    )
    add.set_defaults(handler=_add)
    listing = commands.add_parser(
        "list",
        parents=[common],
        help="show the feeds, their schedule and last error",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("--json", action="store_true", help="print the API's JSON")
    listing.set_defaults(handler=_list)
    remove = commands.add_parser(
        "remove",
        parents=[common],
        help="unsubscribe from a feed",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    remove.add_argument("feed", metavar="URL|ID", help="the feed's URL or its id")
    remove.set_defaults(handler=_remove)


def _request(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> Any:
    """The API's response, or None after printing why it could not be reached."""
    import httpx

    base = ingest_url_from(args.ingest_url)
    try:
        return httpx.request(
            method, f"{base}{path}", headers=auth_headers(), timeout=30.0, **kwargs
        )
    except httpx.TransportError as exc:
        print(f"pactwatch feeds: ingest API unreachable at {base}: {exc}", file=sys.stderr)
        return None


def _refused(response: Any) -> int:
    try:
        message = response.json().get("error") or response.text
    except ValueError:
        message = response.text
    hint = key_hint(response.status_code)
    print(f"pactwatch feeds: HTTP {response.status_code}: {message}{hint}", file=sys.stderr)
    return 1


def _add(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"url": args.feed_url}
    if args.every is not None:
        body["every"] = args.every
    response = _request(args, "POST", "/feeds", json=body)
    if response is None:
        return 2
    if response.status_code not in (200, 201):
        return _refused(response)
    feed = response.json()
    verb = "added" if response.status_code == 201 else "already subscribed; interval set for"
    print(f"{verb} {feed['id']} {feed['url']} (every {feed['every']})")
    return 0


def _list(args: argparse.Namespace) -> int:
    response = _request(args, "GET", "/feeds")
    if response is None:
        return 2
    if response.status_code != 200:
        return _refused(response)
    feeds = response.json()["feeds"]
    if args.json:
        print(json.dumps(feeds, indent=2))
        return 0
    if not feeds:
        print("no feeds; add one with: pactwatch feeds add URL [--every 5m]")
        return 0
    print(render_feeds(feeds))
    return 0


def render_feeds(feeds: list[dict[str, Any]]) -> str:
    """A table of the feeds, each followed by its last error when it has one."""
    header = ("ID", "EVERY", "LAST POLLED", "STATUS", "ERRORS", "NEXT POLL", "ARTICLES", "URL")
    rows = [
        (
            f["id"],
            f["every"],
            _when(f.get("last_polled")),
            str(f.get("last_status") or "-"),
            str(f.get("error_count", 0)),
            _when(f.get("next_poll")),
            str(f.get("articles", 0)),
            f["url"],
        )
        for f in feeds
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row, feed in zip([header, *rows], [None, *feeds], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]))
        if feed and feed.get("last_error"):
            lines.append(f"    last error: {feed['last_error']}")
    return "\n".join(lines)


def _when(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M:%SZ")


def _remove(args: argparse.Namespace) -> int:
    feed = args.feed
    if "://" in feed:
        response = _request(args, "DELETE", "/feeds", params={"url": feed})
    else:
        response = _request(args, "DELETE", f"/feeds/{quote(feed, safe='')}")
    if response is None:
        return 2
    if response.status_code != 204:
        return _refused(response)
    print(f"removed {feed}")
    return 0
