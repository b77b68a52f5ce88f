"""The one HTTP client of ingest against a real server on 127.0.0.1: the address guard on
every redirect hop, the size cap, retries, timeouts, the user agent.

No test sends traffic anywhere but 127.0.0.1: a redirect to a private address is shown to
be refused by the guard, and a recording transport shows that no request for it was ever
handed to the connection layer.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import httpx
import pytest
from pactwatch_ingest.addresses import AddressRefusedError
from pactwatch_ingest.fetching import Fetcher, FetchError
from pactwatch_ingest.settings import USER_AGENT, IngestSettings

from tests.integration.test_ingest_harness import LocalWeb, Reply, local_settings, local_web


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def web() -> Iterator[LocalWeb]:
    with local_web() as server:
        yield server


class RecordingTransport(httpx.AsyncBaseTransport):
    """The real transport, recording the host of every request handed to it."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.hosts: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.hosts.append(request.url.host)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def settings(**overrides: object) -> IngestSettings:
    return local_settings("redis://127.0.0.1:1/0", **overrides)


@pytest.mark.anyio
async def test_a_page_comes_with_our_user_agent(web: LocalWeb) -> None:
    web.routes["/page"] = Reply(body=b"<p>hello</p>")
    fetcher = Fetcher(settings())
    try:
        fetched = await fetcher.get(web.url("/page"))
    finally:
        await fetcher.aclose()
    assert fetched.status == 200
    assert fetched.content == b"<p>hello</p>"
    assert not fetched.truncated
    assert web.hits_of("/page")[0].headers["user-agent"] == USER_AGENT
    assert USER_AGENT == "pactwatch/0.1 (+https://github.com/pactwatch)"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "private",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://[::ffff:10.0.0.1]/admin",
        "http://[fd00::1]:8080/",
        "http://127.0.0.2:6379/",
    ],
)
async def test_a_redirect_to_a_private_address_is_refused_before_any_connection(
    web: LocalWeb, private: str
) -> None:
    web.routes["/story"] = Reply(302, headers={"Location": private})
    transport = RecordingTransport()
    fetcher = Fetcher(settings(), transport=transport)
    try:
        with pytest.raises(FetchError) as raised:
            await fetcher.get(web.url("/story"))
    finally:
        await fetcher.aclose()
    assert raised.value.kind == "refused"
    assert not raised.value.transient
    assert isinstance(raised.value.__cause__, AddressRefusedError)  # the guard said no
    refused = raised.value.__cause__.address
    assert refused is not None
    assert ipaddress.ip_address(refused) == ipaddress.ip_address(httpx.URL(private).host)
    # the only request that ever reached the connection layer went to the allowed server
    assert transport.hosts == ["127.0.0.1"]
    assert len(web.hits_of("/story")) == 1


@pytest.mark.anyio
async def test_without_the_allow_list_even_the_first_hop_to_loopback_is_refused(
    web: LocalWeb,
) -> None:
    web.routes["/page"] = Reply(body=b"<p>hello</p>")
    transport = RecordingTransport()
    fetcher = Fetcher(IngestSettings(redis_url="redis://127.0.0.1:1/0"), transport=transport)
    try:
        with pytest.raises(FetchError) as raised:
            await fetcher.get(web.url("/page"))
    finally:
        await fetcher.aclose()
    assert raised.value.kind == "refused"
    assert "loopback" in str(raised.value)
    assert transport.hosts == []
    assert web.hits_of("/page") == []


@pytest.mark.anyio
async def test_redirects_within_the_allowed_network_are_followed_and_bounded(
    web: LocalWeb,
) -> None:
    web.routes["/old"] = Reply(301, headers={"Location": "/moved"})
    web.routes["/moved"] = Reply(307, headers={"Location": web.url("/new")})
    web.routes["/new"] = Reply(body=b"<p>here</p>")
    web.routes["/loop"] = Reply(302, headers={"Location": "/loop"})
    fetcher = Fetcher(settings(fetch_max_redirects=3))
    try:
        fetched = await fetcher.get(web.url("/old"))
        with pytest.raises(FetchError) as raised:
            await fetcher.get(web.url("/loop"))
    finally:
        await fetcher.aclose()
    assert fetched.url == web.url("/new")
    assert fetched.redirects == (web.url("/old"), web.url("/moved"))
    assert fetched.content == b"<p>here</p>"
    assert raised.value.kind == "redirects"
    assert len(web.hits_of("/loop")) == 4  # the first request and three redirects


