"""The alert filter shared by server-sent events, ``alerts tail`` and webhooks."""

from __future__ import annotations

from typing import Any

import pytest
from pactwatch.alertfeed import AlertFilter, check_stream_id, fold, parse_codes
from pydantic import ValidationError


def alert(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event": "agreement.signed",
        "parties": ["AZE", "TUR"],
        "kind": "memorandum",
        "title": "Memorandum on cooperation in the defence industry",
        "confidence": 0.9,
        "freshness": "earlier",
    }
    return {**base, **changes}


def test_empty_filter_takes_every_alert() -> None:
    assert AlertFilter().matches(alert())
    assert AlertFilter().describe() == "all alerts"


@pytest.mark.parametrize(
    ("conditions", "expected"),
    [
        ({"parties": ["AZE"]}, True),
        ({"parties": ["FRA", "TUR"]}, True),  # any of them
        ({"parties": ["FRA"]}, False),
        ({"pair": "TUR,AZE"}, True),  # either order
        ({"pair": "AZE,GEO"}, False),
        ({"kinds": ["memorandum", "treaty"]}, True),
        ({"kinds": ["treaty"]}, False),
        ({"min_confidence": 0.9}, True),
        ({"min_confidence": 0.95}, False),
        ({"keywords": ["DEFENCE"]}, True),
        ({"keywords": ["energy", "industry"]}, True),
        ({"keywords": ["energy"]}, False),
        ({"fresh_only": True}, False),
        ({"parties": ["AZE"], "kinds": ["treaty"]}, False),  # every condition must hold
    ],
)
def test_each_condition(conditions: dict[str, Any], expected: bool) -> None:
    assert AlertFilter.model_validate(conditions).matches(alert()) is expected


def test_fresh_only_takes_signings_reported_as_they_happen() -> None:
    assert AlertFilter(fresh_only=True).matches(alert(freshness="signed"))


def test_keywords_ignore_accents_and_case() -> None:
    assert AlertFilter(keywords=("turkiye",)).matches(alert(title="Accord avec la TÜRKIYE"))
    assert fold("Türkiye") == "turkiye"


def test_codes_are_normalised_and_pairs_sorted() -> None:
    f = AlertFilter.model_validate({"parties": "aze, tur", "pair": ["tur", "aze"]})
    assert f.parties == ("AZE", "TUR")
    assert f.pair == ("AZE", "TUR")
    assert f.describe() == "party AZE|TUR; pair AZE,TUR"


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"parties": ["XYZ"]}, "not an ISO 3166-1 alpha-3"),
        ({"parties": ["Azerbaijan"]}, "not an ISO 3166-1 alpha-3"),
        ({"pair": "AZE"}, "two different country codes"),
        ({"pair": "AZE,AZE"}, "two different country codes"),
        ({"pair": "AZE,TUR,GEO"}, "two different country codes"),
        ({"kinds": ["pact"]}, "memorandum"),
        ({"min_confidence": 1.5}, "less than or equal to 1"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"parties": [1]}, "should be a valid string"),
        ({"pair": [1, 2]}, "should be a valid string"),
        ({"kinds": [None]}, "memorandum"),
        ({"keywords": "defence"}, "valid tuple"),
    ],
)
def test_invalid_filters_say_what_is_wrong(conditions: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AlertFilter.model_validate(conditions)


def test_an_alert_missing_fields_does_not_match_a_filter_on_them() -> None:
    assert not AlertFilter(parties=("AZE",)).matches({"event": "agreement.signed"})
    assert AlertFilter().matches({"event": "agreement.signed"})


@pytest.mark.parametrize(
    "odd",
    [
        {"parties": "AZE"},
        {"parties": 7},
        {"parties": [None, 3, {"x": 1}]},
        {"parties": ["AZE", None], "confidence": "high"},
        {"confidence": None},
        {"confidence": [0.9]},
    ],
)
def test_an_alert_with_fields_of_the_wrong_shape_fails_the_filter_without_raising(
    odd: dict[str, Any],
) -> None:
    strict = AlertFilter(parties=("AZE",), pair=("AZE", "TUR"), min_confidence=0.5)
    assert not strict.matches({"event": "agreement.signed", **odd})
    assert AlertFilter().matches({"event": "agreement.signed", **odd})


def test_parse_codes_and_stream_ids() -> None:
    assert parse_codes(None) == ()
    assert parse_codes(["aze,TUR", " geo "]) == ("AZE", "TUR", "GEO")
    assert check_stream_id("0") == "0"
    assert check_stream_id("1730000000000-3") == "1730000000000-3"
    for bad in ("$", "abc", "12-", "-1", "1-2-3", "99999999999999999999", "1-18446744073709551616"):
        with pytest.raises(ValueError, match="not a stream id"):
            check_stream_id(bad)
