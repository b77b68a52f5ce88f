"""Benchmark articles: the dev corpus varied to any count, the same for the same seed.

Each generated original takes one dev-corpus article and makes it a new story: its countries
become other countries (names, demonyms, capitals and the people who speak for them, all
consistently), its dates move by whole weeks (so that "on Tuesday" still falls on the date
given), sentences after the first of a paragraph may change order, and paragraphs of filler
news prose written for the benchmark are added, so that two variants of one dev article share
too little text to be near-duplicates of each other (word-shingle Jaccard well under the
deduplicator's 0.5). A requested share of the output are near-duplicates of earlier
originals, made the way syndication makes them: a new headline and byline, one sentence cut
or added, sometimes two paragraphs swapped.

Run it on its own to write JSONL in the corpus format::

    python -m tests.bench.generator --count 1000 --duplicates 0.3 > articles.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DEV_CORPUS = ROOT / "tests" / "corpus" / "dev"
COUNTRIES_TSV = Path(__file__).with_name("countries.tsv")
DEFAULT_SEED = 20211027
EARLIEST = date(2012, 1, 2)
"""No generated article is published before this."""
LATEST = date(2026, 6, 30)
"""Nor after this: a fixed bound, so that the output never depends on the day it is made."""


# --- the countries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Country:
    """A country as news prose names it; see countries.tsv."""

    code: str
    names: tuple[str, ...]
    demonyms: tuple[str, ...]
    capitals: tuple[str, ...]
    pool: str
    target: bool
    people: tuple[tuple[str, ...], ...]
    """Each person's forms: the full name first, then the short forms the corpus uses."""
    the_names: frozenset[str] = field(default_factory=frozenset)
    """Names that take "the" ("the Philippines")."""

    @property
    def name(self) -> str:
        return self.names[0]

    @property
    def demonym(self) -> str:
        return self.demonyms[0]

    @property
    def capital(self) -> str:
        return self.capitals[0]


@cache
def countries() -> tuple[Country, ...]:
    """Every country of countries.tsv."""
    found = []
    for line in COUNTRIES_TSV.read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        code, names, demonyms, capitals, pool, target, *rest = line.split("\t")
        people = rest[0] if rest else ""
        raw_names = [n.strip() for n in names.split(";") if n.strip()]
        the_names = frozenset(n[4:] for n in raw_names if n.startswith("the "))
        found.append(
            Country(
                code=code,
                names=tuple(n.removeprefix("the ") for n in raw_names),
                demonyms=tuple(d.strip() for d in demonyms.split(";") if d.strip()),
                capitals=tuple(c.strip() for c in capitals.split(";") if c.strip()),
                pool=pool,
                target=target == "y",
                people=tuple(
                    tuple(form.strip() for form in person.split("/"))
                    for person in people.split(";")
                    if person.strip()
                ),
                the_names=the_names,
            )
        )
    return tuple(found)


def targets() -> list[Country]:
    """The countries a generated article may be about."""
    return [c for c in countries() if c.target]


