"""What ``/metrics`` and ``pactwatch status`` read from Redis, against real redis-servers.

The session's Redis is 6.2 (the bundled one): lag is counted from the entries after each
group's last-delivered id. When the machine also has a Redis 7 (``redis-server`` on PATH), the
same tests run against it, where XINFO GROUPS reports the lag itself.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from pactwatch.backlog import find_dead_letter_streams, read_backlog
from pactwatch.metrics import exposition
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tests.support import RedisServer, free_port, wait_until


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def system_redis_7() -> str | None:
    """A redis-server 7 or later on PATH, if this machine has one (the bundled one is 6.2)."""
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        binary = shutil.which("redis-server", path=folder)
        if binary is None:
            continue
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        found = re.search(r"v=(\d+)\.", version.stdout)
        if found and int(found.group(1)) >= 7:
            return binary
    return None


@pytest.fixture(scope="module")
def redis_7(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = system_redis_7()
    assert binary is not None
    port = free_port()
    folder = tmp_path_factory.mktemp("redis7")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    wait_until(answers, timeout=10, what="redis 7 to start")
    client.close()
    yield url
    process.terminate()
    process.wait(10)


SERVERS = ["bundled 6.2", *(["system 7"] if system_redis_7() else [])]


@pytest.fixture(params=SERVERS)
async def client(request: pytest.FixtureRequest, redis_server: RedisServer) -> AsyncIterator[Redis]:
    url = redis_server.url if request.param == "bundled 6.2" else request.getfixturevalue("redis_7")
    connection = Redis.from_url(url)
    await connection.flushall()
    yield connection
    await connection.aclose()


async def fill(client: Redis, stream: str, count: int) -> list[Any]:
    return [await client.xadd(stream, {"n": str(n)}) for n in range(count)]


@pytest.mark.anyio
async def test_lag_pending_and_consumers_of_each_group(client: Redis) -> None:
    ids = await fill(client, "s", 10)
    await client.xgroup_create("s", "g", id="0")
    await client.xgroup_create("s", "late", id="$")
    read: Any = await client.xreadgroup("g", "c1", {"s": ">"}, count=4)
    first_id = read[0][1][0][0]
    await client.xack("s", "g", first_id)
    await client.xreadgroup("g", "c2", {"s": ">"}, count=2)

    backlog = await read_backlog(client, ["s"])

    (state,) = backlog.streams
    assert (state.name, state.exists, state.length) == ("s", True, 10)
    g, late = state.groups  # sorted by name
    assert (g.name, g.lag, g.lag_capped, g.pending) == ("g", 4, False, 5)
    assert [(c.name, c.pending) for c in g.consumers] == [("c1", 3), ("c2", 2)]
    assert all(c.idle_ms >= 0 for c in g.consumers)
    assert g.last_delivered_id == ids[5].decode()
    assert (late.name, late.lag, late.pending, late.consumers) == ("late", 0, 0, ())
    assert backlog.taken_at_ms > 0


@pytest.mark.anyio
async def test_only_the_groups_asked_for(client: Redis) -> None:
    await fill(client, "s", 3)
    await client.xgroup_create("s", "mine", id="0")
    await client.xgroup_create("s", "theirs", id="0")
    backlog = await read_backlog(client, ["s"], groups={"s": {"mine"}}, consumers=False)
    (state,) = backlog.streams
    assert [(g.name, g.lag, g.consumers) for g in state.groups] == [("mine", 3, ())]
    assert state.last_minute == 3


@pytest.mark.anyio
async def test_deleted_entries_in_the_unread_range_are_not_counted(client: Redis) -> None:
    # Redis 7 cannot tell the lag then (XINFO answers null): it is counted instead
    ids = await fill(client, "s", 6)
    await client.xgroup_create("s", "g", id="0")
    await client.xreadgroup("g", "c", {"s": ">"}, count=2)
    await client.xdel("s", ids[3], ids[4])
    (state,) = (await read_backlog(client, ["s"])).streams
    assert state.length == 4
    assert state.groups[0].lag == 2


@pytest.mark.anyio
async def test_counts_stop_at_the_limit_and_say_so(client: Redis) -> None:
    await fill(client, "s", 30)
    await client.xgroup_create("s", "g", id="0")
    await client.xreadgroup("g", "c", {"s": ">"}, count=5)
    (state,) = (await read_backlog(client, ["s"], limit=10)).streams
    (group,) = state.groups
    if group.lag_capped:  # counted (Redis 6.2): at least the limit
        assert group.lag == 10
    else:  # reported by Redis 7, exact
        assert group.lag == 25
    assert (state.last_minute, state.last_minute_capped) == (10, True)
    (exact,) = (await read_backlog(client, ["s"], limit=25)).streams
    assert (exact.groups[0].lag, exact.groups[0].lag_capped) == (25, False)


@pytest.mark.anyio
async def test_the_last_minute_is_read_from_the_entry_ids(client: Redis) -> None:
    seconds, _ = await client.time()
    two_minutes_ago = (int(seconds) - 120) * 1000
    for n in range(5):
        await client.xadd("s", {"n": str(n)}, id=f"{two_minutes_ago}-{n}")
    await fill(client, "s", 3)
    (state,) = (await read_backlog(client, ["s"])).streams
    assert (state.length, state.last_minute, state.last_minute_capped) == (8, 3, False)
    (without,) = (await read_backlog(client, ["s"], throughput=False)).streams
    assert without.last_minute is None


@pytest.mark.anyio
async def test_a_missing_stream_reads_as_empty_and_another_type_is_an_error(
    client: Redis,
) -> None:
    (state,) = (await read_backlog(client, ["nothing"])).streams
    assert (state.exists, state.length, state.last_minute, state.groups) == (False, 0, 0, ())
    await client.set("plain", "value")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await read_backlog(client, ["plain"])


@pytest.mark.anyio
async def test_dead_letter_streams_are_found_by_name_and_type(client: Redis) -> None:
    await client.xadd("articles.unique.dlq", {"reason": "x"})
    await client.xadd("elsewhere.dlq", {"reason": "y"})
    await client.set("not-a-stream.dlq", "z")
    await client.xadd("articles.unique", {"k": "v"})
    assert await find_dead_letter_streams(client) == ["articles.unique.dlq", "elsewhere.dlq"]


def samples(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text exposition, by name and sorted labels."""
    found = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.mark.anyio
