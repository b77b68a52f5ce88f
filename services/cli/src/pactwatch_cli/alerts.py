"""``pactwatch alerts tail``: print alerts from the durable stream as they arrive.

It reads ``alerts.agreements`` straight from Redis (XREAD BLOCK), so it needs no pactwatch
service, only Redis; and, started again with ``--since <last id>``, it prints what arrived
while it was stopped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from pactwatch_cli.filters import add_filter_options
from pactwatch_cli.filters import alert_filter as filter_from

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"

EXIT_CODES = """\
exit status:
  0    at least one alert printed (--count reached, or --timeout or end after some)
  1    --timeout elapsed before any alert was printed
  2    invalid arguments (filter, --since)
  3    Redis could not be reached, or failed
  130  interrupted (Ctrl-C)
"""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = sub.add_parser(
        "alerts",
        help="follow the alert stream",
        description="Read the durable alert stream (alerts.agreements) from Redis.",
    )
    commands = alerts.add_subparsers(dest="alerts_command", required=True, metavar="COMMAND")
    tail = commands.add_parser(
        "tail",
        help="print alerts as they arrive",
        description="Print alerts as they arrive, filtered; by default only new ones. "
        "Each filter given must hold; repeated --party/--kind/--keyword mean any of them.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_filter_options(tail)
    tail.add_argument(
        "--since",
        metavar="ID",
        help="start after this stream id (0: every alert kept); default: only new alerts",
    )
    tail.add_argument("--json", action="store_true", help="one alert JSON document per line")
    tail.add_argument("--count", type=_positive_int, metavar="N", help="exit after N alerts")
    tail.add_argument("--timeout", type=_positive_float, metavar="S", help="exit after S seconds")
    tail.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        help="Redis holding the alert stream (default: $REDIS_URL, else %(default)s)",
    )
    tail.set_defaults(handler=tail_alerts)


def tail_alerts(args: argparse.Namespace) -> int:
    """Follow the alert stream until --count, --timeout or Ctrl-C; see EXIT_CODES."""
    from pactwatch.alertfeed import check_stream_id

    alert_filter = filter_from(args, "pactwatch alerts tail")
    if alert_filter is None:
        return 2
    try:
        since = check_stream_id(args.since.strip()) if args.since is not None else None
    except ValueError as exc:
        print(f"pactwatch alerts tail: --since: {exc}", file=sys.stderr)
        return 2
    try:
        return _follow(args, alert_filter, since)
    except KeyboardInterrupt:
        return 130


def _follow(args: argparse.Namespace, alert_filter: Any, since: str | None) -> int:
    import redis
    from pactwatch.alertfeed import decode_entry
    from pactwatch.contracts import ALERTS_STREAM

    deadline = time.monotonic() + args.timeout if args.timeout else None
    # reads block up to 5 s: the socket must wait longer than that (redis-py's default is 5 s)
    client = redis.Redis.from_url(args.redis_url, socket_connect_timeout=5, socket_timeout=15)
    try:
        if since is None:
            newest: Any = client.xrevrange(ALERTS_STREAM, count=1)
            since = newest[0][0].decode() if newest else "0-0"
    except redis.RedisError as exc:
        print(f"pactwatch alerts tail: cannot read {args.redis_url}: {exc}", file=sys.stderr)
        return 3
    position = since
    printed = 0
    failing = False
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return 0 if printed else 1
        block_ms = 5000 if remaining is None else max(1, min(5000, int(remaining * 1000)))
        try:
            result: Any = client.xread({ALERTS_STREAM: position}, count=100, block=block_ms)
        except redis.RedisError as exc:
            # Redis restarting: keep the position and try again, so nothing is missed
            if not failing:
                print(f"pactwatch alerts tail: {exc}; retrying", file=sys.stderr, flush=True)
            failing = True
            time.sleep(min(1.0, max(0.0, remaining or 1.0)))
            continue
        if failing:
            print("pactwatch alerts tail: reconnected", file=sys.stderr, flush=True)
            failing = False
        for _stream, entries in result or ():
            for raw_id, fields in entries:
                position = raw_id.decode()
                decoded = decode_entry(fields)
                if decoded is None or not alert_filter.matches(decoded[1]):
                    continue
                raw, alert = decoded
                line = raw.decode() if args.json else format_alert(alert, position)
                sys.stdout.write(line + "\n")
                sys.stdout.flush()  # one alert at a time, also through a pipe (honcho)
                printed += 1
                if args.count and printed >= args.count:
                    return 0


def format_alert(alert: dict[str, Any], entry_id: str) -> str:
    """Two lines a person reads at a glance: who signed what, when, how sure; then the
    evidence and where it comes from."""
    codes = list(alert.get("parties") or ("?", "?"))
    names = list(alert.get("party_names") or codes)
    who = " – ".join(f"{c} {n}" if n != c else c for c, n in zip(codes, names, strict=False))
    article = alert.get("article") or {}
    confidence = alert.get("confidence")
    sure = f"{float(confidence):.2f}" if isinstance(confidence, int | float) else "?"
    source = " ".join(str(x) for x in (article.get("source"), article.get("url")) if x)
    evidence = " ".join(str(alert.get("evidence") or "").split())
    if len(evidence) > 160:
        evidence = evidence[:159] + "…"
    first = (
        f"{who} · {alert.get('kind', '?')} · {alert.get('title', '')}"
        f" · signed {alert.get('signed_on') or 'undated'} ({alert.get('freshness', '?')})"
        f" · confidence {sure}"
    )
    quoted = f"“{evidence}” — " if evidence else ""
    return f"{first}\n  {quoted}{source or 'unknown source'} · id {entry_id}"
