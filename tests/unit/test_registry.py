"""Level 2: one alert per agreement. The matching rules and the registry's decision."""

from __future__ import annotations

from datetime import date

import anyio
import pytest
from pactwatch.contracts import AgreementRecord
from pactwatch.matching import Known, dates_compatible, same_agreement, stems_meet, title_stems
from pactwatch_notifier.deciding import freshness
from pactwatch_notifier.registry import MemoryRegistry, Resolution


def record(
    title: str,
    kind: str = "memorandum",
    signed_on: str | None = "2021-12-10",
    status: str = "signed",
    parties: tuple[str | None, ...] = ("KEN", "TZA"),
) -> AgreementRecord:
    return AgreementRecord(
        parties=parties,
        kind=kind,
        title=title,
        signed_on=signed_on,
        status=status,
        bilateral=len(parties) == 2 and all(parties),
        confidence=0.9,
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Shusha Declaration on Allied Relations", "memorandum of alliance"),
        ("correctional services", "prisons"),
        ("animal health", "controlling livestock diseases in border areas"),
        ("defence cooperation", "defense cooperation"),
        ("cooperation between the Kenya Investment Authority and the Tanzania Investment Centre",
         "investment"),
    ],
)  # fmt: skip
def test_titles_of_one_document_meet(a: str, b: str) -> None:
    assert stems_meet(title_stems(a), title_stems(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("opening representative offices of the customs services", "radio frequency services"),
        ("extradition", "housing and urban development"),
        ("maritime transport and ports", "tourism and hotels"),
    ],
)
def test_titles_of_different_documents_do_not_meet(a: str, b: str) -> None:
    assert not stems_meet(title_stems(a), title_stems(b))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # two kinds of one subject, as a state visit signs them side by side
        ("food security", "cyber security"),
        ("renewable energy", "nuclear energy"),
        ("space research", "scientific research"),
        # a concept's word is not any word that starts like it
        ("cultural heritage", "artificial intelligence"),
        ("promotion of investments", "criminal investigations"),
    ],
)
def test_reports_of_different_agreements_on_one_day_stay_apart(a: str, b: str) -> None:
    known = Known("k", "memorandum", a, "2025-03-10")
    assert not same_agreement(known, "memorandum", b, "2025-03-10")
    # and the registry gives the second its own entry, and its own alert
    registry = MemoryRegistry()
    first, second = resolve_all(
        registry, [(record(a, signed_on="2025-03-10"), "art-1", "Wire", True),
                   (record(b, signed_on="2025-03-10"), "art-2", "Post", True)],
    )  # fmt: skip
    assert first.alert
    assert second.alert
    assert first.key != second.key


def test_dates_conflict_only_when_both_are_known() -> None:
    assert dates_compatible("2021-06-15", None)
    assert dates_compatible("2021-06-15", "2021-06-16")
    assert dates_compatible("2021", "2021-06-15")
    assert not dates_compatible("2021-06-15", "2021-12-10")
    assert not dates_compatible("2020", "2021-06-15")
    # an undated report of early January is dated with its year: the signing of New Year's
    # Eve another outlet dates is the same one
    assert dates_compatible("2025", "2024-12-31")
    assert dates_compatible("2024-12-28", "2025")
    assert not dates_compatible("2025", "2024-12-20")
    assert not dates_compatible("2024", "2025-01-01")


def test_a_title_in_one_report_and_a_subject_in_another_are_one_agreement() -> None:
    known = Known("k", "declaration", "Shusha Declaration on Allied Relations", "2021-06-15")
    assert same_agreement(known, "declaration", "allied relations", None)
    assert not same_agreement(known, "declaration", "allied relations", "2020-01-01")


def resolve_all(
    registry: MemoryRegistry, items: list[tuple[AgreementRecord, str, str, bool]]
) -> list[Resolution]:
    async def go() -> list[Resolution]:
        return [await registry.resolve(r, art, src, wants) for r, art, src, wants in items]

    return anyio.run(go)


