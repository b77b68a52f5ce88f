"""``pactwatch status``: how a backlog reads on screen and in JSON (no Redis here)."""

from __future__ import annotations

import json

import pytest
from pactwatch.backlog import Backlog, ConsumerState, GroupState, StreamState
from pactwatch.contracts import ALERTS_STREAM, CONSUMED_STREAMS
from pactwatch_cli.__main__ import build_parser
from pactwatch_cli.status import idle, pipeline_streams, redacted, render, to_json

TAKEN_AT_MS = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def group(
    name: str,
    stream: str,
    *consumers: ConsumerState,
    lag: int = 0,
    lag_capped: bool = False,
    pending: int = 0,
) -> GroupState:
    return GroupState(stream, name, lag, lag_capped, pending, "1-0", consumers)


def backlog() -> tuple[Backlog, list[StreamState], list[StreamState]]:
    ingested = StreamState(
        name="articles.ingested",
        exists=True,
        length=600,
        last_minute=120,
        last_minute_capped=False,
        groups=(
            group(
                "deduplicator",
                "articles.ingested",
                ConsumerState("host-1", 64, 350),
                ConsumerState("host-2", 0, 125_000),
                lag=10_000,
                lag_capped=True,
                pending=64,
            ),
        ),
    )
    enriched = StreamState(
        name="articles.enriched",
        exists=True,
        length=12,
        last_minute=0,
        last_minute_capped=False,
        groups=(
            group("indexer", "articles.enriched", ConsumerState("host-3", 0, 2_000)),
            group("notifier", "articles.enriched", lag=3),
        ),
    )
    missing = StreamState("articles.duplicates", False, 0, 0, False, ())
    lonely = StreamState("alerts.agreements", True, 4, 1, False, ())
    dlq = StreamState("articles.enriched.dlq", True, 2, 2, False, ())
    absent_dlq = StreamState("articles.ingested.dlq", False, 0, 0, False, ())
    streams = [ingested, enriched, missing, lonely]
    letters = [dlq, absent_dlq]
    return Backlog(TAKEN_AT_MS, (*streams, *letters)), streams, letters


def test_the_screen_shows_every_stream_group_and_consumer() -> None:
    state, streams, letters = backlog()
    screen = render(state, streams, letters, "redis://h:6379/0").splitlines()
    assert screen[0] == "pactwatch status · redis://h:6379/0 · 2026-01-01 00:00:00 UTC"
    assert screen[2].split() == [
        "STREAM", "LENGTH", "LAST", "MIN", "GROUP", "LAG", "PENDING", "CONSUMERS",
    ]  # fmt: skip
    body = [line.split() for line in screen[3:]]
    assert body[0] == [
        "articles.ingested", "600", "120", "deduplicator", ">=10000", "64",
        "host-1", "idle", "0.3s,", "64", "pending",
    ]  # fmt: skip
    # the second consumer of a group goes on its own line, under the first
    assert body[1] == ["host-2", "idle", "2m05s"]
    assert screen[4].index("host-2") == screen[3].index("host-1")
    assert body[2] == [
        "articles.enriched",
        "12",
        "0",
        "indexer",
        "0",
        "0",
        "host-3",
        "idle",
        "2.0s",
    ]
    # a second group on the same stream does not repeat the stream
    assert body[3] == ["notifier", "3", "0", "(none)"]
    assert body[4] == ["articles.duplicates", "-", "-", "(no", "stream)"]
    assert body[5] == ["alerts.agreements", "4", "1", "(no", "group)"]
    assert screen[-3:] == ["", "DEAD LETTERS", "articles.enriched.dlq  2"]


def test_no_dead_letters_says_so() -> None:
    state, streams, _ = backlog()
    assert render(state, streams, [], "redis://h").endswith("DEAD LETTERS\n(none)\n")


def test_json_carries_every_figure_for_scripts() -> None:
    state, streams, letters = backlog()
    document = json.loads(to_json(state, streams, letters, "redis://h:6379/0"))
    assert document["redis"] == "redis://h:6379/0"
    assert document["taken_at"] == "2026-01-01T00:00:00.000+00:00"
    first = document["streams"][0]
    assert first["name"] == "articles.ingested"
    assert first["length"] == 600
    assert first["last_minute"] == 120
    (dedup,) = first["groups"]
    assert dedup["lag"] == 10_000
    assert dedup["lag_capped"] is True
    assert dedup["pending"] == 64
    assert dedup["consumers"][1] == {"name": "host-2", "pending": 0, "idle_ms": 125_000}
    assert document["dead_letters"] == [
        {"stream": "articles.enriched.dlq", "source": "articles.enriched", "length": 2}
    ]


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (0, "0.0s"),
        (420, "0.4s"),
        (9_949, "9.9s"),
        (12_000, "12s"),
        (303_000, "5m03s"),
        (7_800_000, "2h10m"),
        (273_600_000, "3d04h"),
    ],
)
def test_idle_times_read_at_a_glance(ms: int, text: str) -> None:
    assert idle(ms) == text


def test_passwords_never_reach_the_screen() -> None:
    assert redacted("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redacted("rediss://user:s3cret@host/1") == "rediss://user:***@host/1"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_every_stream_of_the_contracts_and_the_public_alerts_are_shown() -> None:
    shown = pipeline_streams()
    assert {s for streams in CONSUMED_STREAMS.values() for s in streams} <= set(shown)
    assert ALERTS_STREAM in shown
    assert len(shown) == len(set(shown))


def test_the_command_line_takes_watch_json_and_a_redis_url() -> None:
    args = build_parser().parse_args(
        ["status", "--watch", "--json", "--interval", "0.5", "--redis-url", "redis://x:1/0"]
    )
    assert (args.watch, args.json, args.interval, args.redis_url) == (
        True,
        True,
        0.5,
        "redis://x:1/0",
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "--interval", "0"])
