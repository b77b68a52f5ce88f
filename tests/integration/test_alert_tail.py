"""``pactwatch alerts tail`` as a process on a real Redis: new alerts as they arrive, resuming
with --since after a stop, filters, formats and exit codes."""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from queue import Empty, Queue

import pytest
import redis
from pactwatch.contracts import ALERTS_STREAM
from pactwatch_cli import alerts

from tests.integration.test_notify_harness import (
    FRESH_TITLE,
    blocked_stream_readers,
    cli_command,
    drive_notifier,
    enriched,
    fresh_treaty,
    run_cli,
)
from tests.support import ROOT, free_port, wait_until


def start_tail(redis_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cli_command("alerts", "tail", "--redis-url", redis_url, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )


def lines_of(process: subprocess.Popen[str]) -> Queue[str]:
    """Each line the process prints, as soon as it prints it."""
    queue: Queue[str] = Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            queue.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return queue


def test_prints_each_new_alert_as_it_arrives(redis_url: str, redis_client: redis.Redis) -> None:
    drive_notifier(redis_url, enriched("a-before", title="agreement on tourism"))
    tail = start_tail(redis_url, "--json", "--count", "2")
    lines = lines_of(tail)
    wait_until(lambda: blocked_stream_readers(redis_client) == 1, what="tail waiting")

    drive_notifier(redis_url, enriched())
    first = json.loads(lines.get(timeout=20))  # printed (and flushed) before the next exists
    assert first["title"] == "memorandum of understanding on cooperation in the defence industry"
    assert tail.poll() is None

    drive_notifier(redis_url, fresh_treaty())
    second = json.loads(lines.get(timeout=20))
    assert second["parties"] == ["DEU", "FRA"]
    assert tail.wait(20) == 0  # --count reached
    assert all(a["title"] != "agreement on tourism" for a in (first, second))  # only new ones


def test_a_tail_stopped_before_an_alert_gets_it_when_started_again_since_its_last_id(
    redis_url: str,
) -> None:
    drive_notifier(redis_url, enriched())
    before = run_cli("alerts", "tail", "--redis-url", redis_url, "--since", "0", "--timeout", "1")
    assert before.returncode == 0, before.stderr
    last_id = before.stdout.split(" · id ")[-1].strip()

    # while no tail runs
    drive_notifier(redis_url, fresh_treaty())

    after = run_cli(
        "alerts", "tail", "--redis-url", redis_url, "--since", last_id, "--json", "--count", "1"
    )
    assert after.returncode == 0, after.stderr
    (line,) = after.stdout.splitlines()
    assert json.loads(line)["title"] == "treaty on energy transit"


def test_human_format(redis_url: str) -> None:
    drive_notifier(redis_url, enriched())
    done = run_cli("alerts", "tail", "--redis-url", redis_url, "--since", "0", "--count", "1")
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first.startswith("AZE Azerbaijan – TUR Türkiye · memorandum · memorandum of")
    assert "signed 2024-06-15 (earlier) · confidence 0.90" in first
    assert second.startswith("  “On 15 June, Azerbaijan and Türkiye signed a memorandum")
    assert "Report.az https://example.org/news/a-seed-report-az · id " in second


def tail_here(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The command run in this process (no interpreter start-up): exit code, out, err."""
    parser = argparse.ArgumentParser(prog="pactwatch")
    alerts.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["alerts", "tail", *args])
    code: int = parsed.handler(parsed)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_filters(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed = "memorandum of understanding on cooperation in the defence industry"
    fresh = FRESH_TITLE
    drive_notifier(redis_url, enriched(), fresh_treaty())

    def titles(*filters: str) -> list[str]:
        code, out, _ = tail_here(
            capsys, "--redis-url", redis_url, "--since", "0", "--json", "--timeout", "0.3",
            *filters,
        )  # fmt: skip
        assert code == (0 if out else 1)
        return [json.loads(line)["title"] for line in out.splitlines()]

    assert titles() == [seed, fresh]
    assert titles("--party", "fra") == [fresh]
    assert titles("--party", "GEO", "--party", "AZE") == [seed]
    assert titles("--party", "GEO,TUR") == [seed]
    assert titles("--pair", "TUR,AZE") == [seed]
    assert titles("--kind", "treaty") == [fresh]
    assert titles("--fresh-only") == [fresh]
    assert titles("--keyword", "DEFENCE") == [seed]
    assert titles("--min-confidence", "0.95") == []
    assert titles("--party", "AZE", "--kind", "treaty") == []


def test_exit_codes(
    redis_url: str, redis_client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tail_here(capsys, "--redis-url", redis_url, "--timeout", "0.3") == (1, "", "")

    code, _, err = tail_here(capsys, "--redis-url", redis_url, "--party", "XYZ")
    assert (code, "not an ISO 3166-1 alpha-3" in err) == (2, True)
    code, _, err = tail_here(capsys, "--redis-url", redis_url, "--since", "yesterday")
    assert (code, "not a stream id" in err) == (2, True)
    with pytest.raises(SystemExit) as usage:
        tail_here(capsys, "--redis-url", redis_url, "--count", "0")
    assert usage.value.code == 2

    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    code, _, err = tail_here(capsys, "--redis-url", unreachable)
    assert (code, "cannot read" in err) == (3, True)

    tail = start_tail(redis_url)
    wait_until(lambda: blocked_stream_readers(redis_client) == 1, what="tail waiting")
    tail.send_signal(signal.SIGINT)
    _, stderr = tail.communicate(timeout=20)
    assert tail.returncode == 130
    assert "Traceback" not in stderr


def test_keeps_its_place_when_redis_drops_the_connection(
    redis_url: str, redis_client: redis.Redis
) -> None:
    tail = start_tail(redis_url, "--json", "--count", "1")
    lines = lines_of(tail)
    wait_until(lambda: blocked_stream_readers(redis_client) == 1, what="tail waiting")
    redis_client.client_kill_filter(_type="normal", skipme=True)
    drive_notifier(redis_url, enriched())  # published while the tail reconnects
    try:
        assert json.loads(lines.get(timeout=20))["parties"] == ["AZE", "TUR"]
    except Empty:
        tail.kill()
        raise
    assert tail.wait(20) == 0
    assert redis_client.xlen(ALERTS_STREAM) == 1


def test_a_reader_that_goes_away_ends_the_tail_quietly(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # "pactwatch alerts tail --since 0 | head -1": the pipe closes after the first line
    pipe = redis_client.pipeline(transaction=False)
    for n in range(3000):
        pipe.xadd(ALERTS_STREAM, {"alert": json.dumps({"event": "agreement.signed", "n": n})})
    pipe.execute()
    tail = subprocess.Popen(
        [sys.executable, "-m", "pactwatch_cli", "alerts", "tail", "--redis-url", redis_url,
         "--since", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )  # fmt: skip
    assert tail.stdout is not None
    assert tail.stderr is not None
    assert json.loads(tail.stdout.readline())["n"] == 0
    tail.stdout.close()
    assert tail.wait(30) == 141  # 128 + SIGPIPE, as a shell reports it
    assert tail.stderr.read() == b""  # no traceback
