"""The deployment's init step, ``python -m pactwatch.groups``, against a real redis-server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis
from pactwatch.contracts import ARTICLES_INGESTED, CONSUMED_STREAMS, GROUP_DEDUPLICATOR

from tests.support import ROOT, RedisServer, free_port, redis_server_binary

PAIRS = {(stream, group) for group, streams in CONSUMED_STREAMS.items() for stream in streams}


def run_groups(redis_url: str, *, timeout_s: float = 10) -> tuple[int, list[dict[str, object]]]:
    """Run the init step as its own process, as compose and the k8s Job do; its JSON log lines."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "PACTWATCH_LOG_FORMAT": "json",
        "PACTWATCH_CONNECT_TIMEOUT_S": str(timeout_s),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pactwatch.groups"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    lines = [json.loads(line) for line in done.stderr.decode().splitlines() if line.startswith("{")]
    return done.returncode, lines


def created_pairs(lines: list[dict[str, object]], event: str) -> set[tuple[str, str]]:
    return {(str(x["stream"]), str(x["group"])) for x in lines if x["event"] == event}


def test_creates_every_group_at_id_0_and_keeps_earlier_messages(
    redis_url: str, redis_client: redis.Redis
) -> None:
    # published before any group existed: a group created at "$" would never deliver it
    early = redis_client.xadd(ARTICLES_INGESTED, {"k": "v"})

    code, lines = run_groups(redis_url)

    assert code == 0
    assert created_pairs(lines, "group.created") == PAIRS
    assert all(line["service"] == "groups" for line in lines)
    for stream, group in PAIRS:
        (info,) = [g for g in redis_client.xinfo_groups(stream) if g["name"].decode() == group]
        assert info["last-delivered-id"] == b"0-0"
    delivered: Any = redis_client.xreadgroup(GROUP_DEDUPLICATOR, "probe", {ARTICLES_INGESTED: ">"})
    assert delivered[0][1][0][0] == early


def test_second_run_changes_nothing(redis_url: str, redis_client: redis.Redis) -> None:
    assert run_groups(redis_url)[0] == 0
    redis_client.xadd(ARTICLES_INGESTED, {"k": "v"})
    redis_client.xreadgroup(GROUP_DEDUPLICATOR, "probe", {ARTICLES_INGESTED: ">"})

    code, lines = run_groups(redis_url)

    assert code == 0
    assert created_pairs(lines, "group.exists") == PAIRS
    assert not created_pairs(lines, "group.created")
    # an existing group keeps its position and its pending entries
    (info,) = [
        g for g in redis_client.xinfo_groups(ARTICLES_INGESTED) if g["name"] == b"deduplicator"
    ]
    assert info["pending"] == 1
    assert info["last-delivered-id"] != b"0-0"


def test_waits_for_a_redis_that_starts_late(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "late")
    env = {
        **os.environ,
        "REDIS_URL": server.url,
        "PACTWATCH_LOG_FORMAT": "json",
        "PACTWATCH_CONNECT_TIMEOUT_S": "60",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pactwatch.groups"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # start Redis only once the init step has seen it refuse a connection
        assert process.stderr is not None
        first = json.loads(process.stderr.readline())
        assert first["event"] == "redis.waiting"
        server.start()
        assert process.wait(60) == 0
        client = server.client()
        assert {g["name"].decode() for g in client.xinfo_groups(ARTICLES_INGESTED)} == {
            GROUP_DEDUPLICATOR
        }
        client.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        server.stop()


def test_gives_up_with_a_clear_error_when_redis_never_comes(tmp_path: Path) -> None:
    code, lines = run_groups(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.5)

    assert code == 1
    failure = lines[-1]
    assert failure["event"] == "groups.failed"
    assert "ConnectionError" in str(failure["reason"])


def test_password_in_the_url_and_a_wrong_one_fails_at_once(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            redis_server_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(tmp_path),
            "--save",
            "",
            "--requirepass",
            "s3cret",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        code, lines = run_groups(f"redis://:s3cret@127.0.0.1:{port}/0")
        assert code == 0, lines
        assert created_pairs(lines, "group.created") == PAIRS

        # retrying cannot fix a wrong password: it fails long before the connect timeout
        code, lines = run_groups(f"redis://:not-it-7f3a@127.0.0.1:{port}/0", timeout_s=3600)
        assert code == 1
        assert "credentials" in str(lines[-1]["reason"])
        assert "not-it-7f3a" not in json.dumps(lines)  # a password never reaches the logs
    finally:
        server.terminate()
        server.wait(10)