# Invented people: a first name and a surname from the pool of the country they speak for.
NAME_POOLS: dict[str, tuple[str, str]] = {
    "turkic": (
        "Arslan Murat Elvin Dilnoza Aizhan Timur Ruslan Gulnara Kamil Serik",
        "Karimov Yildirim Nurlanov Aydemir Sadykov Bekova Ismayilov Ozturk Tashkentov Abenov",
    ),
    "persian": (
        "Farhod Dariush Shirin Rustam Parviz Nigora Behruz Zarina",
        "Rahimzoda Karimi Nazarov Tehrani Sharifov Mahmudi Jalolov Sadeghi",
    ),
    "caucasus": (
        "Armen Lilit Tigran Anahit Davit Narek Gayane Vahan",
        "Petrosyan Hakobyan Sargsyan Grigoryan Avetisyan Mkrtchyan Vardanyan Harutyunyan",
    ),
    "slavic": (
        "Andriy Tomasz Milan Olena Katarzyna Dragan Pavlo Agnieszka Marek Jelena",
        "Kovalenko Nowak Petrovic Shevchuk Wisniewski Jovanovic Bondarenko Zielinska Horvat",
    ),
    "east_africa": (
        "Wanjiru Baraka Amani Neema Otieno Jabari Zawadi Mwangi Imani Kato",
        "Kamau Mushi Nyerere Odhiambo Kiprono Mutua Nsubuga Habimana Mwansa Wekesa",
    ),
    "horn": (
        "Tesfaye Selam Dawit Hirut Getachew Meron Biniam Alemayehu",
        "Bekele Haile Tadesse Wolde Gebreyes Mengistu Asfaw Kebede",
    ),
    "west_africa": (
        "Kwame Adaeze Ousmane Efua Chinedu Aminata Kofi Ngozi Moussa Yaw",
        "Mensah Okonkwo Diallo Owusu Adeyemi Ndiaye Boateng Eze Faye Asante",
    ),
    "arab": (
        "Khalid Amira Youssef Layla Omar Rania Tarek Salma Faisal Nadia",
        "Haddad Mansour Al Farsi Khoury Nasser Saleh Al Amiri Barakat Hamdan Rahman",
    ),
    "south_asia": (
        "Arjun Priya Farhan Nusrat Vikram Ayesha Rohan Tahmina Sanjay Zainab",
        "Sharma Qureshi Rahman Iyer Chaudhry Hossain Menon Malik Perera Thapa",
    ),
    "japan": (
        "Hiroshi Yuki Takeshi Aiko Kenji Naomi Satoshi Emi",
        "Tanaka Watanabe Nakamura Kobayashi Yamada Sato Inoue Matsuda",
    ),
    "korea": (
        "Min-jun Seo-yeon Ji-ho Hye-jin Dong-hyun Soo-ah",
        "Kang Yoon Lim Han Shin Oh",
    ),
    "china": (
        "Bat-Erdene Oyun Ganbold Saraa Temuulen Enkhjin",
        "Batbayar Dorj Tsogt Erdene Purev Ganzorig",
    ),
    "southeast_asia": (
        "Minh Siti Anan Nguyet Budi Kanya Thanh Rizal Ploy Arief",
        "Nguyen Santoso Chaiyaporn Tran Rahmat Wongsakul Pham Hidayat Ibrahim Le",
    ),
    "europe": (
        "Marco Elena Pierre Ingrid Joao Katja Lukas Sofia Andras Maria",
        "Rossi Lefebvre Weber Virtanen Santos Tamm Novak Papadopoulos Ionescu Moreno",
    ),
    "anglo": (
        "Margaret David Sarah James Catherine Michael Helen Robert",
        "Whitfield Donovan Ashworth Campbell Fletcher Morrison Hale Pritchard",
    ),
    "latin": (
        "Alejandro Lucia Mateo Valentina Joaquin Camila Rafael Isabela Diego Mariana",
        "Gutierrez Almeida Restrepo Fuentes Carvalho Ortega Pereira Salazar Mendoza Ribeiro",
    ),
    "pacific": (
        "Ratu Mere Kalani Tevita Losana Isireli",
        "Naivalu Tuilagi Kabua Waqa Vunisea Tikoduadua",
    ),
}


def invented_person(pool: str, rng: random.Random) -> tuple[str, str]:
    """A first name and a surname from ``pool``."""
    firsts, lasts = NAME_POOLS[pool]
    first = rng.choice(firsts.split())
    # a few surnames are two words ("Al Farsi"): the pool string keeps them together
    surnames = re.findall(r"Al \w+|\S+", lasts)
    return first, rng.choice(surnames)


# --- replacing countries and people ----------------------------------------------------------

_ADJECTIVE_FOLLOWERS = frozenset(
    "forces officials troops companies firms energy natural military government president "
    "envoy ambassador embassy diplomats delegation economy market markets navy army "
    "department secretary side leaders leader counterpart investors exports imports "
    "lawmakers media".split()
)
"""Words after which a short name ("US", "UK") is an adjective ("US forces"): the target's
demonym replaces it; anywhere else it is a noun and the target's name does."""
_PROPER_NAMES = ("Ocean", "Sea", "Gulf", "Peninsula")
"""A demonym before these is part of a place's name ("Indian Ocean") and stays."""


_FOLLOWER = re.compile(r"\s+([\w']+)")


def _is_abbreviation(name: str) -> bool:
    return not any(ch.islower() for ch in name) or ". " in name


def _with_article(article: str, word: str) -> str:
    """ "a"/"an" agreeing with ``word``, in the case the text had."""
    vowel = word[:1] in "AEIOUÉ" and not word.startswith(("Ug", "Uk", "Uru", "Euro"))
    chosen = "an" if vowel else "a"
    return chosen.capitalize() if article[:1].isupper() else chosen


def _article_for(article: str, word: str) -> str:
    if not article:
        return ""
    if article.strip().lower() == "the":
        return article
    return _with_article(article.strip(), word) + article[len(article.rstrip()) :]


@dataclass(frozen=True)
class Form:
    """What a surface form names: a country's name, demonym, capital, or a person."""

    code: str
    kind: str
    """name, republic, demonym, capital, CAPITAL (a dateline's), person, surname."""
    person: int = 0
    takes_the: bool = False
    abbreviation: bool = False


