"""``pactwatch subscribe`` / ``subscriptions`` / ``unsubscribe``: webhook subscriptions.

They talk to the notifier's HTTP API, so that the notifier alone decides which URLs are
acceptable (its address policy) and keeps the secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from pactwatch_cli.filters import add_filter_options
from pactwatch_cli.filters import alert_filter as filter_from
from pactwatch_cli.ingesting import auth_headers, key_hint

DEFAULT_NOTIFIER_URL = "http://127.0.0.1:8002"

EXIT_CODES = """\
exit status:
  0  done
  1  no such subscription
  2  invalid arguments, or the notifier refused them (its message says why; a missing
     or wrong API key too)
  3  the notifier could not be reached, or failed
"""


def _notifier_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--notifier-url",
        default=os.environ.get("PACTWATCH_NOTIFIER_URL", DEFAULT_NOTIFIER_URL),
        help="the notifier's HTTP API (default: $PACTWATCH_NOTIFIER_URL, else %(default)s)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    subscribe = sub.add_parser(
        "subscribe",
        help="subscribe a webhook to alerts",
        description="Subscribe a webhook: each matching alert is POSTed to it as JSON, signed "
        "with a secret shown once. Every filter given must hold; repeated --party/--kind/"
        "--keyword mean any of them.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    subscribe.add_argument("--webhook", required=True, metavar="URL", help="http(s) URL to POST to")
    add_filter_options(subscribe)
    subscribe.add_argument("--description", default="", help="a note for people")
    subscribe.add_argument("--json", action="store_true", help="print the answer as JSON")
    _notifier_option(subscribe)
    subscribe.set_defaults(handler=subscribe_webhook)

    listing = sub.add_parser(
        "subscriptions",
        help="list webhook subscriptions, or show one with its deliveries",
        description="List webhook subscriptions; with an ID, show that one with its counters, "
        "recent delivery attempts and dead deliveries.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument("id", nargs="?", metavar="ID", help="show this subscription in detail")
    listing.add_argument("--json", action="store_true", help="print JSON")
    _notifier_option(listing)
    listing.set_defaults(handler=list_subscriptions)

    unsubscribe = sub.add_parser(
        "unsubscribe",
        help="remove a webhook subscription",
        description="Remove a webhook subscription; deliveries still queued for it are dropped.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    unsubscribe.add_argument("id", metavar="ID")
    _notifier_option(unsubscribe)
    unsubscribe.set_defaults(handler=unsubscribe_webhook)


class _RequestError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None) -> Any:
    """One request to the notifier; its JSON answer, or _RequestError with an exit code."""
    import httpx

    url = args.notifier_url.rstrip("/") + path
    try:
        response = httpx.request(method, url, json=body, headers=auth_headers(), timeout=30)
    except httpx.HTTPError as exc:
        raise _RequestError(3, f"cannot reach the notifier at {args.notifier_url}: {exc}") from None
    if response.status_code == 204:
        return None
    try:
        payload = response.json()
    except ValueError:
        payload = {"error": response.text[:500]}
    if response.is_success:
        return payload
    message = payload.get("error") if isinstance(payload, dict) else None
    message = message or f"HTTP {response.status_code}"
    if response.status_code == 404:
        raise _RequestError(1, message)
    if response.status_code in (400, 401, 403, 409, 413, 422):
        raise _RequestError(2, message + key_hint(response.status_code))
    raise _RequestError(3, f"the notifier failed: {message}")


def _run(name: str, work: Any, args: argparse.Namespace) -> int:
    try:
        work(args)
    except _RequestError as failed:
        print(f"pactwatch {name}: {failed}", file=sys.stderr)
        return failed.code
    return 0


def subscribe_webhook(args: argparse.Namespace) -> int:
    """Create the subscription; print its id and, once, its secret."""
    from pactwatch.alertfeed import AlertFilter

    alert_filter = filter_from(args, "pactwatch subscribe")
    if alert_filter is None:
        return 2

    def work(args: argparse.Namespace) -> None:
        body = {
            "url": args.webhook,
            "filter": alert_filter.model_dump(mode="json"),
            "description": args.description,
        }
        created = _call(args, "POST", "/subscriptions", body)
        if args.json:
            print(json.dumps(created, ensure_ascii=False))
            return
        print(f"subscribed {created['id']} → {created['url']}")
        print(f"  filter: {AlertFilter.model_validate(created['filter']).describe()}")
        print(f"  secret: {created['secret']}")
        print(
            "  The secret is shown this once: keep it to verify each delivery's "
            "X-Pactwatch-Signature (HMAC-SHA256 over '<X-Pactwatch-Timestamp>.<body>')."
        )

    return _run("subscribe", work, args)


def list_subscriptions(args: argparse.Namespace) -> int:
    """All subscriptions as a table, or one with its delivery log."""
    from pactwatch.alertfeed import AlertFilter

    def work(args: argparse.Namespace) -> None:
        if args.id:
            detail = _call(args, "GET", f"/subscriptions/{args.id}")
            if args.json:
                print(json.dumps(detail, ensure_ascii=False))
                return
            print(f"{detail['id']} → {detail['url']}")
            print(f"  filter: {AlertFilter.model_validate(detail['filter']).describe()}")
            if detail.get("description"):
                print(f"  note: {detail['description']}")
            print(f"  created {detail['created_at']}")
            print(
                f"  delivered {detail['delivered']} · failed attempts {detail['failed']}"
                f" · dead {detail['dead']}"
            )
            for title, key in (("recent attempts", "deliveries"), ("dead", "dead_deliveries")):
                if detail[key]:
                    print(f"  {title}:")
                    for entry in detail[key]:
                        print("    " + _attempt_line(entry))
            return
        found = _call(args, "GET", "/subscriptions")
        if args.json:
            print(json.dumps(found, ensure_ascii=False))
            return
        if not found:
            print("no subscriptions")
            return
        for item in found:
            described = AlertFilter.model_validate(item["filter"]).describe()
            print(f"{item['id']}  {item['url']}  [{described}]  created {item['created_at']}")

    return _run("subscriptions", work, args)


def _attempt_line(entry: dict[str, Any]) -> str:
    what = entry.get("error") or f"HTTP {entry.get('status_code')}"
    return (
        f"{entry['at']}  {entry['outcome']:<9} alert {entry['alert_id']} attempt "
        f"{entry['attempt']}  {what}  {entry['duration_ms']} ms"
    )


def unsubscribe_webhook(args: argparse.Namespace) -> int:
    """Remove the subscription."""

    def work(args: argparse.Namespace) -> None:
        _call(args, "DELETE", f"/subscriptions/{args.id}")
        print(f"unsubscribed {args.id}")

    return _run("unsubscribe", work, args)
