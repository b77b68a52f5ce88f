"""A webhook receiver for the benchmark: answers 200 to every POST and remembers, for each
delivery, how long after the article's ingest it arrived.

The alert in the body carries ``detected_at`` and ``latency_ms`` (ingest to detection), so
the ingest time is ``detected_at - latency_ms`` and the delivery's latency is the time of
arrival minus that. ``GET /stats`` answers ``{"deliveries": n, "latencies_ms": [...]}``.

Run as its own process: ``python -m tests.bench.receiver --port PORT``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Receiver:
    """The ASGI application."""

    def __init__(self) -> None:
        self.latencies_ms: list[float] = []
        self.deliveries = 0
        self.unreadable = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "POST":
            self.record(body)
            answer = b'{"ok":true}'
        else:
            answer = orjson.dumps(
                {
                    "deliveries": self.deliveries,
                    "unreadable": self.unreadable,
                    "latencies_ms": self.latencies_ms,
                }
            )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    def record(self, body: bytes) -> None:
        arrived = datetime.now(UTC)
        self.deliveries += 1
        try:
            alert = orjson.loads(body)
            detected = datetime.fromisoformat(alert["detected_at"])
            ingested = detected - timedelta(milliseconds=float(alert["latency_ms"]))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            self.unreadable += 1
            return
        if detected.tzinfo is None:
            ingested = ingested.replace(tzinfo=UTC)
        self.latencies_ms.append((arrived - ingested).total_seconds() * 1000)


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    uvicorn.run(Receiver(), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