@cache
def _forms() -> tuple[re.Pattern[str], dict[str, Form]]:
    """One pattern for every surface form of the table, and what each one names."""
    table: dict[str, Form] = {}
    for country in countries():
        code = country.code
        for name in country.names:
            abbreviated = _is_abbreviation(name)
            takes_the = name in country.the_names
            table[name] = Form(code, "name", takes_the=takes_the, abbreviation=abbreviated)
            if not abbreviated:
                table[f"Republic of {name}"] = Form(code, "republic")
        for demonym in country.demonyms:
            table[demonym] = Form(code, "demonym")
        for capital in country.capitals:
            table[capital] = Form(code, "capital")
            table[capital.upper()] = Form(code, "CAPITAL")
        for index, forms in enumerate(country.people):
            table[forms[0]] = Form(code, "person", index)
            for short in forms[1:]:
                table[short] = Form(code, "surname", index)
    surfaces = sorted(table, key=len, reverse=True)
    pattern = re.compile(
        r"(?P<art>\b(?:[Aa]n?|[Tt]he)\s+)?(?<![\w.])(?P<s>"
        + "|".join(re.escape(s) for s in surfaces)
        + r")(?!\w)"
    )
    return pattern, table


@dataclass(frozen=True)
class Mention:
    """One surface form found in a text: the article before it, itself, what follows."""

    article: str
    surface: str
    after: str
    form: Form

    @property
    def whole(self) -> str:
        return self.article + self.surface


@cache
def _pieces(text: str) -> tuple[str | Mention, ...]:
    """``text`` cut into plain runs and mentions (cached: each dev article is varied often)."""
    pattern, table = _forms()
    pieces: list[str | Mention] = []
    last = 0
    for match in pattern.finditer(text):
        pieces.append(text[last : match.start()])
        after = text[match.end() : match.end() + 30]
        form = table[match.group("s")]
        pieces.append(Mention(match.group("art") or "", match.group("s"), after, form))
        last = match.end()
    pieces.append(text[last:])
    return tuple(pieces)


def mentioned(text: str) -> Counter[str]:
    """How often each country of the table is named in ``text`` (names, demonyms, capitals,
    people)."""
    return Counter(p.form.code for p in _pieces(text) if isinstance(p, Mention))


@dataclass
class Swap:
    """One article's substitutions: each surface form of a source country (and its people)
    becomes the matching form of the target country (and invented people)."""

    mapping: dict[str, Country]
    """Source country code -> the country that replaces it."""
    rng: random.Random
    _people: dict[tuple[str, int], tuple[str, str]] = field(default_factory=dict)

    def person(self, code: str, index: int) -> tuple[str, str]:
        key = (code, index)
        if key not in self._people:
            self._people[key] = invented_person(self.mapping[code].pool, self.rng)
        return self._people[key]

    def apply(self, text: str) -> str:
        """``text`` with every form of a mapped country replaced."""
        return "".join(p if isinstance(p, str) else self._replace(p) for p in _pieces(text))

    def _replace(self, mention: Mention) -> str:
        form, article, after, whole = mention.form, mention.article, mention.after, mention.whole
        target = self.mapping.get(form.code)
        if target is None:
            return whole
        if form.kind == "person":
            first, last = self.person(form.code, form.person)
            return f"{article}{first} {last}"
        if form.kind == "surname":
            return article + self.person(form.code, form.person)[1]
        if form.kind == "CAPITAL":
            return article + target.capital.upper()
        if form.kind == "republic":
            return f"{article}Republic of {target.name}"
        if form.kind == "capital":
            return _article_for(article, target.capital) + target.capital
        if form.kind == "demonym":
            if after.lstrip().startswith(_PROPER_NAMES):
                return whole
            return _article_for(article, target.demonym) + target.demonym
        follower = _FOLLOWER.match(after)
        word = follower.group(1) if follower else ""
        if form.abbreviation and (
            word in _ADJECTIVE_FOLLOWERS or (word[:1].isupper() and word != "And")
        ):
            return _article_for(article, target.demonym) + target.demonym
        if article.strip().lower() == "the" and form.takes_the and not after.startswith("-"):
            return target.name  # "the Philippines and ..." -> "Kenya and ..."
        return _article_for(article, target.name) + target.name


# --- moving dates ----------------------------------------------------------------------------

