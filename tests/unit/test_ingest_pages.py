"""The article in a web page (trafilatura): body text, title, date from metadata only, outlet."""

from __future__ import annotations

from pactwatch_ingest.pages import extract_page

STORY = (
    "The foreign ministers of Freedonia and Sylvania signed a memorandum on water sharing on "
    "Tuesday in the capital, officials said after the ceremony.",
    "The agreement covers the joint management of the river basin for ten years and was "
    "welcomed by farmers on both sides of the border.",
)


def page(head: str = "", body_extra: str = "") -> str:
    paragraphs = "".join(f"<p>{p}</p>" for p in STORY)
    return (
        f"<html><head><title>Water memorandum signed | Daily Example</title>{head}</head>"
        "<body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>Water memorandum signed</h1>{paragraphs}{body_extra}</article>"
        "<footer>Contact us</footer></body></html>"
    )


def test_body_title_date_and_outlet_come_from_the_page() -> None:
    found = extract_page(
        page(
            '<meta property="og:site_name" content="Daily Example">'
            '<meta property="article:published_time" content="2023-04-05T10:00:00+02:00">'
            '<link rel="canonical" href="https://daily.example/news/water">'
        ),
        "https://daily.example/news/water?utm_source=feed",
    )
    assert found is not None
    assert found.title == "Water memorandum signed"
    assert found.text == "\n\n".join(STORY)  # headline not repeated, navigation dropped
    assert found.published == "2023-04-05"
    assert found.source == "Daily Example"
    assert found.url == "https://daily.example/news/water?utm_source=feed"


def test_without_a_url_the_canonical_one_is_used() -> None:
    found = extract_page(page('<link rel="canonical" href="https://daily.example/news/water">'))
    assert found is not None
    assert found.url == "https://daily.example/news/water"


def test_a_date_printed_in_the_text_is_not_taken_for_the_publication_date() -> None:
    found = extract_page(page(body_extra="<p>Talks began on 12 March 2019 in the capital.</p>"))
    assert found is not None
    assert found.published is None


def test_bytes_are_decoded_by_their_declared_charset() -> None:
    markup = page('<meta charset="iso-8859-1">', "<p>Le ministre a dit : « très bien ».</p>")
    found = extract_page(markup.encode("iso-8859-1"))
    assert found is not None
    assert "« très bien »" in found.text


def test_a_page_without_an_article_gives_nothing() -> None:
    assert extract_page("") is None
    assert extract_page("<html><body></body></html>") is None
    assert extract_page(b"\x00\x01\x02") is None
