"""Level 1 deduplication as plain logic over the in-memory stores (the service's logic)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import anyio
import numpy as np
from pactwatch.contracts import Article
from pactwatch.identity import text_fingerprint, words
from pactwatch_deduplicator.judging import MemoryClaims, MemoryLsh, Verdict, identities, judge
from pactwatch_deduplicator.nearness import Fingerprinter, shingle_hashes, similarity

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


def hashes(text: str) -> list[int]:
    return sorted(set(shingle_hashes(words(text)).tolist()))


def test_shingles_fold_case_and_punctuation_and_handle_short_texts() -> None:
    assert hashes("One, two; THREE four five six!") == hashes("one two three four five six")
    assert len(hashes("one two three four five six")) == 2
    assert len(hashes("Short text")) == 1
    assert hashes("Short text") != hashes("text Short")
    assert hashes("") == []


def test_a_shingle_is_its_words_in_order() -> None:
    # the same five words in another order are another shingle; a repeated run counts once
    assert hashes("a b c d e") != hashes("e d c b a")
    assert hashes("a b c d e a b c d e") == hashes("a b c d e a b c d e a b c d e")
    assert len(hashes("a b c d e a b c d e")) == 5


def test_the_text_claim_is_the_fingerprint_of_title_and_text() -> None:
    # claims stay valid for the dedup window: the key must not change with how it is computed
    article = Article(id="a", title="Rail deal: signed!", text="Ça va. " + STORY)
    (_, key) = identities(article, words(article.text))[-1]
    assert key == f"text:{text_fingerprint(article.title + ' ' + article.text)}"


def test_similarity_estimates_jaccard() -> None:
    fp = Fingerprinter()
    a = fp.signature(STORY)
    assert similarity(a, a) == 1.0
    assert similarity(a, fp.signature("An unrelated story about football results.")) < 0.1
    assert similarity(a.tobytes(), a) == 1.0


def test_similarity_estimates_the_jaccard_of_the_shingle_sets() -> None:
    rng = random.Random(3)
    vocabulary = [f"w{n}" for n in range(5000)]
    first = rng.choices(vocabulary, k=1000)
    second = first[:600] + rng.choices(vocabulary, k=400)
    a, b = set(hashes(" ".join(first))), set(hashes(" ".join(second)))
    jaccard = len(a & b) / len(a | b)
    fp = Fingerprinter()
    estimate = similarity(fp.signature(" ".join(first)), fp.signature(" ".join(second)))
    assert 0.38 < jaccard < 0.48
    assert abs(estimate - jaccard) < 0.1  # 256 permutations: standard error about 0.03


def test_a_long_text_has_the_signature_of_its_overlapping_halves_combined() -> None:
    # a signature is the least permuted hash per permutation, so that of a text is the
    # element-wise minimum of those of two parts sharing the four words a shingle spans
    rng = random.Random(4)
    text_words = [f"w{rng.randrange(100_000)}" for _ in range(12_000)]
    fp = Fingerprinter()
    whole = fp.signature_of_words(text_words)
    halves = np.minimum(
        fp.signature_of_words(text_words[:6004]), fp.signature_of_words(text_words[6000:])
    )
    assert (whole == halves).all()
    assert similarity(whole, fp.signature_of_words(text_words[:6004])) < 0.9


def test_an_empty_text_has_an_empty_signature() -> None:
    fp = Fingerprinter()
    assert (fp.signature("") == np.iinfo(np.uint32).max).all()
    assert similarity(fp.signature(""), fp.signature(STORY)) == 0.0
