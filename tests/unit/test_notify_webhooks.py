"""Webhook signing, retry delays and the address policy, as plain functions."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import random

import pytest
from pactwatch_notifier.settings import NotifierSettings
from pactwatch_notifier.webhooks import (
    AddressPolicy,
    SubscriptionIn,
    URLRefusedError,
    backoff,
    check_url_shape,
    delivery_id,
    new_secret,
    sign,
    verify,
)
from pydantic import ValidationError


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"event":"agreement.signed"}'
    expected = hmac.new(b"whsec_k", b"1730000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_k", 1730000000, body) == "sha256=" + expected
    assert verify("whsec_k", "1730000000", body, "sha256=" + expected)
    assert not verify("whsec_other", "1730000000", body, "sha256=" + expected)
    assert not verify("whsec_k", "1730000001", body, "sha256=" + expected)
    assert not verify("whsec_k", "1730000000", body + b" ", "sha256=" + expected)
    assert not verify("whsec_k", "not-a-number", body, "sha256=" + expected)


def test_secrets_are_long_and_unique_and_delivery_ids_stable() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) > 40 for s in secrets)
    assert delivery_id("wh_1", "al_1") == delivery_id("wh_1", "al_1")
    assert delivery_id("wh_1", "al_1") != delivery_id("wh_2", "al_1")


def test_backoff_doubles_within_its_jitter_and_is_capped() -> None:
    rng = random.Random(7)
    for attempt in range(1, 8):
        cap = 2.0 * 2 ** (attempt - 1)
        for _ in range(50):
            assert cap / 2 <= backoff(attempt, 2.0, 1000.0, rng) <= cap
    delays = [backoff(40, 2.0, 60.0, rng) for _ in range(200)]
    assert all(30.0 <= d <= 60.0 for d in delays)
    assert len({round(d, 6) for d in delays}) > 150  # jittered, not all equal


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/hook", "http:// or https://"),
        ("example.org/hook", "http:// or https://"),
        ("https:///hook", "no host"),
        ("https://user:pw@example.org/hook", "credentials"),
        ("http://example.org:99999/", "not a valid URL"),
    ],
)
def test_url_shape(url: str, message: str) -> None:
    with pytest.raises(URLRefusedError, match=message):
        check_url_shape(url)


def test_url_shape_of_good_urls() -> None:
    assert check_url_shape("https://hooks.example.org/x?token=1") == (
        "https",
        "hooks.example.org",
        443,
    )
    assert check_url_shape("http://[2001:db8::1]:8080/x") == ("http", "2001:db8::1", 8080)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "::ffff:127.0.0.1",
    ],
)
def test_policy_refuses_private_and_special_addresses(address: str) -> None:
    assert AddressPolicy().refuses(ipaddress.ip_address(address))
    assert not AddressPolicy(allow_private=True).refuses(ipaddress.ip_address(address))


def test_policy_allows_public_addresses_and_listed_networks() -> None:
    policy = AddressPolicy(allow_networks=[ipaddress.ip_network("10.1.0.0/16")])
    assert not policy.refuses(ipaddress.ip_address("93.184.216.34"))
    assert not policy.refuses(ipaddress.ip_address("2606:4700::1111"))
    assert not policy.refuses(ipaddress.ip_address("10.1.2.3"))
    assert policy.refuses(ipaddress.ip_address("10.2.0.1"))


@pytest.mark.anyio
async def test_policy_checks_literal_addresses_and_explains_refusals() -> None:
    with pytest.raises(URLRefusedError, match=r"127\.0\.0\.1.*PACTWATCH_WEBHOOK_ALLOW_NETWORKS"):
        await AddressPolicy().check("http://127.0.0.1:9/hook")
    allowed = AddressPolicy(allow_networks=[ipaddress.ip_network("127.0.0.0/8")])
    assert await allowed.check("http://127.0.0.1:9/hook") == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.anyio
async def test_policy_resolves_names_and_refuses_private_answers() -> None:
    # "localhost" resolves without a network, to a loopback address
    with pytest.raises(URLRefusedError, match="localhost resolves to"):
        await AddressPolicy().check("http://localhost:9/hook")
    with pytest.raises(URLRefusedError, match="cannot resolve"):
        await AddressPolicy().check("http://no-such-host.invalid/hook")
    # names no resolver takes (an empty label, one past 63 characters): refused, not a crash
    for host in (".example.com", "a" * 70 + ".com", "exa..mple.com"):
        with pytest.raises(URLRefusedError, match="cannot resolve"):
            await AddressPolicy().check(f"http://{host}/hook")


def test_subscription_requests_are_validated() -> None:
    request = SubscriptionIn.model_validate(
        {"url": " https://example.org/hook ", "filter": {"parties": ["aze"]}}
    )
    assert request.url == "https://example.org/hook"
    assert request.filter.parties == ("AZE",)
    with pytest.raises(ValidationError, match="http:// or https://"):
        SubscriptionIn.model_validate({"url": "file:///etc/passwd"})
    with pytest.raises(ValidationError, match="Extra inputs"):
        SubscriptionIn.model_validate({"url": "https://example.org", "secret": "mine"})


def test_allowed_networks_setting_is_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACTWATCH_WEBHOOK_ALLOW_NETWORKS", "127.0.0.0/8, 10.1.0.0/16")
    monkeypatch.setenv("PACTWATCH_WEBHOOK_ALLOW_PRIVATE", "false")
    settings = NotifierSettings()
    assert settings.webhook_allow_networks == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("10.1.0.0/16"),
    )
    monkeypatch.setenv("PACTWATCH_WEBHOOK_ALLOW_NETWORKS", "10.1.0.0/99")
    with pytest.raises(ValidationError, match=r"10\.1\.0\.0/99"):
        NotifierSettings()
