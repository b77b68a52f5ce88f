"""Which words name a country: names, official names, demonyms, capitals and metonyms.

Built from pycountry (every ISO 3166-1 name, official name and common name) and a reviewed
table (data/countries.tsv) of the forms news prose uses that pycountry lacks: demonyms
("Turkish"), capitals standing for their governments ("Ankara"), and short names ("the DRC").
Also the organisations and unrecognised entities that sign documents but are not sovereign
states: a document they sign is never bilateral between two countries.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pycountry

# Bodies that sign agreements but are not sovereign states (label policy: parties null).
NON_STATE_BODIES = (
    "European Union|EU|European Commission|Council of the European Union|European Investment Bank|"
    "World Bank|International Development Association|IDA|International Monetary Fund|IMF|"
    "United Nations|UN|UNDP|UNICEF|UNHCR|UNESCO|WHO|World Health Organization|FAO|WFP|"
    "World Food Programme|IAEA|African Union|AU|ECOWAS|Economic Community of West African States|"
    "SADC|EAC|East African Community|ASEAN|NATO|OPEC|Gulf Cooperation Council|GCC|"
    "Shanghai Cooperation Organisation|SCO|Mercosur|Pacific Alliance|CARICOM|G7|G20|BRICS|"
    "African Development Bank|AfDB|Asian Development Bank|ADB|Inter-American Development Bank|IDB|"
    "EBRD|European Bank for Reconstruction and Development|Asian Infrastructure Investment Bank|"
    "AIIB|International Finance Corporation|IFC|Arab League|League of Arab States|"
    "Organisation of Islamic Cooperation|OIC|Commonwealth of Independent States|CIS|"
    "Eurasian Economic Union|EAEU|Collective Security Treaty Organization|CSTO|OSCE|"
    "Council of Europe|Red Cross|ICRC"
).split("|")

# Entities that sign documents but are not recognised sovereign states.
UNRECOGNISED = (
    "Somaliland|Transnistria|Abkhazia|South Ossetia|Northern Cyprus|"
    "Turkish Republic of Northern Cyprus|Donetsk People's Republic|Luhansk People's Republic|"
    "Nagorno-Karabakh Republic|Artsakh|Western Sahara|Sahrawi Arab Democratic Republic|"
    "Polisario|Kosovo"
).split("|")

# One body named several ways: an acronym, or an institution acting for its union. The
# canonical name is what a record carries, so that "the EU" and "the European Commission"
# in one article are one counterpart, not two.
_BODY_ALIASES = {
    "EU": "European Union",
    "European Commission": "European Union",
    "Council of the European Union": "European Union",
    "IDA": "International Development Association",
    "IMF": "International Monetary Fund",
    "UN": "United Nations",
    "WHO": "World Health Organization",
    "World Food Programme": "WFP",
    "AU": "African Union",
    "Economic Community of West African States": "ECOWAS",
    "East African Community": "EAC",
    "GCC": "Gulf Cooperation Council",
    "SCO": "Shanghai Cooperation Organisation",
    "AfDB": "African Development Bank",
    "ADB": "Asian Development Bank",
    "IDB": "Inter-American Development Bank",
    "European Bank for Reconstruction and Development": "EBRD",
    "AIIB": "Asian Infrastructure Investment Bank",
    "IFC": "International Finance Corporation",
    "League of Arab States": "Arab League",
    "OIC": "Organisation of Islamic Cooperation",
    "CIS": "Commonwealth of Independent States",
    "EAEU": "Eurasian Economic Union",
    "CSTO": "Collective Security Treaty Organization",
    "ICRC": "Red Cross",
    "Artsakh": "Nagorno-Karabakh Republic",
    "Turkish Republic of Northern Cyprus": "Northern Cyprus",
    "Sahrawi Arab Democratic Republic": "Western Sahara",
}


def canonical_body(name: str) -> str:
    """The one name of a non-state body ("the EU" -> "European Union"); other names as given."""
    bare = re.sub(r"^the\s+", "", name.strip(), flags=re.I)
    return _BODY_ALIASES.get(bare, bare if bare in NON_STATE_BODIES + UNRECOGNISED else name)


_AMBIGUOUS = frozenset(
    # words that are a country's name or demonym but far more often something else
    {
        "georgia",
        "jordan",
        "chad",
        "guinea",
        "niger",
        "victoria",
        "kingston",
        "georgetown",
        "dominican",
        "lima",
        "santiago",
        "male",
        "praia",
        "sucre",
        "us",
        "lao",
        "congolese",
        "cabo verdean",
        "new zealand",
        "vatican",
        "monaco",
        "singapore",
        "djibouti",
        "luxembourg",
        "kuwait",
        "panama",
        "mexico",
        "guatemala",
        "san marino",
        "andorra",
    }
)


def fold(text: str) -> str:
    """Case, accents, apostrophes and spacing folded, so that variants compare equal."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("’", "'").replace("`", "'")
    return re.sub(r"\s+", " ", text).strip().casefold()


@dataclass
class Gazetteer:
    """Surface forms (folded) to ISO 3166-1 alpha-3, by kind of form."""

    names: dict[str, str] = field(default_factory=dict)
    demonyms: dict[str, str] = field(default_factory=dict)
    capitals: dict[str, str] = field(default_factory=dict)
    surfaces: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Original-case surface form -> (code, kind) for the entity ruler."""

    def add(self, table: dict[str, str], surface: str, code: str, kind: str) -> None:
        surface = surface.strip()
        if not surface:
            return
        table.setdefault(fold(surface), code)
        self.surfaces.setdefault(surface, (code, kind))
        if surface.startswith("the "):
            self.add(table, surface[4:], code, kind)

    def lookup(self, text: str) -> str | None:
        """The country a text names (a name, an official name, a demonym or a capital)."""
        key = fold(text)
        key = re.sub(r"^(the|a|an)\s+", "", key)
        key = re.sub(r"'s$", "", key)
        for table in (self.names, self.demonyms, self.capitals):
            if key in table:
                return table[key]
        return None


@cache
def gazetteer() -> Gazetteer:
    """The gazetteer, built once per process."""
    gaz = Gazetteer()
    rows = resources.files("pactwatch_extractor").joinpath("data/countries.tsv").read_text("utf-8")
    for line in rows.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, aliases, demonyms, capitals = [*line.split("\t"), "", "", ""][:4]
        for alias in filter(None, aliases.split("|")):
            gaz.add(gaz.names, alias, code, "name")
        for demonym in filter(None, demonyms.split("|")):
            gaz.add(gaz.demonyms, demonym, code, "demonym")
        for capital in filter(None, capitals.split("|")):
            gaz.add(gaz.capitals, capital, code, "capital")
    for country in pycountry.countries:
        code = country.alpha_3
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                gaz.add(gaz.names, value, code, "name")
    return gaz


def is_ambiguous(text: str) -> bool:
    """Surface forms that name a country only when the context says so."""
    return fold(text) in _AMBIGUOUS


@cache
def non_state_pattern() -> re.Pattern[str]:
    """Matches the name of a non-state signatory body or unrecognised entity."""
    names = sorted(NON_STATE_BODIES + UNRECOGNISED, key=len, reverse=True)
    return re.compile(r"\b(?:the\s+)?(" + "|".join(re.escape(n) for n in names) + r")\b")