async def test_metrics_read_the_backlog_of_the_watched_groups_at_scrape_time(
    client: Redis,
) -> None:
    await fill(client, "watched.s", 7)
    await client.xgroup_create("watched.s", "g", id="0")
    await client.xgroup_create("watched.s", "other", id="0")
    await client.xreadgroup("g", "c", {"watched.s": ">"}, count=3)
    await fill(client, "watched.s.dlq", 2)

    found = samples(await exposition(client, [("watched.s", "g")]))

    by_group = (("group", "g"), ("stream", "watched.s"))
    assert found[("pactwatch_group_lag", by_group)] == 4
    assert found[("pactwatch_group_pending", by_group)] == 3
    assert found[("pactwatch_group_consumers", by_group)] == 1
    assert found[("pactwatch_stream_length", (("stream", "watched.s"),))] == 7
    assert found[("pactwatch_dlq_size", (("stream", "watched.s"),))] == 2
    assert found[("pactwatch_redis_up", ())] == 1
    # only the service's own group, and no series for the dead-letter stream's own groups
    assert ("pactwatch_group_lag", (("group", "other"), ("stream", "watched.s"))) not in found
    assert not [k for k in found if ("stream", "watched.s.dlq") in k[1]]
    # the process's own metrics come first
    assert any(name.startswith(("process_", "python_")) for name, _ in found)

    await client.xreadgroup("g", "c", {"watched.s": ">"})
    again = samples(await exposition(client, [("watched.s", "g")]))
    assert again[("pactwatch_group_lag", by_group)] == 0
    assert again[("pactwatch_group_pending", by_group)] == 7


@pytest.mark.anyio
async def test_without_redis_a_scrape_still_answers_and_says_redis_is_down() -> None:
    nobody = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    found = samples(await exposition(nobody, [("s", "g")]))
    await nobody.aclose()
    assert found[("pactwatch_redis_up", ())] == 0
    assert not [name for name, _ in found if name.startswith("pactwatch_group_")]


@pytest.mark.anyio
async def test_a_service_without_groups_reads_nothing_from_redis() -> None:
    nobody = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    found = samples(await exposition(nobody, []))
    await nobody.aclose()
    assert ("pactwatch_redis_up", ()) not in found
