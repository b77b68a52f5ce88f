"""Every service's HTTP errors (pactwatch.http.json_errors): a body that is not what the
endpoint takes is answered with what is wrong with it, in words."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from pactwatch.http import json_errors
from pydantic import BaseModel


class Thing(BaseModel):
    url: str


def app() -> FastAPI:
    made = FastAPI()
    json_errors(made)

    @made.post("/things")
    async def create(thing: Thing) -> dict[str, Any]:
        return {"url": thing.url}

    return made


def post(content: bytes, content_type: str = "application/json") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await client.post(
                "/things", content=content, headers={"content-type": content_type}
            )

    return anyio.run(go)


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (b'{"url": ', "application/json", 422,
         "body: not valid JSON at character 8: Expecting value"),
        ('{"url": "caf\xe9"}'.encode("latin-1"), "application/json", 400,
         "body is not UTF-8 text: byte 0xe9 at offset 12 (send JSON encoded as UTF-8)"),
        (b'{"url": "x"}', "text/plain", 422,
         "body: must be a JSON object, sent with Content-Type: application/json"),
        (b"[1, 2]", "application/json", 422,
         "body: must be a JSON object, sent with Content-Type: application/json"),
        (b"", "application/json", 422, "body: empty: send a JSON object"),
        (b'{"url": 7}', "application/json", 422, "body.url: Input should be a valid string"),
    ],
)  # fmt: skip
def test_a_body_the_endpoint_cannot_take_is_described(
    content: bytes, content_type: str, status: int, error: str
) -> None:
    answer = post(content, content_type)
    assert answer.status_code == status
    assert answer.json()["error"] == error


def test_a_good_body_goes_through() -> None:
    answer = post(b'{"url": "https://example.org"}')
    assert answer.status_code == 200
    assert answer.json() == {"url": "https://example.org"}


@pytest.mark.parametrize("target", ["/things/a%00b", "/things?q=a%00b"])
def test_a_nul_byte_in_the_path_or_query_is_refused(target: str) -> None:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app())
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            return await client.get(target)

    answer = anyio.run(go)
    assert answer.status_code == 400
    assert "NUL byte" in answer.json()["error"]
