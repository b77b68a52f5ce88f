"""``pactwatch dlq list|replay``: the messages the pipeline gave up on, and putting them back.

A message lands on ``<stream>.dlq`` when it cannot be decoded, or after its handler failed
``PACTWATCH_MAX_DELIVERIES`` times (see pactwatch.delivery). ``list`` shows why; ``replay``
puts the original message back on its stream once the cause is fixed, and removes it from
the dead-letter stream. Reads Redis directly (REDIS_URL), like ``alerts tail``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dlq", help="list or replay dead-lettered messages")
    actions = p.add_subparsers(dest="dlq_action", required=True, metavar="ACTION")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stream", help="only this stream's dead letters (e.g. articles.unique)")
    common.add_argument("--redis-url", help="Redis (default: $REDIS_URL, else local 6379)")

    listing = actions.add_parser("list", parents=[common], help="show dead letters, oldest first")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--limit", type=int, default=1000, help="show at most this many")
    listing.set_defaults(handler=list_command)

    replay = actions.add_parser(
        "replay", parents=[common], help="put dead letters back on their stream"
    )
    replay.add_argument("--id", dest="dlq_id", help="only the dead letter with this id")
    replay.set_defaults(handler=replay_command)


def _redis_url(args: argparse.Namespace) -> str:
    return str(args.redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL)


def list_command(args: argparse.Namespace) -> int:
    """Print the dead letters; exit 0 (none is not an error), 2 when Redis is unreachable."""
    import anyio
    from pactwatch.delivery import list_dead_letters
    from pactwatch.streams import connect
    from redis.exceptions import RedisError

    async def read() -> list[dict[str, Any]]:
        redis = connect(_redis_url(args))
        try:
            letters = await list_dead_letters(redis, args.stream, limit=args.limit)
        finally:
            await redis.aclose()
        return [letter.summary() for letter in letters]

    try:
        letters = anyio.run(read)
    except (RedisError, OSError) as exc:
        print(f"pactwatch: cannot read Redis: {exc}", file=sys.stderr)
        return 2
    if args.json:
        for letter in letters:
            print(json.dumps(letter, ensure_ascii=False))
        return 0
    if not letters:
        where = f" for {args.stream}" if args.stream else ""
        print(f"no dead letters{where}")
        return 0
    for letter in letters:
        print(
            f"{letter['dlq_id']}  {letter['stream']} {letter['original_id']}  "
            f"{letter['service']}  {letter['reason']} after {letter['deliveries']} "
            f"deliveries  {letter['failed_at']}"
        )
        print(f"    error: {letter['error']}")
        print(f"    payload: {letter['payload'][:200]}")
    print(f"{len(letters)} dead letter(s)")
    return 0


def replay_command(args: argparse.Namespace) -> int:
    """Replay dead letters; exit 0 when some (or the one asked for) went back, 1 when none."""
    import anyio
    from pactwatch.delivery import replay_dead_letters
    from pactwatch.streams import connect
    from redis.exceptions import RedisError

    async def replay() -> list[tuple[str, str, str]]:
        redis = connect(_redis_url(args))
        try:
            done = await replay_dead_letters(redis, args.stream, args.dlq_id)
        finally:
            await redis.aclose()
        return [(letter.dlq_id, letter.stream, new_id) for letter, new_id in done]

    try:
        replayed = anyio.run(replay)
    except (RedisError, OSError) as exc:
        print(f"pactwatch: cannot reach Redis: {exc}", file=sys.stderr)
        return 2
    for dlq_id, stream, new_id in replayed:
        print(f"replayed {dlq_id} onto {stream} as {new_id}")
    if not replayed:
        wanted = f" {args.dlq_id}" if args.dlq_id else "s"
        where = f" on {args.stream}" if args.stream else ""
        print(f"no dead letter{wanted} to replay{where}", file=sys.stderr)
        return 1
    print(f"{len(replayed)} message(s) back on their stream")
    return 0