def test_first_sighting_alerts_later_reports_count_mentions_and_sources() -> None:
    registry = MemoryRegistry()
    first, second, third = resolve_all(
        registry,
        [
            (record("immigration"), "a1", "Dispatch", True),
            (record("immigration"), "a2", "Daily", True),
            (record("immigration", signed_on=None), "a3", "Daily", True),
        ],
    )
    assert (first.first, first.alert) == (True, True)
    assert (second.first, second.alert) == (False, False)
    assert (third.alert, third.mentions, third.sources) == (False, 3, 2)
    assert second.key == first.key == third.key


def test_a_redelivery_of_the_claimant_publishes_again_no_one_else_does() -> None:
    registry = MemoryRegistry()
    first, again, other = resolve_all(
        registry,
        [
            (record("extradition", kind="agreement"), "a1", "S", True),
            (record("extradition", kind="agreement"), "a1", "S", True),
            (record("extradition", kind="agreement"), "a2", "T", True),
        ],
    )
    assert (first.alert, again.alert, other.alert) == (True, True, False)
    assert again.mentions == 1


def test_planned_then_signed_alerts_once_at_the_signing() -> None:
    registry = MemoryRegistry()
    planned, signed, later = resolve_all(
        registry,
        [
            (record("visa exemption", "agreement", None, "planned"), "p", "S", False),
            (record("visa exemption", kind="agreement"), "s", "S", True),
            (record("visa exemption", kind="agreement"), "t", "T", True),
        ],
    )
    assert (planned.alert, signed.alert, later.alert) == (False, True, False)
    assert planned.key == signed.key


def test_two_documents_of_one_article_stay_two_even_when_their_subjects_meet() -> None:
    registry = MemoryRegistry()
    a, b = resolve_all(
        registry,
        [
            (record("transfer of sentenced persons", kind="agreement"), "d3", "S", True),
            (record("correctional services"), "d3", "S", True),
        ],
    )
    assert a.key != b.key
    assert a.alert
    assert b.alert


def test_two_agreements_with_the_same_key_keep_two_entries() -> None:
    # undated and without a subject, two documents of two articles: nothing says they are
    # one ("memorandum" alone meets nothing), and their keys would be equal
    registry = MemoryRegistry()
    undated = record("memorandum of understanding", signed_on=None, status="planned")
    a, b = resolve_all(registry, [(undated, "x1", "S", False), (undated, "x2", "T", False)])
    assert a.first
    assert b.first
    assert a.key != b.key
    entries = registry._pairs["KEN-TZA"].values()
    assert sorted(e["first_article"] for e in entries) == ["x1", "x2"]  # neither replaced


@pytest.mark.parametrize(
    ("status", "signed_on", "published", "expected"),
    [
        ("signed", "2021-06-15", date(2021, 6, 15), "signed"),
        ("signed", None, date(2021, 6, 15), "signed"),
        # as fresh as the extractor reads it: six days old is news, a week old is background
        ("signed", "2021-06-09", date(2021, 6, 15), "signed"),
        ("signed", "2021-06-08", date(2021, 6, 15), "earlier"),
        ("past_reference", "2021-06-15", date(2021, 10, 27), "earlier"),
        ("past_reference", "1921-10-13", date(2021, 6, 16), None),
        ("past_reference", "2021", date(2021, 10, 27), None),
        ("planned", None, date(2021, 6, 15), None),
        ("cancelled", None, date(2021, 6, 15), None),
    ],
)
def test_freshness(
    status: str, signed_on: str | None, published: date, expected: str | None
) -> None:
    assert (
        freshness(record("alliance", signed_on=signed_on, status=status), published, 365)
        == expected
    )


def test_multilateral_and_non_state_records_never_alert() -> None:
    trilateral = record("security", parties=("AUS", "JPN", "USA"))
    with_eu = record("fisheries", parties=("MAR", None))
    assert freshness(trilateral, date(2021, 12, 10), 365) is None
    assert freshness(with_eu, date(2021, 12, 10), 365) is None
