"""The private-address guard: IPv4, IPv6, IPv4-mapped and other embedded forms, the settings
that allow more."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest
from pactwatch_ingest.addresses import (
    AddressPolicy,
    AddressRefusedError,
    checked_addresses,
    embedded_ipv4,
    literal_address,
)
from pactwatch_ingest.settings import IngestSettings

DEFAULT = AddressPolicy()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "not a globally routable"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "private"),
        ("255.255.255.255", "private"),
        ("192.0.2.10", "private"),  # documentation range
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("2002:a00:1::", "private"),  # 6to4 wrapping 10.0.0.1
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2001::1", "Teredo"),
        ("2001:db8::1", "private"),  # documentation range
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    refusal = DEFAULT.refusal(ipaddress.ip_address(address))
    assert refusal is not None
    assert reason in refusal


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert DEFAULT.refusal(ipaddress.ip_address(address)) is None


def test_the_allow_list_opens_exactly_its_networks() -> None:
    settings = IngestSettings(fetch_allow_networks="127.0.0.1/32, 10.1.0.0/16")
    policy = AddressPolicy(allow_networks=settings.fetch_allow_networks)
    allowed = ["127.0.0.1", "::ffff:127.0.0.1", "10.1.200.3"]
    refused = ["127.0.0.2", "::1", "10.2.0.1", "169.254.169.254"]
    assert all(policy.refusal(ipaddress.ip_address(a)) is None for a in allowed)
    assert all(policy.refusal(ipaddress.ip_address(a)) for a in refused)


def test_allow_private_opens_everything_but_multicast() -> None:
    policy = AddressPolicy(allow_private=True)
    for address in ("127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fd00::1"):
        assert policy.refusal(ipaddress.ip_address(address)) is None
    assert policy.refusal(ipaddress.ip_address("224.0.0.1")) == "multicast address"
    assert policy.refusal(ipaddress.ip_address("ff02::1")) == "multicast address"


def test_embedded_and_literal_forms() -> None:
    assert embedded_ipv4(ipaddress.ip_address("::ffff:1.2.3.4")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("2002:102:304::")) == ipaddress.ip_address("1.2.3.4")
    assert embedded_ipv4(ipaddress.ip_address("1.2.3.4")) is None
    assert literal_address("[::1]") == ipaddress.ip_address("::1")
    assert literal_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert literal_address("news.example") is None


def test_a_name_is_resolved_and_every_address_checked() -> None:
    async def check(host: str, policy: AddressPolicy) -> list[str]:
        return [str(a) for a in await checked_addresses(host, 80, policy)]

    with pytest.raises(AddressRefusedError) as raised:
        asyncio.run(check("localhost", DEFAULT))  # resolved locally (hosts file), no traffic
    assert raised.value.host == "localhost"
    assert "loopback" in raised.value.reason
    assert asyncio.run(check("10.0.0.1", AddressPolicy(allow_private=True))) == ["10.0.0.1"]