MONTHS = (
    "January February March April May June July August September October November December"
).split()
_ABBREVIATIONS = {
    "Jan": 1,
    "Feb": 2,
    "Mar": 3,
    "Apr": 4,
    "Jun": 6,
    "Jul": 7,
    "Aug": 8,
    "Sep": 9,
    "Sept": 9,
    "Oct": 10,
    "Nov": 11,
    "Dec": 12,
}
_MONTH = (
    r"(?P<month>(?:"
    + "|".join(MONTHS)
    + r")\b|(?:"
    + "|".join(sorted(_ABBREVIATIONS, key=len, reverse=True))
    + r")\b\.?)"
)
_DATE = re.compile(
    r"\b"
    + _MONTH
    + r"(?:\s+(?P<day>[1-9]|[12]\d|3[01])(?!\d)(?:,?\s+(?P<year>(?:19|20)\d\d)\b)?"
    + r"|\s+(?P<myear>(?:19|20)\d\d)\b)?"
    + r"|\b(?P<dday>[1-9]|[12]\d|3[01])\s+(?P<dmonth>"
    + "|".join(MONTHS)
    + r")(?:\s+(?P<dyear>(?:19|20)\d\d))?\b"
    + r"|\b(?P<bare>(?:19|20)\d\d)\b"
)
_MONTH_ALONE = re.compile(
    r"(?:in|last|since|between|early|late|mid|of|until|by|from|next|this)(?:-|\s+)$", re.I
)
RECENT_YEARS = 3
"""Years further than this from the publication date are history: they stay as written."""


def _month_number(name: str) -> int:
    return MONTHS.index(name) + 1 if name in MONTHS else _ABBREVIATIONS[name]


def _month_name(number: int, like: str, dot: str) -> str:
    full = MONTHS[number - 1]
    if like in MONTHS:
        return full
    short = {9: "Sept" if like == "Sept" else "Sep"}.get(number, full[:3])
    # May, June and July have no shorter form in news style
    return full if number in (5, 6, 7) else short + dot


