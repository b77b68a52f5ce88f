"""The benchmark's plumbing: services as processes (tests/support.py), their peak memory,
feeding the ingest API, copying stream entries, and watching a consumer group drain.

Nothing here times anything on its own: the runs (runs.py) decide what a measurement is.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import redis

from tests.support import ROOT, Service, free_port, wait_until

Entry = tuple[bytes, dict[bytes, bytes]]
"""A stream entry as redis-py returns it: id and fields."""


def peak_rss_mb(pid: int) -> float | None:
    """The most resident memory the process has had (VmHWM), in MiB; None off Linux."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far; None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields after the command name start at field 3 (state): utime is 14, stime 15
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """CPU seconds used so far, summed per name."""
    out: dict[str, float] = {}
    for name, group in pids.items():
        used = [c for pid in group if (c := cpu_seconds(pid)) is not None]
        out[name] = sum(used)
    return out


def service_rss(started: Mapping[str, Sequence[Service]]) -> dict[str, float]:
    """Peak RSS per service name (the largest replica's)."""
    out: dict[str, float] = {}
    for name, group in started.items():
        peaks = [p for s in group if (p := peak_rss_mb(s.process.pid)) is not None]
        if peaks:
            out[name] = max(peaks)
    return out


def merge_peaks(into: dict[str, float], more: Mapping[str, float]) -> None:
    for name, value in more.items():
        into[name] = max(into.get(name, 0.0), value)


def base_env(redis_url: str, index_url: str) -> dict[str, str]:
    """What every service of a benchmark run reads: its Redis, its index, nothing else
    (no feed polling; webhooks may go to the local receiver)."""
    return {
        "REDIS_URL": redis_url,
        "INDEX_URL": index_url,
        "PACTWATCH_FEEDS_ENABLED": "false",
        "PACTWATCH_WEBHOOK_ALLOW_PRIVATE": "true",
    }


def client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


# --- feeding ingest --------------------------------------------------------------------------


def batch_bodies(payloads: Sequence[Mapping[str, Any]], size: int) -> list[bytes]:
    """Request bodies of ``size`` articles each, serialised before any clock starts."""
    return [orjson.dumps(list(payloads[i : i + size])) for i in range(0, len(payloads), size)]


def _post(http: httpx.Client, url: str, body: bytes) -> int:
    answer = http.post(url, content=body, headers={"content-type": "application/json"})
    if answer.status_code != 202:
        raise RuntimeError(f"ingest answered {answer.status_code}: {answer.text[:500]}")
    result = answer.json()
    if result["rejected"]:
        raise RuntimeError(f"ingest rejected articles: {result['rejected'][:3]}")
    return len(result["accepted"])


