"""Identity and normalisation of an article: canonical URLs, deterministic ids, the
seed-style header, and what to_article makes of a submitted article."""

from __future__ import annotations

from datetime import date

import pytest
from pactwatch.identity import canonical_url
from pactwatch_ingest.intake import (
    ArticleIn,
    UnusableItemError,
    build_candidate,
    to_article,
    validate_items,
)
from pactwatch_ingest.normalise import article_id, split_seed_header
from pydantic import ValidationError

TODAY = date(2024, 5, 10)
STORY = (
    "The foreign ministers of Freedonia and Sylvania signed a memorandum on water sharing "
    "on Tuesday, after two years of talks about the river basin."
)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://News.Example/a/b", "https://news.example/a/b"),
        ("https://news.example:443/a", "https://news.example/a"),
        ("http://news.example:80/a", "http://news.example/a"),
        ("http://news.example:8080/a", "http://news.example:8080/a"),
        (
            "https://news.example/a?utm_source=rss&utm_medium=x&id=7#comments",
            "https://news.example/a?id=7",
        ),
        ("https://news.example/a?b=2&a=1&fbclid=xyz&gclid=1", "https://news.example/a?a=1&b=2"),
        ("https://news.example", "https://news.example/"),
    ],
)
def test_canonical_urls(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


def test_ids_are_deterministic_from_the_canonical_url_else_the_text() -> None:
    one = article_id("https://news.example/a?utm_campaign=z#top", "whatever")
    assert one == article_id("HTTPS://NEWS.EXAMPLE/a", "other text")
    assert one != article_id("https://news.example/b", "whatever")
    from_text = article_id(None, "Ministers met.  Then they SIGNED!")
    assert from_text == article_id(None, "ministers met then they signed")
    assert from_text != one
    assert one.startswith("a")
    assert len(one) == 21


def test_the_seed_style_header_gives_date_and_source_and_drops_the_byline() -> None:
    header = split_seed_header(f" date 2021-10-27 By Example Post\n\n\n\nBy Jane Roe\n\n{STORY}\n")
    assert header is not None
    assert (header.published, header.source) == ("2021-10-27", "Example Post")
    assert header.body.strip() == STORY
    no_byline = split_seed_header(f"date 2021-10-27 by Example Post\n{STORY}")
    assert no_byline is not None
    assert no_byline.body == STORY


@pytest.mark.parametrize(
    "text",
    [
        STORY,
        "Date night by the river ended early.\n\nNothing else.",
        "date unknown by anyone\n\ntext",
        "",
    ],
)
def test_texts_without_the_header_are_left_alone(text: str) -> None:
    assert split_seed_header(text) is None


def test_to_article_reads_the_header_cleans_and_marks() -> None:
    submitted = ArticleIn(
        text=f"date 2021-10-27 By Example Post\n\nBy Jane Roe\n\n<p>{STORY}</p>\n\n"
        "Share this article"
    )
    article = to_article(submitted, TODAY)
    assert article.text == STORY
    assert (article.source, article.published, article.language) == (
        "Example Post",
        date(2021, 10, 27),
        "en",
    )
    assert article.notes == ("HTML markup removed from the text", "1 boilerplate line removed")
    assert article.id == article_id(None, STORY)


def test_fields_given_by_the_sender_win_over_the_header() -> None:
    submitted = ArticleIn(
        source="Wire",
        published="2021-10-28",
        url="https://wire.example/x",
        text=f"date 2021-10-27 By Example Post\n\n{STORY}",
    )
    article = to_article(submitted, TODAY)
    assert (article.source, article.published) == ("Wire", date(2021, 10, 28))
    assert article.id == article_id("https://wire.example/x", STORY)


def test_a_header_date_that_cannot_be_read_is_noted_as_from_the_header() -> None:
    article = to_article(ArticleIn(text=f"date 31/31/2021 By Post\n\n{STORY}"), TODAY)
    assert article.published is None
    assert any("(seed header)" in note for note in article.notes)


def test_non_english_articles_are_accepted_and_marked() -> None:
    french = (
        "Les ministres des affaires étrangères des deux pays ont signé mardi un mémorandum sur "
        "le partage de l'eau, après deux ans de négociations."
    )
    article = to_article(ArticleIn(text=french), TODAY)
    assert article.language == "fr"
    assert article.text == french


def test_a_text_of_nothing_but_markup_and_boilerplate_is_unusable() -> None:
    with pytest.raises(UnusableItemError) as raised:
        to_article(ArticleIn(text="<div><script>x()</script></div>\n\nLeave a review"), TODAY)
    assert raised.value.field == "text"


def test_validation_names_the_field_and_keeps_the_good_items() -> None:
    good, bad = validate_items(
        [
            {"text": STORY},
            {"text": ""},
            {"text": STORY, "url": "ftp://x"},
            {"text": STORY, "published": "0001-01-01"},
            {"text": STORY, "extra": 1},
            "not an object",
        ]
    )
    assert [i for i, _ in good] == [0]
    assert {b["index"]: b["errors"][0]["field"] for b in bad} == {
        1: "text",
        2: "url",
        3: "published",
        4: "extra",
        5: "(article)",
    }


def test_a_feed_or_page_date_before_1900_is_unknown_not_a_rejection() -> None:
    candidate = build_candidate(
        0,
        url="https://news.example/a",
        source="Feed",
        published="0001-01-01",
        title="T",
        text=STORY,
        origin="feed entry",
    )
    assert candidate.item.published is None
    assert any("before 1900" in n for n in candidate.notes)
    with pytest.raises(UnusableItemError) as raised:
        build_candidate(0, url="mailto:x", source=None, published=None, title="", text=STORY)
    assert raised.value.field == "url"


def test_article_in_refuses_wrong_types() -> None:
    with pytest.raises(ValidationError):
        ArticleIn.model_validate({"text": STORY, "published": 20240506})


@pytest.mark.parametrize("field", ["id", "url"])
def test_an_id_or_url_with_a_control_character_is_refused(field: str) -> None:
    value = "https://news.example/a\x00b" if field == "url" else "a\x00b"
    with pytest.raises(ValidationError, match=f"{field}\n.*must not contain control characters"):
        ArticleIn.model_validate({"text": "Some text.", field: value})


def test_a_source_name_is_put_on_one_line() -> None:
    submitted = ArticleIn(text="Some text.", source="Azer\x00news\n  Daily")
    assert submitted.source == "Azer news Daily"
