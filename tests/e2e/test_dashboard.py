"""The dashboard in a real browser (Debian's chromium, driven headless by Playwright) against
the whole pipeline running as processes.

With the page open, ingesting an agreement article makes its alert appear without a reload; a
search finds it; the registry lists and sorts it; the network view draws the pair's edge and
lists its agreements; the agreement page highlights the evidence in its article and folds
duplicates under their original. A second test walks the API key flow against an indexer
whose reads need a key (PACTWATCH_API_KEYS, PACTWATCH_OPEN_READS=false).

Screenshots go to test-output/dashboard/ for a person to look at. Without a browser the tests
skip with a message, except in CI (CI set), where a missing browser fails: .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis
from pactwatch.contracts import (
    AGREEMENTS_SIGHTED,
    ALERTS_STREAM,
    ALERTS_STREAM_FIELD,
    ARTICLES_ENRICHED,
)
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect, sync_playwright

from tests.e2e.test_pipeline import ALL, pipeline_idle
from tests.integration.test_index_service import publish
from tests.support import ROOT, RedisServer, services, wait_until
from tests.unit.test_index_store import enriched, record, sighted

pytestmark = pytest.mark.e2e

CHROMIUM = os.environ.get("PACTWATCH_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = ROOT / "test-output" / "dashboard"
WAIT_MS = 60_000
"""How long the page may take to show what the pipeline produced (spaCy loads at start)."""
expect.set_options(timeout=WAIT_MS)


def chromium() -> str:
    """The system chromium; skip without one, except in CI, where its absence is a failure."""
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found:
        return found
    message = (
        f"no chromium at {CHROMIUM}: install Debian's (apt-get install chromium) "
        "or set PACTWATCH_CHROMIUM to run the dashboard tests"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the dashboard tests, but {message}")
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium()
    with sync_playwright() as driver:
        # Playwright gives each launch a fresh profile (user data dir) of its own
        launched = driver.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",  # the tests may run as root (CI containers)
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


class Console:
    """Errors the page logs (a CSP violation, an exception): there must be none."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._message)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))

    def _message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1360, "height": 900}, locale="en-GB")
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    yield opened
    context.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # finished animations: a new alert's fade would otherwise be caught at its first frame
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, animations="disabled")


def samples() -> list[dict[str, Any]]:
    """The bundled sample articles: the seed-like report first, then the dev corpus's."""
    text = resources.files("pactwatch_cli").joinpath("samples/articles.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def pipeline(redis_url: str, tmp_path: Path) -> Iterator[dict[str, Any]]:
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}",
        "PACTWATCH_POLL_MS": "50",
    }
    with services(ALL, env, tmp_path / "logs") as started:
        yield started