def post_all(base_url: str, bodies: Sequence[bytes], concurrency: int = 2) -> int:
    """POST every body to /articles, ``concurrency`` requests in flight, as fast as ingest
    answers; returns the articles accepted."""
    pending = list(reversed(bodies))
    lock = threading.Lock()
    accepted = [0] * concurrency
    errors: list[BaseException] = []

    def work(slot: int) -> None:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            while not errors:
                with lock:
                    if not pending:
                        return
                    body = pending.pop()
                try:
                    accepted[slot] += _post(http, "/articles", body)
                except BaseException as exc:
                    errors.append(exc)
                    return

    threads = [threading.Thread(target=work, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return sum(accepted)


def post_paced(base_url: str, bodies: Sequence[bytes], rate: float) -> float:
    """POST one body every ``1/rate`` seconds (a steady arrival rate); returns how late the
    latest request went out, in seconds (0 when ingest always kept up)."""
    interval = 1.0 / rate
    late = 0.0
    with httpx.Client(base_url=base_url, timeout=120) as http:
        start = time.perf_counter()
        for n, body in enumerate(bodies):
            due = start + n * interval
            now = time.perf_counter()
            if now < due:
                time.sleep(due - now)
            else:
                late = max(late, now - due)
            _post(http, "/articles", body)
    return late


# --- streams and groups ----------------------------------------------------------------------


def read_stream(r: redis.Redis, stream: str) -> list[Entry]:
    """Every entry of ``stream``, oldest first."""
    out: list[Entry] = []
    start = "-"
    while True:
        chunk = cast(list[Entry], r.xrange(stream, min=start, count=1000))
        if start != "-":
            chunk = chunk[1:]
        if not chunk:
            return out
        out.extend(chunk)
        start = chunk[-1][0].decode()


def write_stream(r: redis.Redis, stream: str, entries: Sequence[Mapping[bytes, bytes]]) -> None:
    """Append entries (their fields as they were) in pipelined chunks."""
    for i in range(0, len(entries), 200):
        pipe = r.pipeline(transaction=False)
        for fields in entries[i : i + 200]:
            pipe.xadd(stream, cast(Any, fields))
        pipe.execute()


def group_drained(r: redis.Redis, stream: str, group: str) -> bool:
    """``group`` has read every entry of ``stream`` and acknowledged all it read."""
    try:
        last = r.xinfo_stream(stream)["last-generated-id"]
        groups = r.xinfo_groups(stream)
    except redis.ResponseError:
        return False
    for info in groups:
        if info["name"] == group.encode():
            return bool(info["last-delivered-id"] == last and info["pending"] == 0)
    return False


def wait_drained(
    r: redis.Redis, stream: str, group: str, timeout: float, interval: float = 0.005
) -> float:
    """Wait until ``group`` drained ``stream``; returns the wall-clock time it was seen."""
    wait_until(
        lambda: group_drained(r, stream, group),
        timeout=timeout,
        interval=interval,
        what=f"group {group} to drain {stream}",
    )
    return time.time()


# --- the index -------------------------------------------------------------------------------


@dataclass
class IndexReader:
    """Read-only look into a run's SQLite index (WAL: readers never block the writer)."""

    path: Path
    _conn: sqlite3.Connection | None = field(default=None, init=False)

    def _connection(self) -> sqlite3.Connection | None:
        if self._conn is None and self.path.exists():
            self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
        return self._conn

    def count(self) -> int:
        conn = self._connection()
        if conn is None:
            return 0
        try:
            row = conn.execute("SELECT count(*) FROM articles").fetchone()
        except sqlite3.OperationalError:
            return 0  # the schema is not there yet
        return int(row[0])

    def times(self) -> dict[str, tuple[datetime, datetime]]:
        """Each article's (ingested_at, indexed_at)."""
        conn = self._connection()
        assert conn is not None
        rows = conn.execute("SELECT id, ingested_at, indexed_at FROM articles").fetchall()
        return {
            row[0]: (datetime.fromisoformat(row[1]), datetime.fromisoformat(row[2])) for row in rows
        }

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def wait_indexed(reader: IndexReader, expected: int, stall_s: float = 180.0) -> None:
    """Wait until the index holds ``expected`` articles; fail when it stops growing."""
    seen, since = -1, time.monotonic()
    while True:
        count = reader.count()
        if count >= expected:
            return
        if count != seen:
            seen, since = count, time.monotonic()
        elif time.monotonic() - since > stall_s:
            raise TimeoutError(f"the index stopped at {count} of {expected} articles")
        time.sleep(0.1)


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- the webhook receiver --------------------------------------------------------------------


@contextmanager
def webhook_receiver(logs: Path) -> Iterator[str]:
    """A local receiver (receiver.py) in its own process; yields its base URL."""
    port = free_port()
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "receiver.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.receiver", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:

            def up() -> bool:
                if process.poll() is not None:
                    raise RuntimeError("the webhook receiver exited")
                try:
                    return httpx.get(f"{base}/stats", timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(up, timeout=30, what="the webhook receiver")
            yield base
        finally:
            process.terminate()
            process.wait(10)


def receiver_stats(base: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{base}/stats", timeout=30).json()
    return stats
