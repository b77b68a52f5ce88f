"""Level 1 deduplication as plain logic over the in-memory stores (the service's logic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
from pactwatch.contracts import Article
from pactwatch_deduplicator.judging import MemoryClaims, MemoryLsh, Verdict, judge
from pactwatch_deduplicator.nearness import Fingerprinter, shingles, similarity

STORY = (
    "Kenya and Uganda signed an agreement on Monday to build a standard gauge railway line "
    "between Nairobi and Kampala, officials said after talks in Entebbe. The line will carry "
    "freight and passengers and is to be financed jointly by the two governments, with "
    "construction due to start next year. Ministers from both countries attended the signing "
    "ceremony, which followed two days of negotiations on the cost sharing arrangements."
)


def run(batches: list[list[Article]]) -> list[Verdict]:
    claims, lsh, fp = MemoryClaims(), MemoryLsh(), Fingerprinter()
    start = datetime(2024, 3, 14, tzinfo=UTC)

    async def go() -> list[Verdict]:
        out: list[Verdict] = []
        n = 0
        for batch in batches:
            stamped = []
            for article in batch:
                stamped.append((article, start + timedelta(seconds=n)))
                n += 1
            out.extend(await judge(claims, lsh, fp, stamped))
        return out

    return anyio.run(go)


def test_exact_copy_by_text_is_a_duplicate_of_the_first() -> None:
    first = Article(id="a", url="https://one.example/a", text=STORY)
    copy = Article(id="b", url="https://two.example/b", text=STORY.upper())
    verdicts = run([[first], [copy]])
    assert verdicts[0].duplicate_of is None
    assert (verdicts[1].duplicate_of, verdicts[1].method) == ("a", "text")


def test_same_url_is_a_duplicate_even_with_another_id() -> None:
    first = Article(id="a", url="https://one.example/a?utm_source=x", text=STORY)
    again = Article(id="z", url="https://ONE.example/a", text="A corrected version. " + STORY)
    verdicts = run([[first], [again]])
    assert (verdicts[1].duplicate_of, verdicts[1].method) == ("a", "url")


def test_near_duplicate_with_a_new_headline_and_a_cut_sentence() -> None:
    edited = STORY.replace(" The line will carry freight and passengers and", " It")
    first = Article(id="a", title="Rail deal signed", text=STORY)
    copy = Article(id="b", title="Kenya, Uganda agree on railway", text=edited + " More soon.")
    verdicts = run([[first], [copy]])
    assert verdicts[1].duplicate_of == "a"
    assert verdicts[1].method == "near"
    assert 0.5 <= verdicts[1].similarity < 1


def test_an_independent_report_of_the_same_event_is_not_a_duplicate() -> None:
    other = (
        "Uganda and Kenya have agreed to jointly finance a new railway linking their capitals, "
        "according to a statement from the Ugandan presidency on Tuesday. The deal was signed "
        "by the transport ministers in Entebbe and construction should begin within a year."
    )
    verdicts = run([[Article(id="a", text=STORY)], [Article(id="b", text=other)]])
    assert verdicts[1].duplicate_of is None


def test_two_copies_in_one_batch_the_first_wins() -> None:
    verdicts = run([[Article(id="a", text=STORY), Article(id="b", text=STORY + " Update.")]])
    assert verdicts[0].duplicate_of is None
    assert verdicts[1].duplicate_of == "a"


def test_a_copy_of_a_copy_points_at_the_original() -> None:
    second = STORY + " The agreement was welcomed by business groups in both countries."
    third = second + " Analysts said the project would lower freight costs."
    verdicts = run([[Article(id="a", text=STORY)], [Article(id="b", text=second)]])
    assert verdicts[1].duplicate_of == "a"
    verdicts = run(
        [
            [Article(id="a", text=STORY)],
            [Article(id="b", text=second)],
            [Article(id="c", text=third)],
        ]
    )
    assert verdicts[2].duplicate_of == "a"


def test_a_redelivered_message_is_judged_the_same_way() -> None:
    claims, lsh, fp = MemoryClaims(), MemoryLsh(), Fingerprinter()
    when = datetime(2024, 3, 14, tzinfo=UTC)
    first = Article(id="a", text=STORY)
    copy = Article(id="b", text=STORY + " Update.")

    async def go() -> tuple[list[Verdict], list[Verdict]]:
        once = await judge(claims, lsh, fp, [(first, when), (copy, when + timedelta(seconds=1))])
        twice = await judge(claims, lsh, fp, [(first, when), (copy, when + timedelta(seconds=1))])
        return once, twice

    once, twice = anyio.run(go)
    assert [v.duplicate_of for v in once] == [None, "a"]
    assert [v.duplicate_of for v in twice] == [None, "a"]


def test_a_re_ingest_of_the_same_article_is_a_repeat() -> None:
    verdicts = run([[Article(id="a", text=STORY)], [Article(id="a", text=STORY)]])
    assert (verdicts[1].duplicate_of, verdicts[1].method) == ("a", "id")


def test_shingles_fold_case_and_punctuation_and_handle_short_texts() -> None:
    assert shingles("One, two; THREE four five six!") == shingles("one two three four five six")
    assert shingles("Short text") == [b"short text"]
    assert shingles("") == []


def test_similarity_estimates_jaccard() -> None:
    fp = Fingerprinter()
    a = fp.signature(STORY)
    assert similarity(a, a) == 1.0
    assert similarity(a, fp.signature("An unrelated story about football results.")) < 0.1
    assert similarity(a.tobytes(), a) == 1.0
