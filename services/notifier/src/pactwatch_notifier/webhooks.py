"""Webhook subscriptions: what a subscription is, how a delivery is signed, when it is retried,
and which URLs a delivery may go to. No Redis, no HTTP client here.

A receiver verifies a delivery by recomputing
``hex(HMAC-SHA256(secret, "<X-Pactwatch-Timestamp>.<raw body>"))`` and comparing it, in
constant time, with ``X-Pactwatch-Signature`` (after ``sha256=``); it also refuses timestamps
far from its clock, so that a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import random
import secrets
import socket
from collections.abc import Sequence
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pactwatch.alertfeed import AlertFilter
from pydantic import BaseModel, ConfigDict, Field, field_validator

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SIGNATURE_HEADER = "X-Pactwatch-Signature"
TIMESTAMP_HEADER = "X-Pactwatch-Timestamp"


class SubscriptionIn(BaseModel):
    """A webhook subscription as a client submits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    url: str = Field(max_length=2048, description="Where deliveries are POSTed (http or https).")
    filter: AlertFilter = Field(
        default_factory=AlertFilter, description="Which alerts it receives (empty: all)."
    )
    description: str = Field(default="", max_length=500, description="A note for people.")

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        check_url_shape(value)
        return value


class Subscription(BaseModel):
    """A stored subscription. The secret never leaves the notifier after creation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    url: str
    filter: AlertFilter
    description: str = ""
    created_at: datetime
    secret: str


class SubscriptionView(BaseModel):
    """A subscription as the API lists it: everything but the secret."""

    id: str
    url: str
    filter: AlertFilter
    description: str
    created_at: datetime

    @classmethod
    def of(cls, subscription: Subscription) -> SubscriptionView:
        return cls(
            id=subscription.id,
            url=subscription.url,
            filter=subscription.filter,
            description=subscription.description,
            created_at=subscription.created_at,
        )


class SubscriptionCreated(SubscriptionView):
    """The answer to a subscription: the only time the secret is shown."""

    secret: str = Field(
        description="Signs every delivery (HMAC-SHA256); keep it, it is not shown again."
    )


class DeliveryRecord(BaseModel):
    """One line of a subscription's delivery log (or of its dead list)."""

    delivery_id: str
    alert_id: str
    attempt: int
    outcome: Literal["delivered", "failed", "dead"]
    status_code: int | None = None
    error: str | None = None
    duration_ms: float
    at: datetime
    next_attempt_at: datetime | None = None


class SubscriptionDetail(SubscriptionView):
    """A subscription with its counters, recent deliveries and dead list (newest first)."""

    delivered: int = Field(description="Deliveries the receiver accepted (2xx).")
    failed: int = Field(description="Attempts that failed (connect error, timeout, non-2xx).")
    dead: int = Field(description="Deliveries given up after the last attempt.")
    deliveries: list[DeliveryRecord]
    dead_deliveries: list[DeliveryRecord]


class DeliveryJob(BaseModel):
    """One alert to deliver to one subscription; retried as a new job with ``attempt + 1``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delivery_id: str = Field(description="Stable across attempts: receivers dedupe on it.")
    subscription_id: str
    alert_id: str
    event: str
    body: str = Field(description="The alert JSON exactly as published.")
    attempt: int = 1


def new_subscription_id() -> str:
    return "wh_" + secrets.token_hex(8)


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def delivery_id(subscription_id: str, alert_id: str) -> str:
    """Deterministic, so that a re-queued delivery of the same alert keeps its id."""
    digest = hashlib.blake2b(f"{subscription_id}|{alert_id}".encode(), digest_size=10)
    return "dl_" + digest.hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (used by the tests): recompute, compare in constant time."""
    try:
        expected = sign(secret, int(timestamp), body)
    except ValueError:
        return False
    return hmac.compare_digest(expected, signature)


def backoff(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential with "equal jitter": half the capped delay, plus up to the other half at
    random, so that receivers coming back up are not hit by every retry at once.
    """
    cap = min(max_s, base_s * 2.0 ** min(attempt - 1, 60))
    return cap / 2 + (rng or _RNG).uniform(0, cap / 2)


_RNG = random.SystemRandom()


class URLRefusedError(ValueError):
    """A webhook URL pactwatch will not deliver to; the message says why."""


def check_url_shape(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of an absolute http(s) URL without credentials.

    Raises URLRefusedError, saying why, for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise URLRefusedError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise URLRefusedError("webhook URLs must be http:// or https://")
    if not parts.hostname:
        raise URLRefusedError("webhook URL has no host")
    if parts.username or parts.password:
        raise URLRefusedError(
            "credentials in the URL are not accepted; verify the signature instead"
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


class AddressPolicy:
    """Which resolved addresses deliveries may reach.

    Private, loopback, link-local and other special addresses are refused (a webhook is an
    easy way to make a server call its own network), unless all private addresses are
    allowed or an allowed network contains the address.
    """

    def __init__(self, allow_private: bool = False, allow_networks: Sequence[Network] = ()) -> None:
        self.allow_private = allow_private
        self.allow_networks = tuple(allow_networks)

    def refuses(self, address: Address) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in network for network in self.allow_networks):
            return False
        special = (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            or not address.is_global
        )
        return special and not self.allow_private

    async def resolve(self, host: str, port: int) -> list[Address]:
        """Every address ``host`` resolves to; URLRefusedError if any is refused or none exists.

        All of them are checked, not only the first: a name that resolves to a public and a
        private address would otherwise reach the private one on some attempts.
        """
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
            except (OSError, UnicodeError) as exc:  # UnicodeError: an empty or overlong label
                raise URLRefusedError(f"cannot resolve {host}: {exc}") from None
            addresses = list(
                dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
            )
        if not addresses:
            raise URLRefusedError(f"{host} resolves to no address")
        for address in addresses:
            if self.refuses(address):
                raise URLRefusedError(
                    f"{host} resolves to {address}, a private or reserved address; set "
                    "PACTWATCH_WEBHOOK_ALLOW_NETWORKS (or PACTWATCH_WEBHOOK_ALLOW_PRIVATE=true) "
                    "on the notifier to allow it"
                )
        return addresses

    async def check(self, url: str) -> list[Address]:
        """The addresses a delivery to ``url`` may connect to; URLRefusedError says why not."""
        _, host, port = check_url_shape(url)
        return await self.resolve(host, port)
