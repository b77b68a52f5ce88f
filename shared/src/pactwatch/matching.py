"""When two reports describe the same agreement. Pure functions, shared by the extractor
(one document named twice in one article) and the notifier (reports across articles).

Reports of one document differ: one outlet gives the title, another only the subject; one
gives the date, another does not; "memorandum of alliance" and "Declaration on Allied
Relations" name one document. Two records of the same pair are the same agreement when their
dates do not conflict and their titles share a stem (or, lacking a subject, their kinds agree).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Words that say what kind of document it is or that any title may carry: they identify
# nothing. A title made only of these is "no subject".
_GENERIC = frozenset(
    """
    a an the of on in for and or to with between by from at its their into over under
    about agreement agreements memorandum memoranda memorandums understanding mou mous
    treaty treaties declaration declarations joint statement protocol protocols accord
    accords charter roadmap road map action plan programme program executive convention
    letter intent deal deals pact pacts document documents instrument instruments
    cooperation co operation collaboration bilateral framework field fields area areas
    sphere spheres sector sectors mutual comprehensive strategic partnership new two
    countries nations sides government governments services service areas ministry
    republic state states kingdom federation people peoples
    """.split()
)
_MIN_STEM = 4


@lru_cache(maxsize=65536)
def title_stems(title: str) -> frozenset[str]:
    """The distinctive words of a title, reduced to crude stems (case and accents folded)."""
    return frozenset(_ordered_stems(title))


@lru_cache(maxsize=65536)
def _ordered_stems(title: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z]+", folded)
    return tuple(_stem(w) for w in words if w not in _GENERIC and len(w) > 2)


def _stem(word: str) -> str:
    for suffix in (
        "ations",
        "ation",
        "ments",
        "ment",
        "ances",
        "ance",
        "ied",
        "ies",
        "ing",
        "es",
        "ed",
        "s",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            return word[: -len(suffix)]
    return word


# Subject areas that news names in different words: "prisons" and "correctional services",
# "livestock diseases" and "animal health". Stems in one group meet as if they were equal.
_CONCEPTS = [
    "prison prisoner inmate correctional penitentiary sentenc",
    "livestock animal veterinar sanitar phytosanitar zoonot",
    "visa passport",
    "tax taxation fiscal",
    "defenc defens military armed",
    "maritim naval navy shipping port seaport",
    "educat universit academ school",
    "cultur heritage art",
    "econom",
    "invest investor",
    "energ electric power",
    "hous settlement urban",
    "agricultur farm",
    "extradit fugitive",
    "transport",
    "tourism tourist hotel",
    "telecom telecommunic ict digital",
    "migrat immigrat mobility",
    "health medic",
]
_CONCEPT_OF = {stem: n for n, group in enumerate(_CONCEPTS) for stem in group.split()}
# What may follow a concept's word in a stem ("cultur-al", "econom-ic", "academ-y"): not any
# letters, or "art" would take in "artificial" and "invest" "investigations".
_ENDINGS = frozenset(
    """ e s es al ally ic ics ical y er ers or ors ary ure ural ion ions ional ive ity ities
    ist ists ian ians ia ine ines ing istic""".split()
) | {""}


@lru_cache(maxsize=65536)
def _concept(stem: str) -> int | None:
    for word, concept in _CONCEPT_OF.items():
        if stem.startswith(word) and stem[len(word) :] in _ENDINGS:
            return concept
        if word.startswith(stem) and len(stem) >= _MIN_STEM:  # "educ(ation)" of "educat"
            return concept
    return None


def _meet(x: str, y: str, concepts: bool = True) -> bool:
    n = 0
    for cx, cy in zip(x, y, strict=False):
        if cx != cy:
            break
        n += 1
    if n >= _MIN_STEM and n >= 0.6 * min(len(x), len(y)):
        return True
    if not concepts:
        return False
    cx_, cy_ = _concept(x), _concept(y)
    return cx_ is not None and cx_ == cy_


def stems_meet(a: frozenset[str], b: frozenset[str], *, concepts: bool = True) -> bool:
    """Most stems of the shorter title meet a stem of the longer one: share a prefix of at
    least four letters covering most of the shorter word ("alli-ance" / "alli-ed"), or (with
    ``concepts``) name the same subject area ("prisons" / "correctional services")."""
    if not a or not b:
        return False
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    met = sum(1 for x in small if any(_meet(x, y, concepts) for y in large))
    return met / len(small) >= 0.5


def dates_compatible(a: str | None, b: str | None) -> bool:
    """Missing dates never conflict; a year agrees with any date in it, and with the last
    week of the year before (a report of early January that gives no date is dated with its
    own year); days may differ by 1."""
    if not a or not b:
        return True
    from datetime import date, timedelta

    if len(a) == 4 or len(b) == 4:
        if a[:4] == b[:4]:
            return True
        year, full = (a, b) if len(a) == 4 else (b, a)
        try:
            day = date.fromisoformat(full)
            new_year = date(int(year), 1, 1)
            return len(full) == 10 and new_year - timedelta(days=7) <= day < new_year
        except ValueError:
            return False
    if a == b:
        return True
    try:
        return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) <= 1
    except ValueError:
        return False


@dataclass(frozen=True)
class Known:
    """What the registry keeps of an agreement to recognise later reports of it."""

    key: str
    kind: str
    title: str
    signed_on: str | None


def contrasting(a: str, b: str) -> bool:
    """Two titles that name one subject with different qualifiers: "food security" and
    "cyber security", "renewable energy" and "nuclear energy". They share their last word,
    and no other word of one meets a word of the other: two kinds of one thing, which a
    state visit may sign side by side, not two wordings of one document."""
    wa, wb = _ordered_stems(a), _ordered_stems(b)
    if len(wa) < 2 or len(wb) < 2 or not _meet(wa[-1], wb[-1], concepts=False):
        return False
    return not any(_meet(x, y) for x in wa[:-1] for y in wb[:-1])


def same_agreement(known: Known, kind: str, title: str, signed_on: str | None) -> bool:
    """Whether a record (same party pair) reports the agreement ``known``."""
    if not dates_compatible(known.signed_on, signed_on):
        return False
    a, b = title_stems(known.title), title_stems(title)
    if a and b:
        return stems_meet(a, b) and not contrasting(known.title, title)
    # one of them names no subject: only the kind can tell, and the date must pin it down
    return known.kind == kind and bool(known.signed_on and signed_on)


def agreement_key(parties: tuple[str, ...], kind: str, title: str, signed_on: str | None) -> str:
    """The canonical key of a new agreement: pair, date, kind and a digest of the title stems."""
    stems = " ".join(sorted(title_stems(title))) or kind
    slug = "-".join(sorted(title_stems(title)))[:40].strip("-") or kind
    digest = hashlib.blake2b(f"{kind}|{stems}".encode(), digest_size=4).hexdigest()
    return f"{'-'.join(parties)}:{signed_on or 'undated'}:{slug}:{digest}"
