"""``pactwatch subscribe`` / ``subscriptions`` / ``unsubscribe`` against a running notifier,
through the real ``pactwatch`` entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pactwatch_cli.__main__ import main

from tests.integration.test_notify_harness import enriched, notifiers, publish_enriched, receivers
from tests.integration.test_notify_webhooks import settled
from tests.support import ROOT, free_port, wait_until


def pactwatch_process(notifier_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The real entry point, as a process."""
    return subprocess.run(
        [sys.executable, "-m", "pactwatch_cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PACTWATCH_NOTIFIER_URL": notifier_url},
        check=False,
    )


def test_webhook_subscriptions_from_the_command_line(
    redis_url: str,
    redis_client: redis.Redis,
    logs_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def pactwatch(notifier_url: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The same entry point in this process: no interpreter start-up per command."""
        monkeypatch.setenv("PACTWATCH_NOTIFIER_URL", notifier_url)
        code = main(args)
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, captured.out, captured.err)

    with notifiers(redis_url, logs_dir) as [notifier], receivers([500]) as [hook]:
        url = notifier.base_url
        human = pactwatch_process(
            url, "subscribe", "--webhook", hook.url, "--party", "aze", "--kind", "memorandum",
            "--min-confidence", "0.8", "--keyword", "defence", "--description", "desk",
        )  # fmt: skip
        assert human.returncode == 0, human.stderr
        lines = human.stdout.splitlines()
        assert lines[0].startswith("subscribed wh_")
        assert lines[0].endswith(f"→ {hook.url}")
        assert lines[1] == (
            "  filter: party AZE; kind memorandum; confidence >= 0.8; keyword defence"
        )
        assert lines[2].startswith("  secret: whsec_")
        subscription_id = lines[0].split()[1]

        as_json = pactwatch(
            url, "subscribe", "--webhook", hook.url, "--pair", "TUR,AZE", "--fresh-only", "--json"
        )
        assert as_json.returncode == 0, as_json.stderr
        second: dict[str, Any] = json.loads(as_json.stdout)
        assert second["filter"]["pair"] == ["AZE", "TUR"]
        assert second["filter"]["fresh_only"] is True
        assert second["secret"].startswith("whsec_")

        listing = pactwatch(url, "subscriptions")
        assert listing.returncode == 0, listing.stderr
        assert [line.split()[0] for line in listing.stdout.splitlines()] == [
            subscription_id,
            second["id"],
        ]
        assert "whsec_" not in listing.stdout
        listed = json.loads(pactwatch(url, "subscriptions", "--json").stdout)
        assert [s["id"] for s in listed] == [subscription_id, second["id"]]

        # one alert for the first subscription (the seed is not fresh): failed once, then sent
        publish_enriched(redis_url, [enriched()])
        wait_until(lambda: len(hook.requests) == 2, what="the retried delivery")
        wait_until(lambda: settled(redis_client), what="deliveries settled")
        detail = pactwatch(url, "subscriptions", subscription_id)
        assert detail.returncode == 0, detail.stderr
        assert "delivered 1 · failed attempts 1 · dead 0" in detail.stdout
        assert "note: desk" in detail.stdout
        assert "delivered alert al" in detail.stdout
        assert "HTTP 500" in detail.stdout
        detail_json = json.loads(pactwatch(url, "subscriptions", subscription_id, "--json").stdout)
        assert [e["outcome"] for e in detail_json["deliveries"]] == ["delivered", "failed"]

        removed = pactwatch(url, "unsubscribe", subscription_id)
        assert removed.returncode == 0
        assert removed.stdout.strip() == f"unsubscribed {subscription_id}"
        again = pactwatch(url, "unsubscribe", subscription_id)
        assert again.returncode == 1
        assert f"no subscription {subscription_id}" in again.stderr
        missing = pactwatch(url, "subscriptions", subscription_id)
        assert missing.returncode == 1
        remaining = httpx.get(f"{url}/subscriptions").json()
        assert [s["id"] for s in remaining] == [second["id"]]

        refused = pactwatch(url, "subscribe", "--webhook", "http://10.0.0.1/hook")
        assert refused.returncode == 2
        assert "PACTWATCH_WEBHOOK_ALLOW_NETWORKS" in refused.stderr
        bad_filter = pactwatch(url, "subscribe", "--webhook", hook.url, "--party", "XYZ")
        assert bad_filter.returncode == 2
        assert "not an ISO 3166-1 alpha-3" in bad_filter.stderr

    unreachable = pactwatch_process(f"http://127.0.0.1:{free_port()}", "subscriptions")
    assert unreachable.returncode == 3
    assert "cannot reach the notifier" in unreachable.stderr


def test_a_missing_or_wrong_api_key_says_how_to_send_one(
    redis_url: str,
    logs_dir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with notifiers(redis_url, logs_dir, env={"PACTWATCH_API_KEYS": "right-key"}) as [notifier]:
        monkeypatch.setenv("PACTWATCH_NOTIFIER_URL", notifier.base_url)
        monkeypatch.delenv("PACTWATCH_API_KEY", raising=False)
        assert main(["subscriptions"]) == 2
        assert "set PACTWATCH_API_KEY" in capsys.readouterr().err
        monkeypatch.setenv("PACTWATCH_API_KEY", "wrong-key")
        assert main(["subscriptions"]) == 2
        assert "PACTWATCH_API_KEY was not accepted" in capsys.readouterr().err
        monkeypatch.setenv("PACTWATCH_API_KEY", "right-key")
        assert main(["subscriptions"]) == 0
