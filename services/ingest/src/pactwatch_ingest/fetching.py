"""The one HTTP client for every outbound fetch (feeds and pages).

What a URL from a user needs before we fetch it: timeouts (per phase, and for the whole
attempt so that a slow drip cannot hold a poller), a cap on what is read (we stop reading,
and say the result was cut), retries with exponential backoff and jitter for transient
failures only, and redirects followed by hand so that the private-address guard checks
EVERY hop before anything is sent to it.

The connection is pinned to the address the guard checked: the request goes to the IP
itself, with the original ``Host`` header and, for HTTPS, the original name as SNI (the
certificate is verified against the name). A second DNS answer (rebinding) never gets a say.
Keep-alive is off for the same reason: a pooled connection is keyed by IP, and reusing one
opened for another name on that IP would send a request over the wrong TLS session.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal
from urllib.parse import urljoin

import anyio
import httpx
import structlog

from pactwatch_ingest.addresses import AddressPolicy, AddressRefusedError, checked_addresses
from pactwatch_ingest.settings import IngestSettings

log = structlog.get_logger()

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

ErrorKind = Literal["refused", "invalid_url", "timeout", "network", "http", "redirects"]


class FetchError(Exception):
    """A fetch that did not produce a usable response. ``transient`` errors may succeed later;
    a ``refused`` one was stopped by the address guard before anything was sent."""

    def __init__(
        self,
        url: str,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        transient: bool = False,
    ) -> None:
        self.url = url
        self.kind = kind
        self.status = status
        self.transient = transient
        super().__init__(message)


@dataclass(frozen=True)
class Fetched:
    """A response read at most up to the cap. ``url`` is where it finally came from."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    truncated: bool = False
    redirects: tuple[str, ...] = field(default=())

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


Sleep = Callable[[float], Awaitable[None]]


class Fetcher:
    """GET with the guard, the cap, bounded redirects and retries. One per process."""

    def __init__(
        self,
        settings: IngestSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self._settings = settings
        self.policy = AddressPolicy(
            allow_private=settings.fetch_allow_private,
            allow_networks=tuple(settings.fetch_allow_networks),
        )
        self._sleep = sleep
        self._client = httpx.AsyncClient(
            transport=transport
            or httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0)),
            timeout=httpx.Timeout(
                settings.fetch_read_timeout_s, connect=settings.fetch_connect_timeout_s
            ),
            follow_redirects=False,
            # proxies from the environment would connect on our behalf, past the guard
            trust_env=False,
            headers={"User-Agent": settings.fetch_user_agent},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Fetched:
        """Fetch ``url``: a 2xx or 304 response, else :class:`FetchError` (after retrying a
        transient failure ``fetch_retries`` times)."""
        settings = self._settings
        cap = max_bytes or settings.fetch_max_bytes
        attempts = settings.fetch_retries + 1
        for attempt in range(1, attempts + 1):
            delay: float | None = None
            try:
                with anyio.fail_after(settings.fetch_total_timeout_s):
                    fetched = await self._follow(url, dict(headers or {}), cap)
            except TimeoutError:
                error = FetchError(
                    url,
                    "timeout",
                    f"no complete answer within {settings.fetch_total_timeout_s:g}s",
                    transient=True,
                )
            except FetchError as exc:
                error = exc
            else:
                if fetched.status < 400:
                    return fetched
                error = FetchError(
                    fetched.url,
                    "http",
                    f"HTTP {fetched.status}",
                    status=fetched.status,
                    transient=fetched.status in RETRY_STATUSES,
                )
                delay = retry_after(fetched.headers.get("retry-after"))
            if not error.transient or attempt == attempts:
                raise error
            if delay is None:
                delay = backoff(attempt, settings.fetch_backoff_s, settings.fetch_backoff_max_s)
            elif delay > settings.fetch_backoff_max_s:
                raise error  # the server asks for more patience than a poll step has
            log.info("fetch.retry", url=url, attempt=attempt, error=str(error), delay_s=delay)
            await self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _follow(self, url: str, headers: dict[str, str], cap: int) -> Fetched:
        current = url
        hops: list[str] = []
        for _hop in range(self._settings.fetch_max_redirects + 1):
            response = await self._send(current, headers)
            try:
                location = response.headers.get("location")
                if response.status_code in REDIRECT_STATUSES and location:
                    hops.append(current)
                    current = urljoin(current, location.strip())
                    continue
                content, truncated = await read_capped(response, cap, current)
                return Fetched(
                    url=current,
                    status=response.status_code,
                    headers={k.lower(): v for k, v in response.headers.items()},
                    content=content,
                    truncated=truncated,
                    redirects=tuple(hops),
                )
            finally:
                await response.aclose()
        raise FetchError(
            url,
            "redirects",
            f"more than {self._settings.fetch_max_redirects} redirects (last: {current})",
        )

    async def _send(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """One request to one hop, sent only to an address the guard has just approved."""
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise FetchError(url, "invalid_url", f"invalid URL {url!r}: {exc}") from exc
        if target.scheme not in ("http", "https") or not target.host:
            raise FetchError(url, "invalid_url", f"only http(s) URLs are fetched, not {url!r}")
        host = target.raw_host.decode("ascii")
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            addresses = await checked_addresses(host, port, self.policy)
        except AddressRefusedError as exc:
            raise FetchError(url, "refused", str(exc)) from exc
        except LookupError as exc:
            raise FetchError(url, "network", str(exc), transient=True) from exc
        extensions = {"sni_hostname": host} if target.scheme == "https" else {}
        last: Exception | None = None
        for address in addresses:
            request = self._client.build_request(
                "GET",
                target.copy_with(host=str(address), username=None, password=None),
                headers={**headers, "Host": target.netloc.decode("ascii")},
                extensions=extensions,
            )
            try:
                return await self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                last = exc  # this address does not answer: try the host's next one
            except httpx.TimeoutException as exc:
                raise FetchError(url, "timeout", f"timed out: {exc!r}", transient=True) from exc
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                raise FetchError(url, "network", f"{exc!r}", transient=True) from exc
            except httpx.HTTPError as exc:
                raise FetchError(url, "network", f"{exc!r}") from exc
        raise FetchError(url, "network", f"cannot connect: {last!r}", transient=True) from last


async def read_capped(response: httpx.Response, cap: int, url: str) -> tuple[bytes, bool]:
    """The decoded body up to ``cap`` bytes; True when there was more (and we stopped)."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            if size + len(chunk) > cap:
                chunks.append(chunk[: cap - size])
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
    except httpx.TimeoutException as exc:
        raise FetchError(url, "timeout", f"timed out: {exc!r}", transient=True) from exc
    except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
        raise FetchError(url, "network", f"{exc!r}", transient=True) from exc
    except httpx.DecodingError as exc:
        raise FetchError(url, "network", f"undecodable body: {exc}") from exc
    return b"".join(chunks), False


def backoff(attempt: int, base: float, ceiling: float) -> float:
    """Exponential delay before retry ``attempt`` (1-based) with full jitter in its upper half."""
    delay = min(ceiling, base * 2.0 ** (attempt - 1))
    jitter: float = random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret
    return delay / 2 + jitter


def retry_after(value: str | None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