@contextmanager
def indexer_for(page: Page, env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """An indexer process alone; its base URL. The page leaves it before it stops: an open
    alert stream would hold up its graceful shutdown."""
    with services(["indexer"], env, tmp_path / "logs") as started:
        try:
            yield started["indexer"][0].base_url
        finally:
            page.goto("about:blank")


def published_alerts(client: redis.Redis) -> list[dict[str, Any]]:
    """Every alert on the durable stream, oldest first."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]], client.xrange(ALERTS_STREAM))
    return [json.loads(fields[ALERTS_STREAM_FIELD.encode()]) for _, fields in entries]


def ingest(base_url: str, articles: list[dict[str, Any]]) -> list[str]:
    answer = httpx.post(f"{base_url}/articles", json=articles, timeout=30)
    assert answer.status_code == 202, answer.text
    return [item["id"] for item in answer.json()["accepted"]]


def test_the_page_follows_the_pipeline_live(
    pipeline: dict[str, Any], redis_url: str, page: Page
) -> None:
    ingest_url = pipeline["ingest"][0].base_url
    indexer = pipeline["indexer"][0].base_url
    client = redis.Redis.from_url(redis_url)
    console = Console(page)
    seed, *others = samples()

    page.goto(f"{indexer}/")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    expect(page.locator("#alerts-empty")).to_be_visible()
    page.evaluate("window.openedOnce = true")  # gone if the page reloads
    screenshot(page, "01-waiting")

    # --- an agreement article arrives: its alert shows up on the open page ---------------
    (seed_id,) = ingest(ingest_url, [seed])
    card = page.locator("#alerts li.alert").first
    expect(card).to_contain_text("Shusha Declaration")
    alert = published_alerts(client)[0]
    key = alert["key"]
    expect(card).to_have_attribute("data-key", key)
    expect(card).to_contain_text("AZE")
    expect(card).to_contain_text("Azerbaijan")
    expect(card).to_contain_text("TUR")
    expect(card).to_contain_text("Türkiye")
    expect(card).to_contain_text("declaration")
    expect(card).to_contain_text(
        f"signed {alert['signed_on']} · confidence {round(alert['confidence'] * 100)}%"
    )
    expect(card.locator("a", has_text="Evidence")).to_have_attribute(
        "href", f"#/agreements/{key.replace(':', '%3A')}"
    )
    assert page.evaluate("window.openedOnce") is True
    screenshot(page, "02-first-alert")

    # --- the rest of the samples: every alert, newest first --------------------------------
    ingest(ingest_url, others)
    wait_until(lambda: pipeline_idle(client), timeout=120, what="the pipeline to drain")
    alerts = published_alerts(client)
    assert len(alerts) > 3, "the samples hold several new signings"
    expect(page.locator("#alerts li.alert")).to_have_count(len(alerts))
    shown = page.locator("#alerts li.alert").evaluate_all("cards => cards.map(c => c.dataset.key)")
    assert shown == [a["key"] for a in reversed(alerts)]
    assert page.evaluate("window.openedOnce") is True

    # --- search: highlighted snippets --------------------------------------------------------
    page.click(".tabs a[data-tab=search]")
    page.fill("#f-q", "Zangilan")
    page.click("#f-apply")
    hit = page.locator(f'#hits li.hit[data-id="{seed_id}"]')
    expect(hit).to_be_visible()
    expect(hit.locator(".hit-snippet mark").first).to_have_text("Zangilan")
    screenshot(page, "03-search")

    # --- the registry: counts, filters and sorting --------------------------------------
    registry = httpx.get(f"{indexer}/agreements", params={"limit": 100}, timeout=10).json()
    listed = registry["agreements"]
    page.click(".tabs a[data-tab=registry]")
    rows = page.locator("#registry tbody tr")
    expect(rows).to_have_count(len(listed))
    shusha = page.locator(f'#registry tbody tr[data-key="{key}"]')
    entry = next(a for a in listed if a["key"] == key)
    cells = shusha.locator("td")
    expect(cells.nth(6)).to_have_text(str(entry["mentions"]))
    expect(cells.nth(7)).to_have_text(str(entry["sources"]))
    page.click("#registry th[data-sort=mentions] button")
    expect(page.locator("#registry th[data-sort=mentions]")).to_have_attribute(
        "aria-sort", "descending"
    )
    most = max(a["mentions"] for a in listed)
    expect(rows.first.locator("td").nth(6)).to_have_text(str(most))
    screenshot(page, "04-registry")
    page.fill("#f-party", "Azerbaijan")
    page.fill("#f-with", "tur")
    page.select_option("#f-kind", "declaration")
    page.click("#f-apply")
    # the search words stay in the address, for the way back to the search
    expect(page).to_have_url(f"{indexer}/#/registry?q=Zangilan&party=AZE&with=TUR&kind=declaration")
    expected = httpx.get(
        f"{indexer}/agreements",
        params=[("party", "AZE"), ("party", "TUR"), ("kind", "declaration")],
        timeout=10,
    ).json()["agreements"]
    expect(rows).to_have_count(len(expected))
    expect(shusha).to_be_visible()
    page.click("#f-clear")

    # --- the network: the pair's edge, its agreements, a date range ------------------------
    page.click(".tabs a[data-tab=network]")
    edge = page.locator('#network g.edge-group[data-pair="AZE-TUR"]')
    expect(edge).to_have_count(1)
    network = httpx.get(f"{indexer}/network", timeout=10).json()
    expect(page.locator("#network g.edge-group")).to_have_count(len(network["edges"]))
    expect(page.locator("#network g.node")).to_have_count(len(network["nodes"]))
    edge.click()
    expect(page.locator(f'#pair-list li[data-key="{key}"]')).to_be_visible()
    screenshot(page, "05-network")
    page.fill("#f-from", "2021-06-01")
    page.fill("#f-to", "2021-06-30")
    page.click("#f-apply")
    june = httpx.get(
        f"{indexer}/network", params={"from": "2021-06-01", "to": "2021-06-30"}, timeout=10
    ).json()
    assert len(june["edges"]) < len(network["edges"])
    expect(page.locator("#network g.edge-group")).to_have_count(len(june["edges"]))
    expect(edge).to_have_count(1)
    screenshot(page, "06-network-june-2021")

    # --- the agreement page: every field, the evidence in its article ---------------------
    page.locator(f'#alerts li.alert[data-key="{key}"] a', has_text="Evidence").click()
    view = page.locator("#view-agreement")
    expect(view).to_be_visible()
    detail = httpx.get(f"{indexer}/agreements/{key}", timeout=10).json()
    expect(view.locator("h2")).to_have_text(detail["title"])
    expect(view.locator(".facts")).to_contain_text(detail["key"])
    evidence = detail["evidence"][0]["sentence"]
    mark = view.locator(".first-evidence mark.evidence").first
    expect(mark).to_be_visible()
    assert _squash(mark.inner_text()) == _squash(evidence)
    reporters = {s["article"]["id"] for s in detail["sightings"]}
    expect(view.locator("ol.reports > li.report")).to_have_count(len(reporters))
    screenshot(page, "07-agreement")
    assert page.evaluate("window.openedOnce") is True

    # --- duplicates fold under their original -----------------------------------------------
    copies = [
        (original, dupe)
        for original in _reporting_articles(indexer)
        for dupe in httpx.get(f"{indexer}/articles/{original}", timeout=10).json()["duplicates"]
    ]
    assert copies, "the samples hold a syndicated copy of an agreement report"
    original, dupe = copies[0]
    holder = _agreement_reported_by(indexer, original)
    page.goto(f"{indexer}/#/agreements/{holder}")
    report = page.locator(f'#view-agreement li.report[data-id="{original}"]')
    report.locator("details.copies summary").click()
    expect(report.locator(f'ul.dupes li[data-id="{dupe["id"]}"]')).to_be_visible()
    screenshot(page, "08-agreement-with-copies")
    assert console.errors == []
    client.close()


def _squash(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c != ".")


def _reporting_articles(indexer: str) -> list[str]:
    listed = httpx.get(f"{indexer}/agreements", params={"limit": 100}, timeout=10).json()
    return sorted({r["article"]["id"] for a in listed["agreements"] for r in a["articles"]})


def _agreement_reported_by(indexer: str, article_id: str) -> str:
    keys: list[str] = httpx.get(f"{indexer}/articles/{article_id}", timeout=10).json()[
        "agreement_keys"
    ]
    return keys[0]


# --- a broken connection ----------------------------------------------------------------


def test_the_live_feed_resumes_after_a_break_without_missing_an_alert(
    redis_server: RedisServer, redis_url: str, redis_client: redis.Redis, tmp_path: Path, page: Page
) -> None:
    """The stream drops (Redis restarts under the indexer); an alert published before the
    page is back is not lost: the page reconnects with Last-Event-ID and receives it."""
    env = {"REDIS_URL": redis_url, "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}"}
    with indexer_for(page, env, tmp_path) as indexer:
        first_id = publish_alert(redis_client, sample_alert(1))
        console = Console(page)
        page.goto(f"{indexer}/")
        expect(page.locator("#alerts li.alert")).to_have_count(1)
        expect(page.locator("#live")).to_have_attribute("data-state", "live")

        page.evaluate("window.openedOnce = true")  # gone if the page reloads

        # hold the page off while the alert that must not be lost is published
        hold = True
        resumed_from: list[str | None] = []

        def stream(route: Route) -> None:
            if hold:
                route.abort()
                return
            resumed_from.append(route.request.headers.get("last-event-id"))
            route.continue_()

        page.route("**/alerts/stream*", stream)
        redis_server.stop()  # the indexer's XREAD fails: the stream the page reads breaks
        expect(page.locator("#live")).to_have_attribute("data-state", "reconnecting")
        redis_server.start()
        missed_id = publish_alert(redis_client, sample_alert(2))
        hold = False
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        expect(page.locator("#alerts li.alert")).to_have_count(2)
        cards = page.locator("#alerts li.alert")
        shown = cards.evaluate_all("cards => cards.map(c => c.dataset.id)")
        assert shown == [missed_id, first_id]  # newest first, nothing repeated
        assert resumed_from[0] == first_id
        assert page.evaluate("window.openedOnce") is True
        # the refused and broken stream requests are logged by the browser, nothing else
        assert [e for e in console.errors if "alerts/stream" not in e and "ERR_" not in e] == []


# --- hostile text -------------------------------------------------------------------------


def test_text_that_looks_like_markup_is_shown_as_text(
    redis_url: str, tmp_path: Path, page: Page
) -> None:
    """Titles, snippets, article texts and evidence that hold markup are text on the page:
    no element comes from them, no script runs."""
    hostile = '<img src=x onerror="window.pwned = 1"> & <b>bold</b>'
    sentence = f"The pipeline deal {hostile} was signed on Friday."
    key = "AZE-GEO:2024-05-03:pipeline:0a0b0c0d"
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}",
        "PACTWATCH_POLL_MS": "20",
    }
    with indexer_for(page, env, tmp_path) as indexer:
        reported = record(parties=("AZE", "GEO"), title=f"pipeline {hostile}", evidence=sentence)
        # in a thread of its own: Playwright's event loop runs in this one
        with ThreadPoolExecutor(1) as thread:
            thread.submit(publish, redis_url, ARTICLES_ENRICHED, [
                enriched("x1", f"Pipeline {hostile}", f"Baku.\n\n{sentence}",
                         agreements=[reported]),
            ]).result()  # fmt: skip
            thread.submit(
                publish, redis_url, AGREEMENTS_SIGHTED, [sighted(key, reported, "x1", first=True)]
            ).result()
        wait_until(
            lambda: httpx.get(f"{indexer}/agreements/{key}", timeout=5).status_code == 200,
            what="the agreement indexed",
        )
        console = Console(page)
        page.goto(f"{indexer}/#/search?q=pipeline")
        hit = page.locator('#hits li.hit[data-id="x1"]')
        expect(hit.locator(".hit-title")).to_have_text(f"Pipeline {hostile}")
        expect(hit.locator(".hit-snippet")).to_contain_text("<b>bold</b>")
        expect(hit.locator(".hit-snippet mark").first).to_have_text("pipeline")

        page.goto(f"{indexer}/#/agreements/{key}")
        view = page.locator("#view-agreement")
        expect(view.locator("h2")).to_have_text(f"pipeline {hostile}")
        # the evidence's offsets do not fit this text: the sentence itself is found and marked
        expect(view.locator(".first-evidence mark.evidence")).to_contain_text(hostile)
        page.goto(f"{indexer}/#/articles/x1")
        expect(page.locator("#view-article .article-text")).to_contain_text(sentence)
        screenshot(page, "11-markup-as-text")

        assert page.locator("main img, main b").count() == 0
        assert page.evaluate("window.pwned") is None
        assert console.errors == []


# --- the API key --------------------------------------------------------------------------

KEY = "s3cret-dashboard-key"


def test_a_key_is_asked_for_when_reads_need_one_and_sent_with_every_read(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path, page: Page
) -> None:
    """With PACTWATCH_API_KEYS set and reads closed, the page says so, refuses a wrong key,
    keeps the right one in this browser and sends it with every read, the alert stream
    included; the page itself and its assets never need it."""
    env = {
        "REDIS_URL": redis_url,
        "INDEX_URL": f"sqlite:///{tmp_path / 'index.sqlite3'}",
        "PACTWATCH_API_KEYS": f"another-key,{KEY}",
        "PACTWATCH_OPEN_READS": "false",
    }
    with indexer_for(page, env, tmp_path) as indexer:
        assert httpx.get(f"{indexer}/agreements", timeout=10).status_code == 401
        console = Console(page)
        page.goto(f"{indexer}/")
        expect(page.locator("#key-panel")).to_be_visible()
        expect(page.locator("#key-message")).to_contain_text("asks for an API key")
        expect(page.locator("#live")).to_have_attribute("data-state", "locked")
        expect(page.locator("#view-error")).to_contain_text("needs an API key")
        screenshot(page, "09-key-needed")

        page.fill("#key-input", "not-the-key")
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-message")).to_contain_text("was refused")
        expect(page.locator("#live")).to_have_attribute("data-state", "locked")

        page.fill("#key-input", KEY)
        page.click("#key-form button[type=submit]")
        expect(page.locator("#key-panel")).to_be_hidden()
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        expect(page.locator("#registry-empty")).to_be_visible()
        expect(page.locator("#view-error")).to_be_hidden()
        assert page.evaluate("localStorage.getItem('pactwatch.apiKey')") == KEY
        # the stream, read with the key, brings an alert published now
        publish_alert(redis_client, sample_alert(1))
        expect(page.locator("#alerts li.alert")).to_have_count(1)
        expect(page.locator("#alerts li.alert")).to_contain_text("extradition treaty 1")
        screenshot(page, "10-key-accepted")

        # kept across a reload, forgotten on request
        page.reload()
        expect(page.locator("#live")).to_have_attribute("data-state", "live")
        expect(page.locator("#alerts li.alert")).to_have_count(1)
        expect(page.locator("#key-panel")).to_be_hidden()
        page.click("#key-button")
        page.click("#key-forget")
        expect(page.locator("#live")).to_have_attribute("data-state", "locked")
        assert page.evaluate("localStorage.getItem('pactwatch.apiKey')") is None
        # the browser logs each refused request (401); nothing else may go wrong
        assert [e for e in console.errors if "401" not in e] == []


def sample_alert(n: int) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event": "agreement.signed",
        "alert_id": f"k{n}",
        "key": f"KEN-TZA:2021-12-10:extradition:0{n}",
        "parties": ["KEN", "TZA"],
        "party_names": ["Kenya", "Tanzania"],
        "kind": "agreement",
        "title": f"extradition treaty {n}",
        "status": "signed",
        "freshness": "signed",
        "evidence": "Kenya and Tanzania signed an extradition agreement on Friday.",
        "confidence": 0.9,
        "article": {"id": f"a{n}", "url": f"https://news.example/a{n}", "source": "Dispatch"},
        "detected_at": "2021-12-10T10:00:00Z",
        "latency_ms": 40.0,
    }


def publish_alert(client: redis.Redis, alert: dict[str, Any]) -> str:
    """Publish on the durable stream as the notifier does; the entry's id."""
    entry_id = cast(bytes, client.xadd(ALERTS_STREAM, {ALERTS_STREAM_FIELD: json.dumps(alert)}))
    return entry_id.decode()
