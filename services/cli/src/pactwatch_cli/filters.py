"""The alert filter options that `pactwatch alerts tail` and `pactwatch subscribe` share."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pactwatch.alertfeed import AlertFilter


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--party",
        action="append",
        default=[],
        metavar="ISO3",
        help="alerts naming this country (repeat, or AZE,TUR, for any of several)",
    )
    parser.add_argument("--pair", metavar="ISO3,ISO3", help="alerts between these two countries")
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        help="alerts of this kind: memorandum, agreement, treaty... (repeatable)",
    )
    parser.add_argument(
        "--keyword", action="append", default=[], help="alerts whose title contains it"
    )
    parser.add_argument(
        "--min-confidence", type=float, default=0.0, metavar="P", help="lowest confidence (0-1)"
    )
    parser.add_argument(
        "--fresh-only",
        action="store_true",
        help="only signings reported as they happen (not first reports of older ones)",
    )


def alert_filter(args: argparse.Namespace, command: str) -> AlertFilter | None:
    """The filter the options describe, or None once ``command`` has said what is wrong."""
    from pactwatch.alertfeed import AlertFilter
    from pydantic import ValidationError

    try:
        return AlertFilter(
            parties=tuple(args.party),
            pair=args.pair or None,
            kinds=tuple(args.kind),
            keywords=tuple(args.keyword),
            min_confidence=args.min_confidence,
            fresh_only=args.fresh_only,
        )
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            field = ".".join(str(p) for p in error["loc"])
            print(f"{command}: {field}: {error['msg']}", file=sys.stderr)
        return None