@pytest.mark.anyio
async def test_a_20_mb_page_is_cut_at_the_cap(web: LocalWeb) -> None:
    web.routes["/huge"] = Reply(stream_bytes=20 * 1024 * 1024)
    cap = 1024 * 1024
    fetcher = Fetcher(settings(fetch_max_bytes=cap))
    try:
        fetched = await fetcher.get(web.url("/huge"))
    finally:
        await fetcher.aclose()
    assert fetched.truncated
    assert len(fetched.content) == cap
    assert fetched.content.startswith(b"<p>xxx")


@pytest.mark.anyio
async def test_a_transient_failure_is_retried_with_backoff(web: LocalWeb) -> None:
    answers = iter([Reply(503), Reply(500)])
    web.routes["/flaky"] = lambda: next(answers, Reply(body=b"<p>at last</p>"))
    web.routes["/broken"] = Reply(500)
    web.routes["/missing"] = Reply(404)
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    fetcher = Fetcher(
        settings(fetch_retries=2, fetch_backoff_s=1.0, fetch_backoff_max_s=30.0), sleep=sleep
    )
    try:
        fetched = await fetcher.get(web.url("/flaky"))
        with pytest.raises(FetchError) as broken:
            await fetcher.get(web.url("/broken"))
        with pytest.raises(FetchError) as missing:
            await fetcher.get(web.url("/missing"))
    finally:
        await fetcher.aclose()
    assert fetched.content == b"<p>at last</p>"
    assert len(web.hits_of("/flaky")) == 3
    assert (broken.value.status, broken.value.transient) == (500, True)
    assert len(web.hits_of("/broken")) == 3  # one try and two retries
    assert (missing.value.status, missing.value.transient) == (404, False)
    assert len(web.hits_of("/missing")) == 1  # a 404 is not retried
    # exponential with jitter: the n-th delay lies in [base*2^(n-1)/2, base*2^(n-1)]
    first, second = delays[0], delays[1]
    assert 0.5 <= first <= 1.0
    assert 1.0 <= second <= 2.0


@pytest.mark.anyio
async def test_retry_after_is_honoured_within_the_limit(web: LocalWeb) -> None:
    answers = iter([Reply(429, headers={"Retry-After": "7"})])
    web.routes["/busy"] = lambda: next(answers, Reply(body=b"ok"))
    web.routes["/closed"] = Reply(503, headers={"Retry-After": "3600"})
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    fetcher = Fetcher(settings(fetch_retries=2, fetch_backoff_max_s=30.0), sleep=sleep)
    try:
        fetched = await fetcher.get(web.url("/busy"))
        with pytest.raises(FetchError) as closed:
            await fetcher.get(web.url("/closed"))
    finally:
        await fetcher.aclose()
    assert fetched.content == b"ok"
    assert delays == [7.0]  # an hour is more than a poll can wait: no retry, no sleep
    assert closed.value.status == 503
    assert len(web.hits_of("/closed")) == 1


@pytest.mark.anyio
async def test_a_server_that_does_not_answer_in_time_times_out(web: LocalWeb) -> None:
    web.routes["/slow"] = Reply(body=b"late", delay_s=1.5)
    fetcher = Fetcher(settings(fetch_retries=0, fetch_total_timeout_s=0.3))
    try:
        with pytest.raises(FetchError) as raised:
            await fetcher.get(web.url("/slow"))
    finally:
        await fetcher.aclose()
    assert raised.value.kind == "timeout"
    assert raised.value.transient


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http:///nohost"])
async def test_only_http_urls_are_fetched(url: str) -> None:
    fetcher = Fetcher(settings())
    try:
        with pytest.raises(FetchError) as raised:
            await fetcher.get(url)
    finally:
        await fetcher.aclose()
    assert raised.value.kind == "invalid_url"