def _safe_day(year: int, month: int, day: int) -> date:
    for d in (day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise ValueError(f"no day {day} in {year}-{month}")


def shift_dates(text: str, published: date, delta: timedelta) -> str:
    """Move every recent date in ``text`` by ``delta`` (whole weeks keep weekdays right)."""
    years = (published + delta).year - published.year

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if match.group("bare"):
            year = int(match.group("bare"))
            return str(year + years) if abs(year - published.year) <= RECENT_YEARS else whole
        if match.group("dmonth"):
            month = _month_number(match.group("dmonth"))
            year = int(match.group("dyear") or _guess_year(published, month))
            if abs(year - published.year) > RECENT_YEARS:
                return whole
            moved = _safe_day(year, month, int(match.group("dday"))) + delta
            text = f"{moved.day} {MONTHS[moved.month - 1]}"
            return f"{text} {moved.year}" if match.group("dyear") else text
        written = match.group("month")
        name = written.rstrip(".")
        dot = "." if written.endswith(".") else ""
        month = _month_number(name)
        if match.group("day"):
            year = int(match.group("year") or _guess_year(published, month))
            if abs(year - published.year) > RECENT_YEARS:
                return whole
            moved = _safe_day(year, month, int(match.group("day"))) + delta
            out = f"{_month_name(moved.month, name, dot)} {moved.day}"
            return f"{out}, {moved.year}" if match.group("year") else out
        if match.group("myear"):
            year = int(match.group("myear"))
            if abs(year - published.year) > RECENT_YEARS:
                return whole
            moved = date(year, month, 15) + delta
            return f"{_month_name(moved.month, name, dot)} {moved.year}"
        # a month alone: only after a word that makes it a date ("in May", not "may sign")
        if name not in MONTHS or not _MONTH_ALONE.search(match.string[: match.start()][-12:]):
            return whole
        moved = date(_guess_year(published, month), month, 15) + delta
        return MONTHS[moved.month - 1]

    return _DATE.sub(replace, text)


def _guess_year(published: date, month: int) -> int:
    # a month more than two months after publication was most likely last year's
    return published.year - 1 if month > published.month + 2 else published.year


# --- sentences and paragraphs ----------------------------------------------------------------

_NOT_AN_END = frozenset(
    "Mr Mrs Ms Dr Gen Lt Col Sgt St Jr Sr No Prof Gov Sen Rep Inc Co Corp Ltd vs etc Jan Feb "
    "Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec S U Gen Adm Maj Capt Cmdr".split()
)
_BOUNDARY = re.compile(r"(?<=[.!?])([\"”’]?)\s+(?=[\"“‘]?[A-Z])")


def sentences(paragraph: str) -> list[str]:
    """Split a paragraph into sentences (abbreviations and initials do not end one)."""
    out: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(paragraph):
        before = paragraph[start : match.start()]
        last_word = re.search(r"([\w]+)\.$", before)
        if last_word and (last_word.group(1) in _NOT_AN_END or len(last_word.group(1)) == 1):
            continue
        end = match.start() + len(match.group(1))
        out.append(paragraph[start:end])
        start = match.end()
    out.append(paragraph[start:])
    return [s for s in out if s.strip()]


def _balanced(sentence: str) -> bool:
    return sentence.count('"') % 2 == 0 and sentence.count("“") == sentence.count("”")


def reorder(paragraph: str, rng: random.Random) -> str:
    """The sentences after the first in a new order, when each stands alone (no quotation
    runs across them)."""
    parts = sentences(paragraph)
    if len(parts) < 3 or not all(_balanced(p) for p in parts):
        return paragraph
    rest = parts[1:]
    rng.shuffle(rest)
    return " ".join([parts[0], *rest])


# --- filler prose ----------------------------------------------------------------------------

# News-style background paragraphs written for the benchmark. {A}/{B} are the article's two
# countries, {Ad}/{Bd} their demonyms, {Ac}/{Bc} their capitals; [x|y] picks one; {n}, {pct},
# {big}, {year}, {sector}, {sector2}, {city} are filled at random. They name no document
# and no signing, so they add no agreement for the extractor to find.
FILLER = [
    "Trade between {A} and {B} [reached|came to|stood at] about ${big} billion last year, "
    "[according to|based on] figures from {Ad} customs authorities.",
    "{Ad} exports to {B} are dominated by {sector} and {sector2}, while {Bd} companies "
    "[sell|ship] mostly machinery and consumer goods in the other direction.",
    "Economists in {Ac} [say|note] that the figure is still [small|modest] compared with "
    "{A}'s trade with its [largest|biggest] neighbours.",
    "The two governments have set a target of [doubling|tripling|lifting] that volume "
    "within {n} years, a goal analysts [describe as|call] [ambitious|optimistic|achievable].",
    "{Bd} officials [pointed to|highlighted|cited] a rise of {pct} percent in investment "
    "from {A} over the past [two|three|four] years, much of it in {sector}.",
    "Several {Ad} firms already [operate|run projects] in {B}, [chiefly|mainly|mostly] in "
    "{sector} and [construction|logistics|telecommunications].",
    "Direct flights between {Ac} and {Bc} [resumed|were expanded] {n} years ago, and "
    "tourist arrivals have grown [steadily|sharply|every year] since.",
    "Diplomatic relations between the two countries were established in {year}, and "
    "embassies have operated in both capitals [for decades|since the 1990s|ever since].",
    "{A} [opened|upgraded] a consulate in {city} {n} years ago to serve a [growing|sizeable] "
    "community of {Ad} [traders|students|workers].",
    "About {n},000 {Bd} students [are enrolled|study] at universities in {A}, according to "
    "the {Ad} education ministry.",
    "The visit was the first by a {Ad} head of state to {B} in {n} years.",
    "[Security was tight|Streets were closed|Flags lined the main avenues] in {Bc} for the "
    "[visit|talks], and the delegations met at a government residence [outside|in the centre "
    "of] the city.",
    "The delegation [included|brought] ministers responsible for {sector}, energy and "
    "foreign trade, as well as the heads of several state agencies.",
    "[Business leaders|Chambers of commerce|Industry groups] from both countries held a "
    "forum on the sidelines of the talks, attended by [more than|about|nearly] {n}00 "
    "companies.",
    "[Analysts|Observers|Diplomats] in {Bc} said the [talks|meeting|visit] reflected "
    "{B}'s effort to [diversify|broaden|widen] its foreign partnerships.",
    '"The relationship has [matured|deepened|grown] considerably," said a {Bd} '
    "[economist|analyst|researcher] at a [policy institute|university|think tank] in {Bc}. "
    '"Both sides now want [results|projects|investment] they can show to voters."',
    "[Critics|Opposition lawmakers|Some commentators] in {A} questioned whether the "
    "[promised|announced] investment would [materialise|arrive] on time, pointing to "
    "[delays|setbacks|slow progress] on earlier projects.",
    "The {Ad} currency [weakened|strengthened|held steady] against the dollar "
    "[during|over] the week, and the central bank kept its main rate at {pct} percent.",
    "{A}'s economy grew by {pct} percent last year, [driven by|helped by|thanks to] "
    "{sector} and [household spending|public investment|a recovery in exports].",
    "{B} is one of the [fastest-growing|largest|most important] markets for {Ad} "
    "{sector}, [officials|trade data|industry figures] show.",
    "The two countries also [discussed|reviewed|talked about] regional security, "
    "[migration|water management|energy transit] and [climate policy|food security|"
    "disaster relief], [officials|diplomats|aides] said.",
    "A joint business council, [revived|set up|reorganised] {n} years ago, is due to meet "
    "again in {Bc} [later this year|next spring|in the autumn].",
    "[Ports|Rail links|Road corridors] connecting the two countries have been "
    "[upgraded|modernised|extended] with [loans|funding|support] from development banks.",
    "[Officials|Ministers|Aides] said [working groups|technical teams|expert committees] "
    "would meet [regularly|every quarter|twice a year] to [follow up|review progress|keep "
    "track of the projects].",
    "The talks [lasted|ran for] about [two|three|four] hours and were followed by a "
    "[working lunch|state dinner|joint news conference].",
    "{Bd} media gave the visit [extensive|wide|prominent] coverage, with [several|most] "
    "newspapers [leading|opening] with photographs of the two delegations.",
    "Remittances from {Bd} workers in {A} [are estimated at|amount to] [roughly|about|"
    "nearly] ${n}00 million a year.",
    "The {Ad} side [also raised|brought up|mentioned] [visa rules|air connections|customs "
    "procedures|market access] for {Ad} [exporters|carriers|farmers], [officials|diplomats] "
    "said.",
    "Demand for {sector} in {B} has [risen|climbed|grown] by about {pct} percent a year, "
    "according to [industry estimates|a government report|the national statistics office].",
    "[In recent years|Since {year}|Over the past decade] {A} has [opened|added|expanded] "
    "trade offices in {n} countries as part of a [push|drive|strategy] to [reach new "
    "markets|reduce its reliance on a few buyers].",
    "[Cultural|Academic|Sports] exchanges have [grown|expanded|multiplied], with {n} "
    "[joint events|festivals|exhibitions] held in {Bc} and {city} last year.",
    "The {Ad} ministry of foreign affairs [said|noted] in a statement that the "
    "[meeting|visit|talks] took place in a [warm|constructive|friendly] atmosphere.",
    "[Opposition|Business] groups in {B} [welcomed|cautiously welcomed|broadly supported] "
    "the [talks|visit], though some asked for [more detail|clearer timelines|publication of "
    "the figures].",
    "{city}, [the second city|a major port|an industrial hub] of {B}, is expected to benefit "
    "most from [new investment|the expanded links|the planned projects].",
    "The [leaders|ministers|delegations] also [laid wreaths|visited a memorial|toured an "
    "industrial park] before [leaving|flying back|departing] in the evening.",
    "[Weather|Heavy traffic|Protests elsewhere in the city] [delayed|slowed] the arrival "
    "of the {Ad} motorcade by about [twenty|thirty|forty] minutes, [witnesses|local "
    "reporters] said.",
]
SECTORS = (
    "agriculture",
    "textiles",
    "pharmaceuticals",
    "energy",
    "mining",
    "tourism",
    "fisheries",
    "steel",
    "information technology",
    "shipping",
    "fertilisers",
    "cement",
    "automotive parts",
    "electronics",
    "banking",
    "food processing",
)
CITIES = (
    "Harbourton|Eastport|Norvale|Kestrel Bay|Ridgefield|Lowmarsh|Corvin|Stonebridge|Marlow "
    "Point|Ashford Lake|Greywater|Westmere|Sandhaven|Brightwell|Oakridge|Fenwick"
).split("|")


_CHOICE = re.compile(r"\[([^\[\]]+)\]")
_SLOT = re.compile(r"\{(\w+)\}")


def filler_sentence(template: str, slots: dict[str, str], rng: random.Random) -> str:
    """One filler sentence: choices picked, slots filled."""
    text = _CHOICE.sub(lambda m: rng.choice(m.group(1).split("|")), template)
    values = {
        **slots,
        "n": str(rng.randint(2, 19)),
        "pct": f"{rng.randint(1, 14)}.{rng.randint(0, 9)}",
        "big": f"{rng.randint(1, 48)}.{rng.randint(0, 9)}",
        "year": str(rng.choice(range(1956, 2006))),
        "sector": rng.choice(SECTORS),
        "sector2": rng.choice(SECTORS),
        "city": rng.choice(CITIES),
    }
    return _SLOT.sub(lambda m: values[m.group(1)], text)


def filler_paragraphs(words: int, slots: dict[str, str], rng: random.Random) -> list[str]:
    """Paragraphs of two or three filler sentences, about ``words`` words in all, no
    template used twice."""
    order = list(range(len(FILLER)))
    rng.shuffle(order)
    paragraphs: list[str] = []
    count = 0
    while count < words and order:
        take = [order.pop() for _ in range(min(len(order), rng.choice((2, 2, 3))))]
        paragraph = " ".join(filler_sentence(FILLER[i], slots, rng) for i in take)
        count += len(paragraph.split())
        paragraphs.append(paragraph)
    return paragraphs


# --- outlets ---------------------------------------------------------------------------------

_OUTLET_PLACES = (
    "Continental Meridian Harbour Northern Atlas Gulf Lakeside Highland Coastal Capital "
    "Frontier Eastern Southern Pacific Steppe Savanna Delta Summit Crossroads Riverside"
).split()
_OUTLET_KINDS = (
    "Ledger Dispatch Observer Courier Herald Wire Review Monitor Chronicle Tribune Post "
    "Gazette Bulletin Report"
).split()
_SECTIONS = ("world", "politics", "diplomacy", "region", "news", "business", "international")


def outlet(rng: random.Random) -> str:
    """An invented outlet's name."""
    return f"{rng.choice(_OUTLET_PLACES)} {rng.choice(_OUTLET_KINDS)}"


def article_url(source: str, published: date, title: str, number: int, rng: random.Random) -> str:
    domain = re.sub(r"[^a-z]", "", source.lower()) + rng.choice((".com", ".net", ".org", ".news"))
    slug = "-".join(re.findall(r"[a-z0-9]+", title.lower())[:8]) or "story"
    day = published.strftime("%Y/%m/%d")
    return f"https://www.{domain}/{rng.choice(_SECTIONS)}/{day}/{slug}-{number}"


# --- the generator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchArticle:
    """One generated article, with what the generator knows about it."""

    id: str
    url: str
    source: str
    published: date
    title: str
    text: str
    base: str
    """The dev-corpus article it varies."""
    countries: tuple[str, ...]
    """ISO 3166-1 alpha-3 codes of the table countries it names, sorted."""
    duplicate_of: str | None = None
    """For a near-duplicate, the id of the generated original it copies."""

    def payload(self) -> dict[str, Any]:
        """The article as POST /articles takes it (and as the corpus stores it)."""
        return {
            "id": self.id,
            "url": self.url,
            "source": self.source,
            "published": self.published.isoformat(),
            "title": self.title,
            "text": self.text,
        }


@cache
def corpus_articles(corpus: Path = DEV_CORPUS) -> tuple[dict[str, Any], ...]:
    """The dev-corpus articles that are originals (its own near-duplicates are left out)."""
    copies = set()
    labels = corpus / "labels.jsonl"
    if labels.exists():
        for line in labels.read_text("utf-8").splitlines():
            label = json.loads(line)
            if label.get("duplicate_of"):
                copies.add(label["id"])
    found = []
    for line in (corpus / "articles.jsonl").read_text("utf-8").splitlines():
        article = json.loads(line)
        if article["id"] not in copies:
            found.append(article)
    return tuple(found)


def _week_shift(published: date, rng: random.Random) -> timedelta:
    low = -((published - EARLIEST).days // 7)
    high = (LATEST - published).days // 7
    return timedelta(weeks=rng.randint(low, high))


def vary(base: dict[str, Any], number: int, seed: int, rng: random.Random) -> BenchArticle:
    """A new story from one dev-corpus article."""
    published = date.fromisoformat(base["published"])
    delta = _week_shift(published, rng)
    title, text = base["title"], base["text"]
    found = mentioned(f"{title}\n\n{text}")
    pool = targets()
    chosen = rng.sample(pool, k=min(len(found), len(pool)))
    mapping = dict(zip(sorted(found, key=lambda c: (-found[c], c)), chosen, strict=False))
    swap = Swap(mapping, rng)
    source = outlet(rng)
    old_source = base.get("source") or ""

    def rewrite(value: str) -> str:
        value = swap.apply(value) if mapping else value
        value = shift_dates(value, published, delta)
        return value.replace(old_source, source) if old_source else value

    title, text = rewrite(title), rewrite(text)
    paragraphs = [
        reorder(p, rng) if i and rng.random() < 0.6 else p for i, p in enumerate(text.split("\n\n"))
    ]
    main = [mapping[c] for c in sorted(found, key=lambda c: (-found[c], c))[:2]]
    main += [rng.choice(pool) for _ in range(2 - len(main))]
    slots = {
        "A": main[0].name,
        "B": main[1].name,
        "Ad": main[0].demonym,
        "Bd": main[1].demonym,
        "Ac": main[0].capital,
        "Bc": main[1].capital,
    }
    words = len(text.split())
    extra = filler_paragraphs(int(words * rng.uniform(0.9, 1.3)), slots, rng)
    for paragraph in extra:
        paragraphs.insert(rng.randint(1, len(paragraphs)), paragraph)
    moved = published + delta
    return BenchArticle(
        id=f"bench-{seed}-{number:06d}",
        url=article_url(source, moved, title, number, rng),
        source=source,
        published=moved,
        title=title,
        text="\n\n".join(paragraphs),
        base=base["id"],
        countries=tuple(sorted(c.code for c in mapping.values())),
    )


_HEADLINE_EDITS: list[Callable[[str, random.Random], str]] = [
    lambda t, r: f"{t}, officials say",
    lambda t, r: f"UPDATE {r.randint(1, 3)}-{t}",
    lambda t, r: f"{r.choice(('WRAP', 'ANALYSIS', 'FOCUS'))}: {t}",
    lambda t, r: (
        re.sub(r"\bsign\b", r.choice(("ink", "seal")), t)
        if re.search(r"\bsign\b", t)
        else f"{t} - {r.choice(('report', 'sources', 'agencies'))}"
    ),
    lambda t, r: f"{t} ({r.choice(('updated', 'corrected', 'recasts'))})",
]


def near_duplicate(
    original: BenchArticle, number: int, seed: int, rng: random.Random
) -> BenchArticle:
    """A syndicated copy: new headline and byline, a sentence cut or added, maybe two
    paragraphs swapped."""
    source = outlet(rng)
    title = rng.choice(_HEADLINE_EDITS)(original.title, rng)
    paragraphs = original.text.replace(original.source, source).split("\n\n")
    cuttable = [i for i, p in enumerate(paragraphs) if i and len(sentences(p)) >= 2]
    if cuttable and rng.random() < 0.5:
        i = rng.choice(cuttable)
        parts = sentences(paragraphs[i])
        parts.pop(rng.randrange(1, len(parts)))
        paragraphs[i] = " ".join(parts)
    else:
        i = rng.randrange(1, len(paragraphs)) if len(paragraphs) > 1 else 0
        by_code = {c.code: c for c in countries()}
        named = [by_code[c] for c in original.countries] or targets()[:1]
        slots = {
            "A": named[0].name,
            "B": named[-1].name,
            "Ad": named[0].demonym,
            "Bd": named[-1].demonym,
            "Ac": named[0].capital,
            "Bc": named[-1].capital,
        }
        paragraphs[i] += " " + filler_sentence(rng.choice(FILLER), slots, rng)
    if len(paragraphs) > 3 and rng.random() < 0.5:
        a, b = rng.sample(range(1, len(paragraphs)), 2)
        paragraphs[a], paragraphs[b] = paragraphs[b], paragraphs[a]
    return BenchArticle(
        id=f"bench-{seed}-{number:06d}",
        url=article_url(source, original.published, title, number, rng),
        source=source,
        published=original.published,
        title=title,
        text="\n\n".join(paragraphs),
        base=original.base,
        countries=original.countries,
        duplicate_of=original.id,
    )


def generate(
    count: int,
    *,
    seed: int = DEFAULT_SEED,
    duplicates: float = 0.0,
    corpus: Path = DEV_CORPUS,
) -> list[BenchArticle]:
    """``count`` articles, of which ``round(count * duplicates)`` are near-duplicates of
    earlier ones; the same arguments always give the same articles."""
    if count < 0:
        raise ValueError("count must be zero or more")
    if not 0 <= duplicates < 1:
        raise ValueError("duplicates is a share: at least 0 and below 1")
    rng = random.Random(seed)
    bases = list(corpus_articles(corpus))
    copies = round(count * duplicates)
    originals_wanted = count - copies
    if copies and not originals_wanted:
        raise ValueError("near-duplicates need at least one original")
    originals: list[BenchArticle] = []
    order: list[dict[str, Any]] = []
    for number in range(originals_wanted):
        if not order:
            order = bases[:]
            rng.shuffle(order)
        originals.append(vary(order.pop(), number, seed, rng))
    # each copy goes somewhere after its original, as a re-publication would
    placed: list[tuple[float, int, BenchArticle]] = [
        (float(i), 0, a) for i, a in enumerate(originals)
    ]
    for n in range(copies):
        i = rng.randrange(originals_wanted)
        copy = near_duplicate(originals[i], originals_wanted + n, seed, rng)
        placed.append((rng.uniform(i + 0.5, originals_wanted), 1, copy))
    placed.sort(key=lambda p: (p[0], p[1], p[2].id))
    return [a for _, _, a in placed]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100, help="articles to write")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--duplicates", type=float, default=0.0, help="share of near-duplicates (0 to <1)"
    )
    args = parser.parse_args(argv)
    for article in generate(args.count, seed=args.seed, duplicates=args.duplicates):
        sys.stdout.write(json.dumps(article.payload(), ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
