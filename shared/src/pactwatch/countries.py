"""Country names for ISO 3166-1 alpha-3 codes (pycountry)."""

from __future__ import annotations

from functools import cache

import pycountry

# Common names people read in news, where ISO's short name is a mouthful.
_COMMON = {
    "RUS": "Russia",
    "KOR": "South Korea",
    "PRK": "North Korea",
    "IRN": "Iran",
    "SYR": "Syria",
    "VEN": "Venezuela",
    "BOL": "Bolivia",
    "TZA": "Tanzania",
    "VNM": "Vietnam",
    "LAO": "Laos",
    "MDA": "Moldova",
    "TWN": "Taiwan",
    "COD": "DR Congo",
    "COG": "Republic of the Congo",
    "GBR": "United Kingdom",
    "USA": "United States",
    "TUR": "Türkiye",
    "FSM": "Micronesia",
    "PSE": "Palestine",
    "CZE": "Czechia",
    "BRN": "Brunei",
}


@cache
def country_name(code: str) -> str:
    """The common English name of ``code``, or the code itself when it is not ISO 3166-1."""
    if code in _COMMON:
        return _COMMON[code]
    country = pycountry.countries.get(alpha_3=code)
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


def is_country(code: str) -> bool:
    """Whether ``code`` is an ISO 3166-1 alpha-3 code."""
    return pycountry.countries.get(alpha_3=code) is not None
