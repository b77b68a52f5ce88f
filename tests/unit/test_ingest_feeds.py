"""Reading RSS/Atom feeds (feedparser), subscription ids and polling intervals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pactwatch_ingest.feeds import (
    InvalidFeedError,
    feed_id,
    format_every,
    parse_every,
    parse_feed,
)

RSS = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>
<title>Riverside &amp; Co</title>
<item><title>Full text</title><link>https://chronicle.example/1</link><guid>c-1</guid>
<pubDate>Mon, 06 May 2024 09:30:00 +0300</pubDate><description>Teaser</description>
<content:encoded><![CDATA[<p>The whole story.</p>]]></content:encoded></item>
<item><title>Teaser &amp;amp; more</title><link>/2</link>
<description>Only a summary</description></item>
<item><title>No guid, no link</title><description>Words</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Lakeside</title><id>urn:lake</id><updated>2024-05-02T08:00:00Z</updated>
<entry><id>urn:lake:1</id><title>One</title><link href="https://lake.example/1"/>
<updated>2024-05-03T08:00:00Z</updated>
<content type="html">&lt;p&gt;Body&lt;/p&gt;</content></entry>
<entry><id>urn:lake:2</id><title>Two</title><link href="https://lake.example/2"/>
<published>2024-05-01T08:00:00+02:00</published><updated>2024-05-03T08:00:00Z</updated>
<summary>Short</summary></entry>
</feed>"""


def test_rss_entries_carry_content_summary_links_and_keys() -> None:
    feed = parse_feed(RSS, "application/rss+xml", "https://chronicle.example/feed.xml")
    assert feed.title == "Riverside & Co"
    assert feed.warning is None
    full, teaser, bare = feed.entries
    assert (full.key, full.link, full.title) == ("c-1", "https://chronicle.example/1", "Full text")
    assert full.published == "Mon, 06 May 2024 09:30:00 +0300"
    assert full.content == "<p>The whole story.</p>"
    assert teaser.content == ""
    assert teaser.summary == "Only a summary"
    assert teaser.link == "https://chronicle.example/2"  # relative to the feed's URL
    assert teaser.key == teaser.link
    assert bare.link is None
    assert bare.key.startswith("digest:")
    assert bare.key == parse_feed(RSS).entries[2].key  # stable across polls


def test_atom_entries_prefer_published_and_fall_back_to_updated() -> None:
    one, two = parse_feed(ATOM).entries
    assert (one.key, one.content, one.published) == (
        "urn:lake:1",
        "<p>Body</p>",
        "2024-05-03T08:00:00Z",
    )
    assert (two.content, two.summary, two.published) == ("", "Short", "2024-05-01T08:00:00+02:00")


def test_an_rss_guid_that_is_not_a_url_is_no_link() -> None:
    feed = parse_feed(
        b'<rss version="2.0"><channel><title>t</title><item><title>x</title>'
        b"<guid>internal-42</guid><description>d</description></item></channel></rss>",
        url="https://chronicle.example/feed.xml",
    )
    (entry,) = feed.entries
    assert (entry.key, entry.link) == ("internal-42", None)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"this is <not xml at all",
        b"<html><body><p>A web page, not a feed.</p></body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>',
    ],
)
def test_what_is_not_a_feed_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidFeedError):
        parse_feed(body, "application/xml")


def test_a_feed_with_broken_xml_but_readable_entries_is_read_with_a_warning() -> None:
    broken = (
        b'<rss version="2.0"><channel><title>t</title>'
        b"<item><title>Ports & pilots</title><link>https://x.example/1</link></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(broken)
    assert [e.title for e in feed.entries] == ["Ports & pilots"]
    assert feed.warning is not None
    assert feed.warning.startswith("not well-formed XML")


def test_feedparser_never_resolves_external_entities(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    xxe = (
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>t</title><item><title>a&x;b</title>'
        "<link>https://x.example/1</link></item></channel></rss>"
    ).encode()
    (entry,) = parse_feed(xxe).entries
    assert entry.title == "ab"  # the entity is dropped, its file never read


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), (90, 90), ("90s", 90), ("5m", 300), ("1h30m", 5400), ("1d", 86400), ("2H", 7200)],
)
def test_intervals(text: str | int, seconds: int) -> None:
    assert parse_every(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "-5m", "0", "1h30", "m5"])
def test_bad_intervals_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="interval"):
        parse_every(text)


def test_intervals_print_back() -> None:
    assert [format_every(s) for s in (45, 300, 5400, 90061)] == ["45s", "5m", "1h30m", "1d1h1m1s"]


def test_one_feed_url_is_one_subscription() -> None:
    assert feed_id("https://news.example/feed?utm_source=x") == feed_id("HTTPS://news.example/feed")
    assert feed_id("https://news.example/feed") != feed_id("https://news.example/other")
