"""The benchmark's article generator: repeatable, the size asked, near-duplicates as asked,
and originals that the deduplicator must not mistake for one another."""

from __future__ import annotations

import random
from datetime import date, timedelta
from itertools import combinations

import pytest
from pactwatch.identity import words
from pactwatch_deduplicator.nearness import shingle_hashes
from pactwatch_ingest.intake import ArticleIn

from tests.bench.generator import (
    EARLIEST,
    LATEST,
    BenchArticle,
    Swap,
    countries,
    generate,
    sentences,
    shift_dates,
)

THRESHOLD = 0.5
"""The deduplicator's default near-duplicate threshold (Jaccard of 5-word shingles)."""


def jaccard(a: BenchArticle, b: BenchArticle) -> float:
    x = set(shingle_hashes(words(a.text)).tolist())
    y = set(shingle_hashes(words(b.text)).tolist())
    return len(x & y) / len(x | y)


def test_the_same_seed_gives_the_same_articles_and_another_seed_others() -> None:
    first = [a.payload() for a in generate(40, seed=7, duplicates=0.25)]
    again = [a.payload() for a in generate(40, seed=7, duplicates=0.25)]
    other = [a.payload() for a in generate(40, seed=8, duplicates=0.25)]
    assert first == again
    assert {a["text"] for a in first}.isdisjoint({a["text"] for a in other})


@pytest.mark.parametrize(("count", "share"), [(0, 0.0), (1, 0.0), (57, 0.0), (57, 0.3), (10, 0.5)])
def test_it_makes_the_count_and_the_share_of_near_duplicates_asked(
    count: int, share: float
) -> None:
    articles = generate(count, seed=3, duplicates=share)
    assert len(articles) == count
    copies = [a for a in articles if a.duplicate_of is not None]
    assert len(copies) == round(count * share)
    assert len({a.id for a in articles}) == count
    assert len({a.url for a in articles}) == count
    position = {a.id: n for n, a in enumerate(articles)}
    for copy in copies:
        assert position[copy.duplicate_of or ""] < position[copy.id]  # the original comes first


def test_near_duplicates_are_near_and_originals_of_one_dev_article_are_not() -> None:
    articles = generate(150, seed=11, duplicates=0.3)
    by_id = {a.id: a for a in articles}
    for copy in (a for a in articles if a.duplicate_of):
        original = by_id[copy.duplicate_of or ""]
        assert jaccard(copy, original) >= THRESHOLD + 0.15, copy.id
        assert copy.title != original.title
        assert copy.source != original.source
    originals = [a for a in articles if a.duplicate_of is None]
    for a, b in combinations(originals, 2):
        if a.base == b.base:
            assert jaccard(a, b) < THRESHOLD - 0.1, (a.id, b.id)


def test_every_article_is_one_ingest_accepts() -> None:
    for article in generate(60, seed=5, duplicates=0.2):
        ArticleIn.model_validate(article.payload())
        assert EARLIEST <= article.published <= LATEST
        assert article.text.count("\n\n") >= 2


def test_dates_move_by_whole_weeks_so_weekdays_stay_right() -> None:
    text = (
        "SEOUL, Sept. 12 (Wire) - The two ministers signed it on Friday, Sept. 11, 2015, "
        "after talks in May 2015. Officials may sign more in June. It builds on the treaty "
        "of October 13, 1921, and a 2014 accord."
    )
    moved = shift_dates(text, date(2015, 9, 12), timedelta(weeks=-3))
    assert moved == (
        "SEOUL, Aug. 22 (Wire) - The two ministers signed it on Friday, Aug. 21, 2015, "
        "after talks in April 2015. Officials may sign more in May. It builds on the treaty "
        "of October 13, 1921, and a 2014 accord."
    )
    assert date(2015, 8, 21).strftime("%A") == "Friday"
    later = shift_dates("on 15 June 2021 and in 2020", date(2021, 6, 15), timedelta(weeks=60))
    assert later == "on 9 August 2022 and in 2021"


def test_countries_and_their_people_are_swapped_consistently() -> None:
    by_code = {c.code: c for c in countries()}
    swap = Swap({"AZE": by_code["KEN"], "TUR": by_code["UZB"]}, random.Random(1))
    text = swap.apply(
        "BAKU - Azerbaijani President Ilham Aliyev met Recep Tayyip Erdogan in Baku. "
        "Aliyev said an Azerbaijani delegation would visit Turkey, and Erdogan thanked "
        "Azerbaijan. A Turkish official spoke."
    )
    kenyan = text.split("President ")[1].split(" met")[0]
    last = kenyan.split(" ", 1)[1]
    assert text.startswith("NAIROBI - Kenyan President ")
    assert f"{last} said a Kenyan delegation would visit Uzbekistan" in text
    assert "in Nairobi." in text
    assert "thanked Kenya. An Uzbek official spoke." in text
    assert "Aliyev" not in text
    assert "Erdogan" not in text


def test_short_names_become_nouns_or_adjectives_as_used() -> None:
    by_code = {c.code: c for c in countries()}
    swap = Swap({"USA": by_code["CAN"], "PHL": by_code["PRT"]}, random.Random(2))
    text = swap.apply(
        "the US Navy said; US forces and the United States met the Philippines and Japan."
    )
    assert text == ("the Canadian Navy said; Canadian forces and Canada met Portugal and Japan.")


def test_sentences_do_not_end_at_abbreviations_or_initials() -> None:
    assert sentences("Mr. Yun met Carmen G. Cantor on Oct. 30. They talked. It ended.") == [
        "Mr. Yun met Carmen G. Cantor on Oct. 30.",
        "They talked.",
        "It ended.",
    ]
