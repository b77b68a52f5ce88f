"""Finding the agreements an article reports: general rules over spaCy's parse.

The shape of the rules:

1. A *mention* is a noun phrase headed by a document noun (agreement, memorandum, treaty,
   declaration, protocol, roadmap...). Its kind comes from the noun, its title from the
   capitalised name it belongs to or from its subject ("an agreement on military
   cooperation" -> "military cooperation").
2. A mention becomes a *record* when a predicate about it is found by walking the dependency
   tree: a signing verb ("signed", "inked", "sealed", "put their names to", "the signing
   of"), or a verb of planning, cancelling or referring back. The predicate's modality
   (will, expected to), negation, its verb class and the date attached to it decide the
   status: signed, planned, cancelled or past_reference.
3. A package ("signed eight agreements", "a series of memoranda") is expanded into one record
   per document the text describes, from lists in the same sentence, from the sentences that
   follow it ("The accords cover A, B and C", "One MoU... The second..."), and from bulleted or
   numbered lists. A package nobody describes stays one record.
4. A definite mention ("the agreement", "the pact", "the document") that comes after a record
   refers back to it: it adds a date, signatories and evidence instead of a new record.
5. Parties come from the predicate's subject, its "with"/"between" phrases and the
   signatories; "the two countries" and silent cases take the article's main pair (the two
   countries the headline and lead are about).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from pactwatch.contracts import FRESH_DAYS, AgreementRecord, Evidence, Signatory
from pactwatch.matching import dates_compatible, stems_meet, title_stems
from spacy.tokens import Doc, Span, Token

from pactwatch_extractor import lexicon as lx
from pactwatch_extractor.dates import Found, resolve
from pactwatch_extractor.gazetteer import (
    canonical_body,
    fold,
    gazetteer,
    is_ambiguous,
    non_state_pattern,
)

_ITEM_SPLIT_OXFORD = re.compile(r",\s*(?:and|as well as|plus)\s+|,\s+(?![^()]*\))")
_BULLET = re.compile(
    r"^\s*(?:[-•*–—]|\(?\d{1,2}[.)]|\(?[a-z][.)]|\(?(?:i|ii|iii|iv|v|vi|vii|viii|ix|x|xi|xii)[.)])\s+",
    re.I,
)
_COMPANY_CUES = re.compile(
    r"\b(group|company|companies|corporation|corp|inc|ltd|plc|llc|holdings?|firm|"
    r"enterprise|conglomerate|manufacturer|producer|operator|contractor|developer|lng|"
    r"petroleum|oil|gas company|sovereign wealth funds?|investment fund|bank of|"
    r"airlines?|telecom|motors|energy company|state-owned|national oil company)\b",
    re.I,
)


@dataclass
class Frame:
    """What the whole article says that each sentence needs: its date and its main pair."""

    reference: date
    pair: tuple[str, ...]
    codes: Counter[str]


@dataclass
class Draft:
    """A record under construction."""

    kind: str | None
    title: str
    parties: list[str | None]
    counterparts: list[str]
    status: str
    signed_on: str | None
    sentence: Span
    named: bool
    plural: bool = False
    signatories: list[Signatory] = field(default_factory=list)
    evidence: list[Span] = field(default_factory=list)
    explicit_parties: bool = False
    named_parties: list[str] = field(default_factory=list)
    direct: bool = True
    dated: bool = False
    package: int | None = None
    """Token index of the package's head noun, for a package and the items expanded from it."""
    level: int = 0
    """How an item was found: 0 one by one, 1 in the package's sentence, 2 in a following
    sentence, 3 in a bulleted list."""
    expected: int | None = None
    """How many documents the package says it holds, when it says."""
    vague: bool = False
    """A package without a number ("a series of agreements")."""
    head_noun: str = ""
    np_text: str = ""
    expanded: bool = False
    head_index: int = -1


# ----------------------------------------------------------------------------- mentions


def doc_kind(token: Token) -> tuple[bool, str | None]:
    """Whether ``token`` heads a document noun phrase, and its kind (None: from context)."""
    low = token.lower_
    if token.pos_ not in ("NOUN", "PROPN") and not _mistagged_noun(token):
        return False, None
    prev = token.nbor(-1).lower_ if token.i > token.sent.start else ""
    if (prev, low) in lx.QUALIFIED_DOC_NOUNS:
        return True, lx.QUALIFIED_DOC_NOUNS[(prev, low)]
    if low in ("statement", "statements", "strategy", "plan", "plans", "map"):
        return False, None
    if low == "letter" or low == "letters":
        nxt = token.doc[token.i + 1 : token.i + 3].text.lower()
        return (nxt == "of intent", "other")
    if low == "understanding" and prev == "of":
        return False, None  # "memorandum of understanding": the memorandum is the head
    if low == "decisions" and prev not in ("council", "interstate", "three", "two", "the"):
        return False, None
    if low not in lx.DOC_NOUNS:
        return False, None
    kind = lx.DOC_NOUNS[low]
    if token.is_title and low in lx.NAMED_KIND and _in_name(token):
        kind = lx.NAMED_KIND[low]
    return True, kind


def _mistagged_noun(token: Token) -> bool:
    """The tagger reads "a visa waiver deal with" as a verb: a document word that a
    determiner or a number opens, with only modifiers between, is a noun all the same."""
    if token.lower_ not in lx.DOC_NOUNS or token.pos_ not in ("VERB", "AUX"):
        return False
    for back in range(1, 4):
        if token.i - back < token.sent.start:
            return False
        prev = token.doc[token.i - back]
        if prev.lower_ in ("a", "an", "the", "this", "that", "its", "their") or prev.like_num:
            return True
        if prev.pos_ in ("VERB", "AUX", "ADP", "PUNCT", "CCONJ"):
            return False
    return False


def _in_name(token: Token) -> bool:
    left = token.nbor(-1) if token.i > token.sent.start else None
    return bool(left is not None and left.is_title and left.lower_ not in ("the", "a", "an"))


def _np_left(head: Token) -> int:
    """First token of the noun phrase headed by ``head`` (its left modifiers)."""
    start = head.i
    for child in head.lefts:
        if (
            child.dep_
            in (
                "det",
                "amod",
                "compound",
                "nummod",
                "nmod",
                "poss",
                "quantmod",
                "advmod",
                "npadvmod",
                "case",
            )
            or child.ent_type_
        ):
            start = min(start, child.left_edge.i)
    return start


@dataclass
class Mention:
    head: Token
    kind: str | None
    title: str
    named: bool
    count: int | None
    vague: bool
    plural: bool
    definite: bool
    negated: bool
    year: str | None
    np: Span
    generic: bool = False


def read_mention(head: Token, kind: str | None) -> Mention:
    """The facts of a document noun phrase: title, name, count, definiteness, year."""
    doc = head.doc
    start = _np_left(head)
    np = doc[start : head.i + 1]
    lefts = [t for t in np if t.i < head.i]
    low_lefts = [t.lower_ for t in lefts]
    count: int | None = None
    vague = False
    for t in lefts:
        if t.like_num and t.lower_ in lx.NUMBER_WORDS:
            count = lx.NUMBER_WORDS[t.lower_]
        elif t.like_num and t.text.isdigit() and len(t.text) <= 2:
            count = int(t.text)
        if t.lower_ in lx.VAGUE_COUNTS:
            vague = True
    # "a series of agreements", "a package of documents": the quantifier governs the noun
    if head.head.lower_ == "of" and head.head.head.lower_ in lx.VAGUE_COUNTS:
        vague = True
    negated = any(t.lower_ in ("no", "neither") for t in lefts)
    generic = any(t.lower_ in ("such", "any", "every", "each") for t in lefts)
    definite = bool(low_lefts) and low_lefts[0] in (
        "the",
        "this",
        "that",
        "these",
        "those",
        "both",
        "its",
        "their",
        "such",
    )
    if "following" in low_lefts:
        # "the following agreements were signed:" points forward, not back
        definite, vague = False, True
    plural = head.tag_ in ("NNS", "NNPS") or head.lower_.endswith(("s", "ta", "da"))
    year = next((t.text for t in lefts if re.fullmatch(r"(?:19|20)\d\d", t.text)), None)
    name = _proper_name(head)
    if name is not None:
        title, named = name, True
    else:
        title, named = _subject_title(head, lefts), False
    return Mention(
        head, kind, title, named, count, vague, plural, definite, negated, year, np, generic
    )


_NAME_LINKS = frozenset({"on", "of", "for", "between", "and", "the", "de", "in", "to"})


def _proper_name(head: Token) -> str | None:
    """A capitalised document name around ``head`` ("Shusha Declaration on Allied Relations")."""
    doc, sent = head.doc, head.sent
    if not head.is_title and not head.is_upper:
        return None
    i = head.i
    while i - 1 >= sent.start:
        prev = doc[i - 1]
        if prev.is_title or prev.text in ("'s",) or prev.like_num:
            if prev.i == sent.start and prev.lower_ in ("the", "a", "an"):
                break
            i -= 1
        elif (
            # "the Comprehensive Economic and Trade Agreement"
            prev.lower_ == "and"
            and i - 2 >= sent.start
            and _name_word(doc[i - 2])
            and doc[i - 2].i != sent.start
        ):
            i -= 2
        else:
            break
    j = head.i
    while j + 1 < sent.end:
        nxt = doc[j + 1]
        if nxt.ent_type_ in ("DATE", "TIME") or nxt.lower_ in lx.MONTH_WORDS:
            break
        linked = (
            nxt.lower_ in _NAME_LINKS
            and j + 2 < sent.end
            and _name_word(doc[j + 2])
            # "the Elysee Treaty between France and Germany", "... in Paris": the parties and
            # the place, not the name ("Treaty of Kars" keeps its place)
            and not (nxt.lower_ in _PLACE_LINKS and doc[j + 2].ent_type_ in _PLACES)
        )
        # "the Treaty of Friendship, Cooperation and Mutual Assistance"
        listed = nxt.text == "," and _listed_in_name(doc, j + 2, sent.end)
        # "the Treaty of Good-Neighbourliness and Friendly Cooperation"
        hyphened = (
            nxt.text in ("-", "–")
            and not nxt.whitespace_
            and doc[j].is_title
            and j + 2 < sent.end
            and _name_word(doc[j + 2])
        )
        if not ((nxt.is_title and nxt.i != sent.start) or linked or listed or hyphened):
            break
        j += 1
    while j > head.i and (doc[j].lower_ in _NAME_LINKS or doc[j].text == ","):
        j -= 1
    words = doc[i : j + 1]
    # drop leading determiners and sentence-initial capitals that are not part of the name
    start = 0
    while start < len(words) - 1 and (
        words[start].lower_ in ("the", "a", "an", "this", "that")
        or words[start].ent_type_ in ("PERSON", "DATE")
        or (words[start].lower_ in lx.NON_SUBJECT_MODIFIERS and not words[start].is_title)
        or (words[start].i == sent.start and words[start].pos_ not in ("PROPN",))
    ):
        start += 1
    name = words[start:]
    if len(name) < 2:
        return None
    # a name is more than a document word and its parties: the "Turkey-Libya Memorandum" is
    # not one; one place before the document word is ("the Elysee Treaty", "Simla Agreement")
    places = [t for t in name if t.ent_type_ in ("GPE", "NORP")]
    if all(t.lower_ in lx.DOC_NOUNS or t in places for t in name) and not (
        len(name) == 2
        and places[:1] == [name[0]]
        and name[0].ent_type_ == "GPE"
        and not (name.start > 0 and doc[name.start - 1].text in ("-", "–", "/"))
    ):
        return None
    return name.text


_PLACE_LINKS = frozenset({"between", "in", "and", "with", "at"})
_PLACES = frozenset({"GPE", "LOC", "FAC", "NORP"})


def _name_word(token: Token) -> bool:
    """A capitalised word that may go on a document's name (not a date)."""
    return (
        token.is_title
        and token.ent_type_ not in ("DATE", "TIME")
        and token.lower_ not in lx.MONTH_WORDS
    )


def _listed_in_name(doc: Doc, start: int, end: int) -> bool:
    """From ``start``: capitalised words, maybe more commas, then "and" and a capitalised
    word: the rest of a list inside a name."""
    k = start
    while k < end and (_name_word(doc[k]) or doc[k].text == ","):
        k += 1
    return (
        k > start
        and k + 1 < end
        and doc[k].lower_ == "and"
        and _name_word(doc[k + 1])
        and doc[k + 1].ent_type_ not in _PLACES
    )


_SUBJECT_SUFFIXES = frozenset({"cooperation", "co-operation"})
"""Words that say nothing of a subject alone but end one ("military cooperation")."""

_SUBJECT_PREPS = frozenset("on for in concerning regarding about of between to covering".split())
_PARTY_PREPS = frozenset("between with among".split())


def _subject_preps(head: Token, wanted: frozenset[str] = _SUBJECT_PREPS) -> list[Token]:
    """The prepositions of a mention (its subject, or its parties with ``_PARTY_PREPS``);
    those of "understanding" count as the memorandum's own ("a memorandum of understanding
    on hydropower", "... of understanding with Somaliland")."""
    preps: list[Token] = []
    for child in head.rights:
        if child.dep_ != "prep" or child.lower_ not in wanted | {"of"}:
            continue
        understanding = [o for o in child.children if o.lower_ == "understanding"]
        if child.lower_ == "of" and understanding:
            preps.extend(
                c for c in understanding[0].rights if c.dep_ == "prep" and c.lower_ in wanted
            )
            continue
        if child.lower_ in wanted:
            preps.append(child)
    return preps


def _subject_title(head: Token, lefts: Sequence[Token]) -> str:
    """The subject of a generic mention: its "on/in the field of/for" phrase or its modifiers."""
    for child in _subject_preps(head):
        if child.lower_ in _SUBJECT_PREPS:
            if child.lower_ == "to" and head.lower_ not in ("deal",):
                continue
            objects = [
                c
                for c in child.rights
                if c.dep_ in ("pobj", "pcomp")
                and c.ent_type_ not in ("DATE", "TIME", "GPE", "LOC", "FAC", "PERSON")
                and c.lower_ not in lx.PLACES_AND_OCCASIONS
            ]
            if objects:
                text = _strip_field(_without_clauses(objects[0]))
                if text:
                    return text
    mods = [
        t
        for t in lefts
        if (t.lower_ not in lx.NON_SUBJECT_MODIFIERS or t.lower_ in _SUBJECT_SUFFIXES)
        and not t.like_num
        and t.dep_ in ("amod", "compound", "nmod")
        and t.pos_ != "DET"
        and not (t.tag_ in ("VBN", "VBG") and t.dep_ == "amod")
        and t.ent_type_ not in ("GPE", "NORP", "DATE", "PERSON")
    ]
    # "a military cooperation agreement": "military cooperation"; "a cooperation agreement"
    # alone says nothing of its subject
    if any(t.lower_ not in _SUBJECT_SUFFIXES for t in mods):
        # as written: "bi-national commission", not "bi - national commission"
        words = []
        for t, following in zip(mods, [*mods[1:], None], strict=True):
            gap = t.whitespace_ if following is not None and following.i == t.i + 1 else " "
            words.append(t.text + gap)
        return "".join(words).strip()
    return _verb_subject(head) or _clause_subject(head)


def _verb_subject(head: Token) -> str:
    """ "sealed a deal on their maritime borders": the parser often hangs the subject on the
    verb whose object the mention is."""
    if head.dep_ not in ("dobj", "nsubjpass"):
        return ""
    for prep in head.head.children:
        if prep.dep_ != "prep" or prep.lower_ not in ("on", "concerning", "regarding", "covering"):
            continue
        for obj in prep.children:
            if (
                obj.dep_ == "pobj"
                and obj.ent_type_ not in ("DATE", "TIME", "GPE", "LOC", "FAC", "PERSON")
                and obj.lower_ not in lx.PLACES_AND_OCCASIONS
            ):
                return _strip_field(_without_clauses(obj))
    return ""


# Verbs whose object says what a document is about ("an agreement that delimits the
# maritime zones", "a deal to upgrade four border crossings").
_SUBJECT_VERBS = frozenset(
    """delimit delimits define defines cover covers govern governs regulate regulates set
    sets establish establishes allow allows exempt exempts provide provides create creates
    upgrade build protect guarantee open opens reopen reopens facilitate facilitates
    promote promotes develop develops support supports""".split()
)


def _clause_subject(head: Token) -> str:
    """The object of a relative or infinitive clause of the mention, as its subject; else an
    infinitive clause of purpose itself ("an agreement to restore diplomatic relations")."""
    for clause in head.children:
        if clause.dep_ not in ("relcl", "acl") or clause.lower_ not in _SUBJECT_VERBS:
            continue
        objects = [c for c in clause.children if c.dep_ == "dobj"]
        if objects:
            return _strip_field(_without_clauses(objects[0]))
    for clause in head.children:
        if (
            clause.dep_ == "acl"
            and clause.tag_ == "VB"
            and any(c.dep_ == "aux" and c.lower_ == "to" for c in clause.children)
        ):
            objects = [c for c in clause.children if c.dep_ == "dobj"]
            if objects:
                verb = " ".join(
                    [clause.text, *(c.text for c in clause.children if c.dep_ == "prt")]
                )
                return f"{verb} {_strip_field(_without_clauses(objects[0]))}"
    return ""


def _without_clauses(token: Token) -> str:
    """The words of a phrase without the relative and participle clauses in it, and without the
    phrases that say where, when or between whom it was signed ("security cooperation in
    Kyiv on Friday", "maritime zones between the two countries"): they are not its subject."""
    cut = {
        t.i
        for c in token.subtree
        if c.i != token.i and (c.dep_ in ("acl", "relcl") or _circumstance(c))
        for t in c.subtree
    }
    words = [t for t in token.subtree if t.i not in cut]
    return "".join(t.text_with_ws for t in words).strip(" ,;")


_PARTY_NOUNS = frozenset("countries sides nations states governments parties".split())


def _circumstance(prep: Token) -> bool:
    """A prepositional phrase naming a place, a time or the parties themselves."""
    if prep.dep_ != "prep" or prep.lower_ not in ("in", "on", "at", "between", "during"):
        return False
    objects = [o for o in prep.children if o.dep_ == "pobj"]
    if not objects:
        return False
    obj = objects[0]
    if obj.ent_type_ in ("DATE", "TIME", "GPE", "FAC") or obj.lower_ in lx.PLACES_AND_OCCASIONS:
        return True
    if obj.lower_ in lx.MONTH_WORDS or obj.lower_ in _WEEKDAYS:
        return True
    # "between the two countries", "between Paris and Berlin"
    names = [t for t in obj.subtree if t.pos_ == "PROPN"]
    places = bool(names) and all(t.ent_type_ in ("GPE", "NORP") for t in names)
    return prep.lower_ == "between" and (obj.lower_ in _PARTY_NOUNS or places)


_WEEKDAYS = frozenset("monday tuesday wednesday thursday friday saturday sunday".split())


def _strip_field(text: str) -> str:
    text = re.sub(r"^(?:the|a|an|their|its)\s+", "", text.strip(), flags=re.I)
    text = re.sub(r"^(?:the\s+)?(?:fields?|areas?|spheres?|domains?)\s+of\s+", "", text, flags=re.I)
    text = re.sub(
        r"^cooperation\s+(?:in|on)\s+(?:the\s+(?:fields?|areas?)\s+of\s+)?", "", text, flags=re.I
    )
    return text.strip(" ,;:.")


# ----------------------------------------------------------------------------- predicates


@dataclass
class Predicate:
    verb: Token
    status: str
    direct: bool
    """The verb itself reports the signing (not a witness of it, not a plan)."""


def _aux_words(verb: Token) -> set[str]:
    words = {c.lower_ for c in verb.children if c.dep_ in ("aux", "auxpass", "neg", "advmod")}
    # "are expected to sign", "plans to sign": the governing verb carries the modality
    head = verb.head
    infinitive = any(c.dep_ == "aux" and c.lower_ == "to" for c in verb.children)
    if (verb.dep_ == "xcomp" or infinitive) and head.i != verb.i:
        words.add(head.lower_)
        words |= {c.lower_ for c in head.children if c.dep_ in ("aux", "auxpass", "neg")}
    return words


def modifies_other_noun(head: Token) -> bool:
    """A document noun that only qualifies another noun ("Compact negotiations", "a document"
    in apposition to a named declaration) is not a mention of its own."""
    if head.dep_ == "compound" and not doc_kind(head.head)[0]:
        return True
    # an indefinite appositive restates the noun it follows ("the Shusha Declaration, a
    # document that..."); a definite one with its own subject is the next item of a list
    # the parser misread ("the 1961 Treaty of ..., the treaty on bilateral relations")
    if head.dep_ != "appos":
        return False
    determiner = next((c.lower_ for c in head.lefts if c.dep_ == "det"), None)
    own_date = any(
        t.ent_type_ == "DATE" or re.fullmatch(r"(?:1[89]|20)\d\d", t.text) for t in head.subtree
    )
    return not (determiner == "the" and own_date)


def _title_chain(head: Token) -> list[Token]:
    """The head and the nouns of its "on/of/for X" phrases, which a relative clause may hang on."""
    chain = [head]
    node = head
    for _ in range(3):
        preps = [
            c
            for c in node.children
            if c.dep_ == "prep" and c.lower_ in ("on", "of", "for", "between")
        ]
        objects = [o for p in preps for o in p.children if o.dep_ == "pobj"]
        if not objects:
            break
        node = objects[0]
        chain.append(node)
    return chain


_PLAN_NOUNS = frozenset(
    """negotiations negotiation negotiating talks consideration draft drafts drafting round
    rounds proposal proposals""".split()
)
_PLAN_MODIFIERS = frozenset("draft proposed planned possible prospective future".split())


def context_predicate(m: Mention) -> Predicate | None:
    """What the words around a mention say when no verb speaks of it: "negotiations on a free
    trade agreement", "nine draft agreements up for consideration" (planned); "holding the
    treaty in abeyance", "the summit ... was cancelled" (cancelled)."""
    if cancel_context(m.head):
        return Predicate(m.head, "cancelled", False)
    if any(t.lower_ in _PLAN_MODIFIERS for t in m.np if t.i < m.head.i):
        return Predicate(m.head, "planned", False)
    node = m.head
    for _ in range(4):
        if node.head.i == node.i:
            break
        node = node.head
        if node.lower_ in _PLAN_NOUNS:
            return Predicate(m.head, "planned", False)
        if node.pos_ in ("VERB", "AUX"):
            break
    tail = m.head.doc[m.head.i + 1 : min(m.head.i + 6, m.head.sent.end)].text.lower()
    if re.match(
        r"^\s*(?:\w+\s+){0,2}(?:under|up for) (?:consideration|negotiation|discussion)", tail
    ):
        return Predicate(m.head, "planned", False)
    return None


def cancel_context(token: Token) -> bool:
    """Whether a governing verb cancels, suspends or denies what ``token`` belongs to."""
    node = token
    for _ in range(8):
        low = node.lower_
        if low in lx.CANCEL_VERBS:
            return True
        if low in ("hold", "holds", "holding", "held", "put", "kept", "keep") and any(
            t.lower_ == "abeyance" for t in node.subtree
        ):
            return True
        if node.dep_ == "ROOT":
            # "a summit at which they were due to sign X was cancelled"
            return node.lower_ in lx.CANCEL_VERBS
        node = node.head
    return False


def _clauses_of(head: Token) -> list[Token]:
    """Relative and participle clauses that hang on the mention's phrase: on its head, on the
    nouns of its "on/of X" phrases ("the declaration on allied relations that X adopted"),
    on an appositive ("an agreement the two countries signed last year")."""
    out = []
    for token in head.subtree:
        if token.dep_ not in ("acl", "relcl") or token.pos_ not in ("VERB", "AUX"):
            continue
        node = token.head
        while node.i != head.i and node.pos_ not in ("VERB", "AUX") and node.head.i != node.i:
            node = node.head
        if node.i == head.i:
            out.append(token)
    # "Under the accord, signed on Tuesday by ...": the parser hangs a participle set off by
    # a comma on the main verb, but it describes the phrase it follows
    after = head.doc[head.right_edge.i + 1 : head.right_edge.i + 3]
    if (
        len(after) == 2
        and after[0].text == ","
        and after[1].tag_ == "VBN"
        and after[1].dep_ in ("advcl", "acl", "conj")
        and after[1] not in out
    ):
        out.append(after[1])
    return out


def find_predicate(m: Mention, frame: Frame, sent_text: str) -> Predicate | None:
    """The verb that says something about the mention, and the status it gives it."""
    head = m.head
    candidates: list[Token] = []
    # the verb above the noun phrase (object, passive subject, "signing of", "put ... to")
    node = head
    for _ in range(5):
        if node.dep_ in ("ROOT",) and node.i != head.i:
            candidates.append(node)
            break
        parent = node.head
        if parent.i == node.i:
            break
        if parent.lower_ in lx.SIGN_VERBS or parent.pos_ in ("VERB", "AUX"):
            candidates.append(parent)
            if parent.pos_ == "VERB" and parent.lower_ not in ("signing",):
                break
        node = parent
    # "the agreement, signed in Cairo", "documents signed", "that the presidents signed";
    # also on the last noun of its title ("the declaration on allied relations that X adopted")
    for clause in _clauses_of(head):
        candidates.insert(0, clause)
    # the subject of a passive or copular verb: "The agreement was signed by..."
    if head.dep_ in ("nsubjpass", "nsubj") and head.head.pos_ in ("VERB", "AUX"):
        candidates.insert(0, head.head)
        # "The MoU was one of six memoranda [that] India and Malaysia signed on April 1"
        if head.head.lower_ in ("is", "was", "are", "were", "be", "been"):
            for attr in (c for c in head.head.children if c.dep_ == "attr"):
                candidates[:0] = [
                    t for t in attr.subtree if t.dep_ in ("acl", "relcl") and t.pos_ == "VERB"
                ]

    for verb in candidates:
        status = _status_of(verb, m, frame, sent_text)
        if status is not None:
            return status
    return None


def _status_of(verb: Token, m: Mention, frame: Frame, sent_text: str) -> Predicate | None:
    low = verb.lower_
    aux = _aux_words(verb)
    negated = bool(aux & lx.NEGATIONS) or m.negated
    modal = (
        bool(aux & lx.MODAL_WORDS)
        or bool(aux & lx.PLAN_WORDS)
        or ("to" in aux and verb.tag_ == "VB")
    )
    if low == "put":
        objects = {c.lower_ for c in verb.subtree}
        if not objects & lx.PUT_OBJECTS:
            return None
        low = "signed"
    if low in ("signing",) and verb.pos_ == "NOUN":
        # "witnessed the signing of", "the signing of the treaty"
        governor = verb.head
        aux = _aux_words(governor) if governor.i != verb.i else aux
        modal = bool(aux & lx.MODAL_WORDS) or bool(aux & lx.PLAN_WORDS)
        negated = bool(aux & lx.NEGATIONS) or negated
        if negated:
            return Predicate(verb, "cancelled", True)
        return Predicate(verb, "planned" if modal else "signed", True)
    if low in lx.CANCEL_VERBS:
        return Predicate(verb, "cancelled", True)
    if low in lx.PAST_VERBS:
        if low in lx.SUBJECT_IS_NEW and m.head.dep_ in ("nsubj", "nsubjpass", "csubj"):
            # "the pact is modelled on the 1963 treaty": the old one is the object
            return None
        return Predicate(verb, "past_reference", False)
    if low in lx.ISSUING and m.kind in ("declaration", "other"):
        # "issued a joint statement", "released a joint communique": adopted
        low = "adopted"
    if low in lx.SIGNING or low in ("exchanged", "exchange"):
        if low.startswith("exchang") and "ratification" in sent_text.lower():
            return Predicate(verb, "past_reference", False)
        if negated:
            # "did not sign a planned defence pact": that signing fell through; "no agreement
            # was signed" names no document at all (the mention itself is negated then)
            return Predicate(verb, "cancelled", True)
        if modal:
            return Predicate(verb, "planned", True)
        if low.startswith("conclud") and re.search(r"negotiation", sent_text, re.I):
            return Predicate(verb, "planned", True)
        present = verb.tag_ in ("VB", "VBP", "VBZ") and not aux & {"has", "have", "had"}
        if present and (verb.tag_ == "VB" or "to" in aux):
            # a bare or infinitive verb is a plan ("to sign", "set to sign")
            return Predicate(verb, "planned", True)
        return Predicate(verb, "signed", True)
    if low in ("initialled", "initialed", "initial"):
        return Predicate(verb, "planned", True)
    if low in lx.PLANNED_VERBS:
        return Predicate(verb, "planned", False)
    if low in lx.WITNESS:
        return None
    return None


# ----------------------------------------------------------------------------- dates


def attached_dates(
    verb: Token, mention: Mention, found: Sequence[Found], offset: int
) -> list[Found]:
    """Dates whose syntactic path reaches the predicate or the mention without another verb."""
    doc = verb.doc
    out: list[Found] = []
    for f in found:
        start = offset + f.start
        span = doc.char_span(start, offset + f.end, alignment_mode="expand")
        if span is None:
            continue
        node = span.root
        for _ in range(6):
            if node.i in (verb.i, mention.head.i) or node in mention.np:
                out.append(f)
                break
            if node.pos_ in ("VERB",) and node.i != verb.i and not _lists_contents(node, mention):
                # a date on another verb ("said on Saturday") is not the signing date,
                # unless that verb only governs the signing ("witnessed the signing")
                # ("met on Monday, signing five agreements": the participle's time is its verb's)
                if verb.head.i == node.i and (
                    verb.pos_ == "NOUN" or (verb.tag_ == "VBG" and verb.dep_ == "advcl")
                ):
                    out.append(f)
                break
            if node.head.i == node.i:
                break
            node = node.head
    return out


_CONTENT_PARTICIPLES = frozenset("covering including concerning spanning involving".split())


def _lists_contents(node: Token, mention: Mention) -> bool:
    """ "five pacts covering energy and trade on Friday", "a statement on deepening ties on
    Tuesday": the parser hangs the date on a participle or gerund that says what the
    documents cover, which is part of the mention."""
    if node.dep_ == "acl" and node.head.i == mention.head.i:
        return node.lower_ in _CONTENT_PARTICIPLES
    # "a statement on deepening the partnership on Tuesday": a gerund in the subject
    return (
        node.tag_ == "VBG"
        and node.dep_ == "pcomp"
        and node.head.dep_ == "prep"
        and node.head.head.i == mention.head.i
    )


# ----------------------------------------------------------------------------- parties


def _entity_code(ent: Span) -> str | None:
    if ent.label_ not in ("GPE", "NORP", "LOC", "ORG", "FAC"):
        return None
    if ent.ent_id_ and ent.ent_id_ != "NONSTATE":
        code: str | None = ent.ent_id_
    else:
        code = gazetteer().lookup(ent.text)
    if code and is_ambiguous(ent.text) and ent.label_ not in ("GPE",):
        return None
    return code


_STATE_WORDS = frozenset(
    """government governments ministry ministries minister ministers department agency
    authority authorities commission council office presidency cabinet parliament
    embassy army navy forces police administration president leader""".split()
)


def _state_body(token: Token) -> bool:
    """Whether a noun names an organ of a state (its government, a ministry, an agency)."""
    return token.lower_ in _STATE_WORDS or any(
        t.lower_ in _STATE_WORDS for t in token.subtree if t.i <= token.i
    )


_OFFICE_NAME = re.compile(
    r"^(?:the\s+)?(?:High Representative|Special Representative|Commissioner|"
    r"Secretary[- ]General|Director[- ]General|Vice[- ]President|President|Minister|"
    r"Secretary|Ambassador|Envoy|Chairman|Chairwoman|Chair)\b"
)
"""An organisation-like name that is an office held by a person ("the EU's High
Representative for Foreign Affairs"): its holder signs for a body, the office is not one."""


def _is_company(ent: Span) -> bool:
    if ent.label_ != "ORG" or ent.ent_id_ == "NONSTATE" or _OFFICE_NAME.match(ent.text):
        return False
    window = ent.doc[max(ent.start - 4, ent.sent.start) : min(ent.end + 3, ent.sent.end)].text
    if _COMPANY_CUES.search(window) or _COMPANY_CUES.search(ent.text):
        return True
    if any(t.lower_ in _STATE_WORDS for t in ent):
        return False
    if gazetteer().lookup(ent.text) is not None:
        return False
    # an organisation that a country introduces as its own ("India's Adani Ports") is a
    # company; so is a name spelled like one (acronyms, CamelCase). A person the model took
    # for an organisation ("Kassym-Jomart Tokayev") is neither.
    before = ent.doc[ent.start - 1] if ent.start > ent.sent.start else None
    owned = before is not None and (
        before.ent_type_ in ("GPE", "NORP") or before.text in ("'s", "’s")
    )
    return owned or bool(re.search(r"[A-Z]{2,}|[a-z][A-Z]", ent.text))


def _modifies_org(token: Token) -> bool:
    """A demonym or a possessive country modifying an organisation ("Moroccan phosphate group
    OCP", "India's Adani Ports") names the organisation's nationality, not a party."""
    if token.ent_type_ == "GPE" and token.dep_ not in ("poss", "compound", "nmod", "amod"):
        return False
    if token.ent_type_ == "GPE" and _state_body(token.head):
        return False  # "Tanzania's government", "Kenya's Ministry of Trade": the state itself
    head = token.head
    if (
        token.dep_ == "compound"
        and head.pos_ == "PROPN"
        and not head.ent_type_
        and not lx.OFFICES.fullmatch(head.text)
        and not _state_body(head)
        and not any(t.ent_type_ == "PERSON" for t in head.subtree)
    ):
        return True  # "Saudi Aramco": a name the model did not know, that a country opens
    for _ in range(3):
        if head.ent_type_ == "ORG" or head.lower_ in ("group", "company", "firm", "corporation"):
            return True
        if head.head.i == head.i:
            break
        head = head.head
    return False


@dataclass
class Parties:
    codes: list[str]
    counterparts: list[str]
    explicit: bool
    multilateral: bool = False
    named: list[str] = field(default_factory=list)
    """The countries the text itself names as parties (before filling in the pair)."""

    def outside_pair(self, frame: Frame) -> bool:
        """Whether none of the countries named is one the article is mainly about."""
        return bool(frame.pair) and not set(self.codes) & set(frame.pair)


_TWO_SIDES = re.compile(
    r"\b(?:the two|both) (?:sides|countries|nations|governments|states|neighbou?rs|parties)\b",
    re.I,
)
_MULTILATERAL = re.compile(
    r"\b(trilateral|tripartite|three-way|four-way|quadrilateral|multilateral|"
    r"(?:three|four|five|six|seven|eight|nine|ten|\d+)\s+(?:countries|states|nations|"
    r"governments|leaders|presidents|parties|signatories|neighbou?rs|members))\b",
    re.I,
)
_NUMBER = re.compile(r"\b(three|four|five|six|seven|eight|nine|ten|\d+)\b", re.I)


def merge_counterparts(names: Iterable[str]) -> list[str]:
    """Each non-state party once: bodies under their canonical name ("EU" and "European
    Commission" are the European Union), and a name dropped when another one contains all of
    its words ("LNG" beside "Petronet LNG Ltd")."""
    canonical = list(dict.fromkeys(canonical_body(n) for n in names if n.strip()))
    words = [set(fold(n).split()) for n in canonical]
    return [
        name
        for i, name in enumerate(canonical)
        if not any(j != i and words[i] < words[j] for j in range(len(canonical)))
    ]


def _subject_holder(node: Token) -> Token:
    """The word whose subject is the signer: up a chain of control and raising predicates
    ("were due to sign", "are expected to sign", "hope to be able to sign") to the first
    one that has a subject."""
    for _ in range(4):
        if any(c.dep_ in ("nsubj", "nsubjpass") for c in node.children):
            return node
        if node.dep_ not in ("xcomp", "acomp") or node.head.i == node.i:
            return node
        node = node.head
    return node


def find_parties(
    m: Mention,
    verb: Token | None,
    sent: Span,
    frame: Frame,
    previous: Sequence[str | None] | None = None,
) -> Parties:
    """The parties of a record: from the predicate's subject and its with/between/for phrases,
    else from the sentence, else those of the record before it, else the article's pair."""
    roles: list[Token] = []
    if verb is not None:
        anchor = verb.head if verb.pos_ == "NOUN" and verb.lower_ == "signing" else verb
        for child in anchor.children:
            if child.dep_ in ("nsubj", "nsubjpass", "agent", "npadvmod") or (
                child.dep_ == "prep" and child.lower_ in ("with", "between", "by", "for", "among")
            ):
                roles.extend(child.subtree)
        if anchor.dep_ == "relcl" and any(
            c.dep_ in ("nsubj", "nsubjpass") and c.lower_ in ("which", "who", "that")
            for c in anchor.children
        ):
            # "Turkey, which signed a memorandum with Libya": the antecedent signed
            antecedent = anchor.head
            roles.extend(t for t in antecedent.subtree if t.i < anchor.left_edge.i)
        elif anchor.dep_ in ("acl", "relcl", "xcomp", "advcl", "conj", "pcomp"):
            for child in _subject_holder(anchor.head).children:
                if child.dep_ in ("nsubj", "nsubjpass"):
                    roles.extend(child.subtree)
    for child in _subject_preps(m.head, _PARTY_PREPS):
        roles.extend(child.subtree)
    # hyphenated pairs in the mention itself: "the Turkey-Libya memorandum"
    roles.extend(t for t in m.np if t.ent_type_ in ("GPE", "NORP"))

    role_ids = {t.i for t in roles} - _occasions(roles)
    role_text = " ".join(t.text for t in sorted(set(roles), key=lambda t: t.i))
    multi = _MULTILATERAL.search(role_text + " " + m.np.text)
    codes: list[str] = []
    counterparts: list[str] = []
    # a company the mention itself names ("a deal ... to be built by phosphate group OCP")
    for token in m.head.subtree:
        if (
            token.dep_ in ("agent", "prep")
            and token.lower_ in ("by", "with")
            and token.head.i != (verb.i if verb is not None else -1)
        ):
            inside = {t.i for t in token.subtree}
            counterparts.extend(
                ent.text for ent in sent.ents if ent.start in inside and _is_company(ent)
            )
    for ent in sent.ents:
        if ent.start not in role_ids:
            continue
        code = _entity_code(ent)
        if code and not (ent.label_ in ("NORP", "GPE") and _modifies_org(ent.root)):
            if code not in codes:
                codes.append(code)
        elif (
            ent.ent_id_ == "NONSTATE" or non_state_pattern().fullmatch(ent.text) or _is_company(ent)
        ):
            counterparts.append(ent.text)
    counterparts = merge_counterparts(counterparts)
    explicit = bool(codes) or bool(counterparts)
    named = list(codes)
    if (
        counterparts
        and not codes
        and frame.pair
        and any(non_state_pattern().fullmatch(c) for c in counterparts)
    ):
        # an international body signs with a country: the one the article is about
        codes = [frame.pair[0]] if len(frame.pair) == 1 else [_top(frame)]
    if multi:
        number = _NUMBER.search(multi.group(0))
        wanted = _number(number.group(1)) if number else 3
        ranked = [c for c, _ in frame.codes.most_common()]
        for code in codes + ranked:
            if code not in codes and len(codes) < wanted:
                codes.append(code)
        return Parties(sorted(codes), counterparts, True, multilateral=True)
    two_sides = bool(_TWO_SIDES.search(role_text)) or bool(_TWO_SIDES.search(sent.text))
    if not explicit and two_sides and frame.pair and len(frame.pair) == 2:
        return Parties(list(frame.pair), [], False)
    if not explicit and previous:
        # "The leaders also signed...": the same signatories as the record before
        return Parties([c for c in previous if c], [], False, multilateral=len(previous) > 2)
    if not explicit:
        # no role names a party: the sentence's countries, if it names exactly two
        sentence_codes = []
        for ent in sent.ents:
            code = _entity_code(ent)
            if (
                code
                and code not in sentence_codes
                and not (ent.label_ == "NORP" and _modifies_org(ent.root))
            ):
                sentence_codes.append(code)
        if len(sentence_codes) == 2 and set(sentence_codes) <= set(frame.pair or sentence_codes):
            codes = sentence_codes
    if len(codes) == 1 and not counterparts and frame.pair:
        partner = [c for c in frame.pair if c != codes[0]]
        if codes[0] in frame.pair and partner:
            codes.append(partner[0])
        elif frame.pair and len(frame.pair) >= 1 and codes[0] not in frame.pair:
            # one party named outside the main pair: its counterpart is the article's subject
            codes.append(frame.pair[0])
    if not codes and not counterparts:
        codes = list(frame.pair)
    return Parties(codes, counterparts, explicit, named=named)


# ----------------------------------------------------------------------------- signatories


def _top(frame: Frame) -> str:
    return frame.codes.most_common(1)[0][0] if frame.codes else frame.pair[0]


_OCCASION_PREPS = frozenset("on at during in after before ahead amid".split())


def _occasions(roles: Sequence[Token]) -> set[int]:
    """Tokens of "on the sidelines of the G20 summit", "in Kyiv": where and when, not who."""
    out: set[int] = set()
    for token in roles:
        if token.dep_ == "prep" and token.lower_ in _OCCASION_PREPS:
            out |= {t.i for t in token.subtree}
    return out


def _number(text: str) -> int:
    return int(text) if text.isdigit() else lx.NUMBER_WORDS.get(text.lower(), 3)


def find_signatories(verb: Token | None, sent: Span) -> list[Signatory]:
    """People in the predicate's subject or agent, with their office and country."""
    if verb is None:
        return []
    anchor = verb.head if verb.pos_ == "NOUN" and verb.lower_ == "signing" else verb
    scope: set[int] = set()
    for child in anchor.children:
        if child.dep_ in ("nsubj", "nsubjpass", "agent") or (
            child.dep_ == "prep" and child.lower_ in ("by", "for")
        ):
            scope |= {t.i for t in child.subtree}
    out: list[Signatory] = []
    for ent in sent.ents:
        if ent.label_ != "PERSON" or ent.start not in scope:
            continue
        left = ent.doc[max(sent.start, ent.start - 6) : ent.start]
        office_match = None
        for m in lx.OFFICES.finditer(left.text):
            office_match = m
        office = office_match.group(0) if office_match else None
        country = None
        for t in reversed(list(left)):
            if t.ent_type_ in ("NORP", "GPE"):
                country = gazetteer().lookup(t.text) or (t.ent_id_ or None)
                if country == "NONSTATE":
                    country = None
                break
        out.append(Signatory(name=ent.text, office=office, country=country))
    return out


# ----------------------------------------------------------------------------- lists


def split_items(text: str) -> list[str]:
    """Split an enumeration into its items.

    With a serial comma ("A, B, and C") only commas separate items, so "housing and urban
    development" stays one item; without it ("A, B, C and D") the last "and" separates too,
    unless the last item is a phrase of its own ("the avoidance of X and the prevention of Y").
    "as well as" always separates.
    """
    text = text.strip(" .;:")
    parts = [p for p in re.split(r",?\s+as well as\s+", text) if p.strip()]
    items: list[str] = []
    for part in parts:
        serial = re.search(r",\s*and\s+", part)
        if serial and _top_level_comma(part[serial.end() :]):
            # "A and B, and C, D and E": the serial comma joins two compound items
            items.extend(_clean_item(x) for x in (part[: serial.start()], part[serial.end() :]))
            continue
        oxford = bool(serial)
        pieces = [p.strip() for p in _ITEM_SPLIT_OXFORD.split(part) if p and p.strip()]
        if not oxford and len(pieces) >= 2:
            last = pieces.pop()
            tail = re.split(r"\s+and\s+", last, maxsplit=1)
            if len(tail) == 2 and len(tail[0].split()) <= 3 and " of " not in tail[0]:
                pieces.extend(tail)
            else:
                pieces.append(last)
        elif not oxford and len(pieces) == 1 and len(parts) == 1:
            pieces = [pieces[0]]
        items.extend(re.sub(r"^and\s+", "", p).strip() for p in pieces)
    return [i for i in (_clean_item(x) for x in items) if i]


def _top_level_comma(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            return True
    return False


_ATTRIBUTION = re.compile(
    r",?\s+(?:according to\b.*|(?:the\s+)?[\w\s'-]{0,40}\b(?:said|says|reported|announced|"
    r"stated|confirmed)\b.*)$",
    re.I,
)


def strip_attribution(text: str) -> str:
    """Drop ", according to state media" and ", the ministry said" from the end of a clause."""
    return _ATTRIBUTION.sub("", text.strip())


def _clean_item(text: str) -> str:
    text = re.sub(r"^(?:one|another)\s+(?:on|for|in)\s+", "", text.strip(), flags=re.I)
    text = re.sub(r"^(?:texts?|documents?|drafts?)\s+(?=on\b)", "", text.strip(), flags=re.I)
    text = re.sub(r"^(?:on|in|for|concerning|regarding)\s+", "", text, flags=re.I)
    text = _strip_field(text)
    text = re.sub(r"^(?:the|a|an)\s+", "", text, flags=re.I)
    return text.strip(" ,;:.")


# ----------------------------------------------------------------------------- the article


def main_pair(
    doc: Doc, title_end: int, first_para_end: int
) -> tuple[tuple[str, ...], Counter[str]]:
    """The two countries the article is about: weighted by headline, lead and body mentions,
    and most by being the subject of the headline or of the lead sentence ("Athens and
    Cairo seal sea border pact, rebuffing Ankara's Libya deal")."""
    subjects: set[int] = set()
    for sent in doc.sents:
        if sent.start_char >= first_para_end:
            break
        for child in sent.root.children:
            if child.dep_ in ("nsubj", "nsubjpass") or (
                child.dep_ in ("nmod", "npadvmod") and child.i < sent.root.i
            ):
                subjects |= {t.i for t in child.subtree}
    weights: Counter[str] = Counter()
    for ent in doc.ents:
        code = _entity_code(ent)
        if not code or (ent.label_ == "NORP" and _modifies_org(ent.root)):
            continue
        weight = 3 if ent.start_char < title_end else 2 if ent.start_char < first_para_end else 1
        if ent.start in subjects:
            weight += 3
        weights[code] += weight
    ranked = [c for c, _ in weights.most_common()]
    return tuple(sorted(ranked[:2])), weights


def extract_records(doc: Doc, body_start: int, frame: Frame) -> list[AgreementRecord]:
    """Every agreement record of an article (``doc`` = headline + blank line + body)."""
    drafts: list[Draft] = []
    sentences = [s for s in doc.sents if s.start_char >= body_start]
    handled: set[int] = set()
    for index, sent in enumerate(sentences):
        candidates = [t for t in sent if t.lower_ in lx.DOC_WORDS and t.i not in handled]
        if not candidates:
            _expand_following(drafts, sentences, index)
            continue
        sent_text = sent.text
        found = resolve(sent_text, frame.reference)
        for token in candidates:
            if token.i in handled:
                continue
            ok, kind = doc_kind(token)
            if not ok:
                continue
            if modifies_other_noun(token):
                continue
            mention = read_mention(token, kind)
            if mention.negated and not lx.DENIAL.search(sent_text):
                continue  # "no agreement was signed": nothing to record
            if mention.generic:
                continue  # "the first country to conclude such a pact": a kind, not a document
            predicate = find_predicate(mention, frame, sent_text)
            handled.add(token.i)
            if predicate is None:
                if _refer_back(drafts, mention, sent, found, frame):
                    continue
                predicate = context_predicate(mention)
                if predicate is None:
                    continue
            if predicate.status == "none":
                continue
            weak = token.lower_ in lx.WEAK_DOC_NOUNS and not mention.named
            if (
                weak
                and predicate.status != "signed"
                and _refer_back(drafts, mention, sent, found, frame, predicate)
            ):
                continue
            draft = _draft(mention, predicate, sent, found, frame, drafts)
            if draft is None:
                continue
            if _merge_into_previous(drafts, draft, mention):
                continue
            drafts.append(draft)
            if draft.package is not None:
                _expand_same_sentence(draft, mention, drafts)
        _expand_following(drafts, sentences, index)
    _expand_lists(drafts, doc, sentences)
    return [_finish(d, frame) for d in _merge_coreferent(_resolve_packages(drafts))]


_TIME_NOUNS = frozenset("days weeks months years decades week month year decade".split())


def _some_time_after(verb: Token) -> bool:
    """'The pact comes weeks after Ethiopia signed ...', 'a week after their ministers
    signed ...': a signing placed some time before the news is background to it."""
    if not any(c.dep_ == "mark" and c.lower_ in ("after", "since") for c in verb.children):
        return False
    around = [*verb.head.children, *verb.children]
    return any(
        t.lower_ in _TIME_NOUNS
        for c in around
        if c.dep_ in ("npadvmod", "advmod")
        for t in c.subtree
    )


def _exact(signed_on: str | None) -> bool:
    return bool(signed_on) and len(signed_on or "") == 10


def _merge_coreferent(drafts: list[Draft]) -> list[Draft]:
    """One document named two ways in one article ("a memorandum of alliance" signed on June
    15 ... "the Shusha Declaration on Allied Relations, which the presidents signed") is one
    record: same parties, one of them without an exact date (and no date conflict), titles
    sharing their stems, neither a plan."""
    out: list[Draft] = []
    for d in drafts:
        target = next(
            (
                o
                for o in out
                if set(o.parties) == set(d.parties)
                and o.counterparts == d.counterparts
                and _exact(o.signed_on) != _exact(d.signed_on)
                and dates_compatible(o.signed_on, d.signed_on)
                and o.status in ("signed", "past_reference")
                and d.status in ("signed", "past_reference")
                and (o.package is None or o.expanded)
                and (d.package is None or d.expanded)
                and (o.kind == d.kind or o.named or d.named)
                and stems_meet(title_stems(o.title), title_stems(d.title), concepts=False)
            ),
            None,
        )
        if target is None:
            out.append(d)
            continue
        dated = target if _exact(target.signed_on) else d
        named = target if target.named else d if d.named else dated
        target.title, target.named = named.title, named.named
        target.kind = named.kind or dated.kind
        target.signed_on, target.dated, target.status = dated.signed_on, dated.dated, dated.status
        target.signatories = target.signatories or d.signatories
        target.evidence.extend(d.evidence)
        target.explicit_parties = target.explicit_parties or d.explicit_parties
    return out


def _draft(
    m: Mention,
    p: Predicate,
    sent: Span,
    found: Sequence[Found],
    frame: Frame,
    drafts: Sequence[Draft],
) -> Draft | None:
    previous = next((d.parties for d in reversed(drafts) if d.status == p.status), None)
    parties = find_parties(m, p.verb, sent, frame, previous)
    # the company of a company deal is not its country: "Moroccan group OCP" is not Morocco
    if parties.counterparts and len(parties.codes) > 1:
        nationality = {c for c in parties.codes if _names_company_nationality(c, m, sent)}
        parties.codes = [c for c in parties.codes if c not in nationality] or parties.codes
    dates = attached_dates(p.verb, m, found, sent.start_char)
    status = p.status
    signed_on: str | None = None
    dated = False
    own = [f for f in dates if m.np.start_char <= sent.start_char + f.start < _np_end(m)]
    if m.year and not own:
        # "the 1961 Treaty of Friendship, ...": the document's own year beats a date
        # that a list around it attaches to the same verb
        signed_on, dated = m.year, True
    elif dates:
        best = max(own or dates, key=lambda f: (f.exact, f.end))
        signed_on, dated = best.value, True
    scope = cue_scope(p.verb, m)
    if status == "signed":
        if (
            (
                signed_on
                and _older_than_fresh(
                    signed_on, frame.reference, exact=dated and len(signed_on) == 10
                )
            )
            or (m.year and int(m.year) < frame.reference.year)
            or _past_cue(scope)
            or any(c.dep_ == "advmod" and c.lower_ in lx.PAST_ADVERBS for c in p.verb.children)
            or (not dated and lx.RELATIVE_PAST.search(scope))
            or any(f.before for f in dates)
            or _some_time_after(p.verb)
        ):
            status = "past_reference"
        elif lx.PLANNED_PHRASES.search(scope) and not dated:
            status = "planned"
        elif m.definite and parties.codes and parties.outside_pair(frame) and not m.named:
            # "the memorandum signed between Ankara and Tripoli": a known document of other
            # countries, referred to, not reported as news
            status = "past_reference"
    if status == "signed" and lx.CANCELLED_PHRASES.search(scope):
        status = "cancelled"
    if status != "cancelled" and (
        cancel_context(p.verb) or (m.negated and lx.DENIAL.search(sent.text))
    ):
        # "were due to sign X ... was cancelled", "denied that an MoU was signed"
        status = "cancelled"
    if status in ("planned", "cancelled") and not (dated and signed_on and len(signed_on) == 10):
        signed_on = signed_on if m.year else None
    kind = m.kind
    package = None
    expected = None
    if (m.plural and not m.named) or m.vague or (m.count and m.count > 1):
        package = m.head.i
        expected = m.count
    title = m.title
    if package is not None and not title:
        title = m.np.text
    return Draft(
        kind=kind,
        title=title,
        parties=list(parties.codes),
        counterparts=list(parties.counterparts),
        status=status,
        signed_on=signed_on,
        sentence=sent,
        named=m.named,
        plural=m.plural,
        signatories=find_signatories(p.verb, sent),
        evidence=[sent],
        explicit_parties=parties.explicit,
        named_parties=parties.named,
        direct=p.direct,
        dated=dated,
        package=package,
        expected=expected,
        vague=package is not None and m.count is None,
        head_noun=m.head.lower_,
        np_text=m.np.text,
        head_index=m.head.i,
    )


def _names_company_nationality(code: str, m: Mention, sent: Span) -> bool:
    for token in m.head.subtree:
        if (
            token.ent_type_ == "NORP"
            and _modifies_org(token)
            and gazetteer().lookup(token.text) == code
        ):
            return True
    return False


def _np_end(m: Mention) -> int:
    """Where the mention's own phrase ends: its name, or its "on/of X" phrases ("of October
    13, 1921" included), not the list items conjoined to it."""
    end = m.head
    for child in m.head.rights:
        if child.dep_ == "prep":
            end = child.right_edge if child.right_edge.i > end.i else end
    return end.idx + len(end)


def _clause(verb: Token) -> Span:
    doc = verb.doc
    anchor = verb.head if verb.dep_ in ("xcomp", "auxpass", "aux") else verb
    return doc[anchor.left_edge.i : anchor.right_edge.i + 1]


_SUBCLAUSES = frozenset({"advcl", "relcl", "ccomp", "parataxis", "conj", "acl"})


def cue_scope(verb: Token, mention: Mention) -> str:
    """The words that can qualify a predicate: its clause without the subordinate clauses
    that do not contain the mention ("..., ending 20 years of negotiations that began in 1996")."""
    anchor = (
        verb.head
        if verb.dep_ in ("xcomp", "auxpass", "aux")
        or (verb.pos_ == "NOUN" and verb.lower_ == "signing")
        else verb
    )
    skip: set[int] = set()
    for child in anchor.children:
        if child.dep_ in _SUBCLAUSES and child.i != verb.i:
            sub = {t.i for t in child.subtree}
            if mention.head.i not in sub:
                skip |= sub
    return " ".join(t.text for t in anchor.subtree if t.i not in skip)


def _older_than_fresh(value: str, reference: date, *, exact: bool) -> bool:
    if exact:
        return (reference - date.fromisoformat(value)).days > FRESH_DAYS
    return int(value[:4]) < reference.year


def _past_cue(scope: str) -> bool:
    for match in lx.PAST_PHRASES.finditer(scope):
        if match.group(0).lower() in lx.WEAK_PAST:
            continue
        return True
    return False


def _refer_back(
    drafts: list[Draft],
    m: Mention,
    sent: Span,
    found: Sequence[Found],
    frame: Frame,
    predicate: Predicate | None = None,
) -> bool:
    """A mention without a new predicate: evidence for an earlier record, or a past reference."""
    if m.named:
        same = [d for d in drafts if d.named and fold(d.title) == fold(m.title)]
        if same:
            same[-1].evidence.append(sent)
            return True
        if m.year or any(
            f for f in found if _older_than_fresh(f.value, frame.reference, exact=f.exact)
        ):
            # a named document with an old date and no signing: a reference to the past
            offset = m.head.idx - sent.start_char
            dates = sorted(
                (f for f in found if _older_than_fresh(f.value, frame.reference, exact=f.exact)),
                key=lambda f: (f.start < offset, abs(f.start - offset)),
            )
            parties = find_parties(m, None, sent, frame)
            drafts.append(
                Draft(
                    kind=m.kind or "agreement",
                    title=m.title,
                    parties=list(parties.codes),
                    counterparts=parties.counterparts,
                    # "holding the 1960 Indus Waters Treaty in abeyance": old, and suspended
                    status="cancelled" if cancel_context(m.head) else "past_reference",
                    signed_on=(dates[0].value if dates else m.year),
                    sentence=sent,
                    named=True,
                    evidence=[sent],
                    explicit_parties=parties.explicit,
                    direct=False,
                    head_index=m.head.i,
                )
            )
            return True
        return False
    if m.definite and drafts:
        # "The extradition treaty covers 31 offences" names one item of a package more
        # precisely: its kind is the treaty's
        words = title_stems(m.title)
        named_item = next(
            (
                d
                for d in reversed(drafts)
                if words and stems_meet(words, title_stems(d.title), concepts=False)
            ),
            None,
        )
        if named_item is not None:
            if named_item.expanded and m.kind:
                named_item.kind = m.kind
            named_item.evidence.append(sent)
            return True
        target = _antecedent(drafts, m)
        if target is not None:
            target.evidence.append(sent)
            return True
    return False


def _antecedent(drafts: Sequence[Draft], m: Mention) -> Draft | None:
    for d in reversed(drafts):
        if (
            m.kind is None
            or d.kind is None
            or d.kind == m.kind
            or m.head.lower_ in lx.GENERIC_NOUNS
        ):
            if m.plural and d.package is None and not d.plural:
                continue  # "the treaties" do not refer back to one declaration
            return d
    return None


def _merge_into_previous(drafts: list[Draft], new: Draft, m: Mention) -> bool:
    """A definite or named mention of a document already recorded adds to that record."""
    if not drafts:
        return False
    if m.named:
        for d in reversed(drafts):
            if d.named and fold(d.title) == fold(new.title):
                _absorb(d, new)
                return True
            if (
                not d.named
                and d.package is None
                and d.kind == new.kind
                and set(d.parties) == set(new.parties)
                and d.status == new.status
                and d.sentence.start == new.sentence.start
            ):
                _absorb(d, new, rename=True)
                return True
        return False
    if not m.definite or m.count:
        return False
    target = _antecedent(drafts, m)
    if target is None:
        return False
    if target.dated and new.dated and not dates_compatible(target.signed_on, new.signed_on):
        return False  # "the treaty on bilateral relations signed in 2000" is another treaty
    if new.named_parties and not set(new.named_parties) <= set(target.parties):
        return False  # "the agreement" that names other countries is another agreement
    _absorb(target, new)
    return True


def _absorb(target: Draft, new: Draft, rename: bool = False) -> None:
    if new.dated and not target.dated:
        target.signed_on, target.dated = new.signed_on, True
        if target.status == "signed" and new.status == "past_reference":
            target.status = "past_reference"
    if not target.signatories:
        target.signatories = new.signatories
    if rename or (new.named and not target.named):
        target.title, target.named = new.title, True
        target.kind = new.kind or target.kind
    if target.kind is None:
        target.kind = new.kind
    if not target.explicit_parties and new.explicit_parties:
        target.parties, target.explicit_parties = new.parties, True
    target.evidence.append(new.sentence)


# ----------------------------------------------------------------------------- packages


def _expand_same_sentence(draft: Draft, m: Mention, drafts: list[Draft]) -> None:
    """Items named with the package: "agreements on trade, energy and health",
    "two memoranda, one of them abolishing visas", "covering A and B"."""
    head = m.head
    text = None
    for child in head.rights:
        if (child.dep_ == "prep" and child.lower_ in ("on", "in", "covering", "for")) or (
            child.dep_ == "acl" and child.lower_ in ("covering", "including", "concerning", "on")
        ):
            # up to where the phrase says where or when ("... and space during the visit")
            end = min(
                [c.left_edge.i for c in child.subtree if c.i > child.i and _circumstance(c)]
                + [child.right_edge.i + 1]
            )
            text = head.doc[child.i + 1 : end].text
    sent = draft.sentence
    after = head.doc[head.i + 1 : sent.end]
    listed = _LISTED_AFTER.search(after.text)
    if listed:
        # "seven memoranda on Tuesday, including on rail, payments and ocean research"; not a
        # list of countries or people ("... with several countries, including Kenya and Togo")
        start = after.start_char + listed.start(1)
        names = any(
            e.start_char >= start and e.label_ in ("GPE", "NORP", "PERSON", "ORG")
            for e in sent.ents
        )
        text = strip_attribution(listed.group(1))
        # "protocols on A and B, a protocol on C, and agreements on D": one item per document
        # word, each of its own kind; else the enumeration's items
        by_kind = [k.strip(" ,") for k in _KIND_LIST.split(text) if k.strip(" ,")]
        items = by_kind if len(by_kind) >= 2 else split_items(text)
        documents = any(w.lower() in lx.DOC_WORDS for w in re.findall(r"[\w-]+", text))
        if names and not documents:
            return
        if len(items) >= 2 and not names:
            for item in items:
                _add_item(drafts, draft, item)
            return
    one_of = re.search(
        r",\s*(?:including|one of (?:them|which))\s+(?:one\s+)?(.+?)(?:,|$)", sent.text
    )
    if one_of:
        _add_item(drafts, draft, one_of.group(1), level=0)
        return
    if text:
        items = split_items(strip_attribution(text))
        if len(items) >= 2 or (draft.expected and len(items) == draft.expected):
            for item in items:
                _add_item(drafts, draft, item)


_LISTED_AFTER = re.compile(
    r",\s*(?:including|covering|concerning)\s+(?:(?:ones|those|documents|deals|agreements|"
    r"memoranda|accords|pacts|texts)\s+)?(?:on\s+|in\s+|for\s+)?(.+)$",
    re.I,
)
"""A list set off after the package: ", including (ones) on A, B and C"."""
_KIND_LIST = re.compile(
    r",\s*(?:and\s+)?(?=(?:an?\s+)?(?:protocols?|agreements?|memorand\w+|mous?|accords?|"
    r"treat(?:y|ies)|deals?|conventions?)\s+(?:on|for|in)\b)",
    re.I,
)
_REFERS_TO_PACKAGE = re.compile(
    r"^\s*(?:The|These|Those|Both|All|Its|Their)?\s*(?:(?:\w+|\d+)\s+)?(?:other\s+)?"
    r"(?P<noun>agreements|accords|memoranda|memorandums|mous|pacts|deals|documents|instruments|"
    r"protocols|treaties|texts)\b"
    r"|^\s*(?P<others>Others|The others|The other (?:ones|documents|agreements|pacts))\b"
    r"|^\s*(?P<one>One|The first|The second|The third|The fourth|The fifth|Another|The other|"
    r"The latter|The last)"
    r"(?:\s+(?:MoU|memorandum|agreement|accord|pact|deal|document|protocol|one))?\b",
    re.I,
)
# "..., said the agreements under consideration include texts on A, B and C"
_INNER_PACKAGE = re.compile(
    r"\b(?:said|says|added|noted|explained|stated)(?: that)?\s+(?=the\s+(?:\w+\s+)?"
    r"(?:agreements|accords|memoranda|memorandums|mous|pacts|deals|documents|instruments|"
    r"protocols|treaties|texts)\b)",
    re.I,
)
_LIST_VERBS = re.compile(
    r"\b(?:cover|covers|covered|deal with|deals with|dealt with|include|includes|included|"
    r"concern|concerns|concerned|relate to|relates to|provide for|provides for|aim to|aims to|"
    r"are on|is on|were on|focus on|focuses on|address|addresses|consists? of|comprise|"
    r"comprises|span|spans|touch on|expand|expands|establish|establishes|enhance|enhances|"
    r"abolish|abolishes|set out|sets out|are|were)\b\s*(?:with\s+|on\s+)?",
    re.I,
)


def _expand_following(drafts: list[Draft], sentences: Sequence[Span], index: int) -> None:
    """Sentences that describe the documents of a package recorded just before."""
    sent = sentences[index]
    packages = [
        d
        for d in drafts
        if d.package is not None
        and d.sentence.start < sent.start
        and sent.start - d.sentence.end < 400
    ]
    if not packages:
        return
    text = sent.text.strip()
    m = _REFERS_TO_PACKAGE.match(text)
    if not m:
        inner = _INNER_PACKAGE.search(text)
        if inner is None:
            return
        text = text[inner.end() :]
        m = _REFERS_TO_PACKAGE.match(text)
        if not m:
            return
    package = packages[-1]
    noun = (m.group("noun") or "").lower()
    verb = _LIST_VERBS.search(text, m.end())
    if not verb or verb.start() - m.end() > 40:
        return
    rest = strip_attribution(text[verb.end() :].rstrip(". "))
    rest = re.split(
        r"(?<=[a-z]),\s+(?:the|a|an)?\s*(?:latter|former)\b|;|\.\s|,\s+(?:while|whereas|but|although)\b",
        rest,
    )[0]
    kind = None
    if noun and noun not in lx.GENERIC_PLURALS:
        kind = "memorandum" if noun.startswith("mou") else lx.DOC_NOUNS.get(noun)
    if m.group("one"):
        item_kind = kind or _kind_in(m.group(0)) or package.kind
        _add_item(drafts, package, _describe(rest), kind=item_kind, evidence=sent, level=0)
        return
    items = split_items(rest)
    # a sub-package: "The agreements cover A, B and C" after "three agreements and five MoUs"
    for item in items:
        _add_item(drafts, package, item, kind=kind or package.kind, evidence=sent, level=2)


def _kind_in(text: str) -> str | None:
    for word in re.findall(r"[A-Za-z']+", text.lower()):
        if lx.DOC_NOUNS.get(word):
            return lx.DOC_NOUNS[word]
    return None


def _describe(text: str) -> str:
    """The subject of "expands defence educational exchanges between..." -> the object words."""
    text = re.split(r"\s+(?:between|among|to each other|with each other)\b", text)[0]
    text = re.sub(
        r"^(?:to\s+)?(?:enhance|expand|promote|boost|strengthen|develop)\s+", "", text, flags=re.I
    )
    return _clean_item(text)


def _add_item(
    drafts: list[Draft],
    package: Draft,
    item: str,
    *,
    kind: str | None = None,
    evidence: Span | None = None,
    level: int = 1,
) -> None:
    item = item.strip()
    if not item:
        return
    own_kind = _kind_in(item)
    item_title = _clean_item(
        re.sub(
            r"^(?:an?\s+|the\s+)?(?:[\w-]+\s+)?(?:cooperation\s+)?(?:agreement|memorandum of "
            r"understanding|memorandum|mou|protocol|accord|treaty|programme|declaration)s?\s+",
            "",
            item,
            flags=re.I,
        )
    )
    drafts.append(
        Draft(
            kind=own_kind or kind or package.kind,
            title=item_title or item,
            parties=list(package.parties),
            counterparts=list(package.counterparts),
            status=package.status,
            signed_on=package.signed_on,
            sentence=package.sentence,
            named=False,
            signatories=list(package.signatories),
            evidence=[package.sentence] + ([evidence] if evidence is not None else []),
            explicit_parties=package.explicit_parties,
            direct=package.direct,
            dated=package.dated,
            package=package.package,
            expanded=True,
            level=level,
            head_index=package.head_index,
        )
    )


def _expand_lists(drafts: list[Draft], doc: Doc, sentences: Sequence[Span]) -> None:
    """Bulleted or numbered lines after a package ("the documents include:")."""
    text = doc.text
    for package in [d for d in drafts if d.package is not None and not d.expanded]:
        start = _list_start(package, text)
        if start is None:
            continue
        lines: list[str] = []
        for line in text[start:].split("\n"):
            if not line.strip():
                if lines:
                    continue
                continue
            if _BULLET.match(line):
                lines.append(_BULLET.sub("", line).strip(" ;.,"))
            else:
                break
        if len(lines) < 2:
            continue
        for line in lines:
            _add_item(drafts, package, line, kind=package.kind, level=3)
            between = re.search(r"\bbetween\s+(?:the\s+)?(.+)$", line)
            if between and _COMPANY_CUES.search(line):
                # "an agreement between the sovereign wealth funds X and Y": not the states
                names = re.split(r"\s+and\s+(?:the\s+)?", between.group(1))
                names = [re.sub(r"^(?:[a-z-]+\s+)+", "", n).strip(" .;") for n in names]
                drafts[-1].parties = []
                drafts[-1].counterparts = [n for n in names if n]


_LIST_INTRO = re.compile(
    r"^[^\n]{0,120}\b(?:documents|agreements|accords|memoranda|memorandums|mous|pacts|deals|"
    r"instruments|texts|protocols|following|they|these|include|includes|are|were)\b[^\n]{0,60}:\s*$",
    re.I,
)


_SIGNING_WORD = re.compile(r"\b(?:signed|inked|sealed|concluded|adopted)\b", re.I)


def _list_start(package: Draft, text: str) -> int | None:
    """Where the bulleted list of a package begins: right after its own sentence when that
    ends with a colon, or after the next line when that line introduces the documents
    ("According to the palace, the documents include:") without reporting a signing of its
    own ("the following agreements were signed:" heads a package of its own)."""
    if package.sentence.text.rstrip().endswith(":"):
        return package.sentence.end_char
    position = package.sentence.end_char
    after = text[position:]
    stripped = after.lstrip()
    line_end = stripped.find("\n")
    intro = stripped[: line_end if line_end >= 0 else len(stripped)]
    if _LIST_INTRO.match(intro.strip()) and not _SIGNING_WORD.search(intro):
        return position + (len(after) - len(stripped)) + len(intro)
    return None


def _resolve_packages(drafts: list[Draft]) -> list[Draft]:
    """A package described by its items is replaced by them; one nobody describes stays."""
    out: list[Draft] = []
    # the most detailed description of each package wins: a bulleted list over a following
    # sentence over a summary in the package's own sentence
    # (items described one by one, level 0, always stay)
    best: dict[int, int] = {}
    for d in drafts:
        if d.expanded and d.package is not None:
            best[d.package] = max(best.get(d.package, 0), d.level)
    for d in drafts:
        superseded = d.package is not None and d.package in best
        if superseded and (not d.expanded or 0 < d.level < best[d.package or 0]):
            continue
        umbrella = d.vague and (
            d.head_noun in lx.GENERIC_NOUNS
            or bool(lx.VAGUE_COUNTS & set(d.np_text.lower().split()))
        )
        if (
            umbrella
            and not d.expanded
            and d.package not in best
            and any(
                o is not d
                and o.status == d.status
                and set(o.parties) == set(d.parties)
                and (o.package is None or o.expanded or not o.vague)
                for o in drafts
            )
        ):
            # "a package of documents" whose documents the article lists under other heads
            continue
        out.append(d)
    # nested packages: "eight instruments" expanded into "three agreements and five MoUs"
    # whose items come from later sentences; keep the finest level
    return _dedupe(out)


def _dedupe(drafts: list[Draft]) -> list[Draft]:
    seen: set[tuple[str, str | None, str, tuple[str | None, ...]]] = set()
    out = []
    for d in drafts:
        key = (fold(d.title), d.kind, d.status, tuple(d.parties))
        if key in seen:
            continue
        seen.add(key)
        out.append(d)
    return out


# ----------------------------------------------------------------------------- finishing


def _finish(d: Draft, frame: Frame) -> AgreementRecord:
    codes = [c for c in dict.fromkeys(d.parties) if c]
    parties: list[str | None] = [*sorted(codes)]
    counterparts = merge_counterparts(d.counterparts)
    parties.extend([None] * len(counterparts))
    if len(parties) == 1:
        parties.append(None)
    bilateral = len(parties) == 2 and all(parties)
    signed_on = d.signed_on
    if d.status == "signed" and not signed_on:
        signed_on = str(frame.reference.year)
    confidence = 0.45
    confidence += 0.2 if d.explicit_parties else 0.05
    confidence += 0.15 if d.direct else 0.0
    confidence += 0.1 if d.dated else 0.0
    confidence += 0.05 if d.named else 0.0
    confidence += 0.04 if d.signatories else 0.0
    spans = {(span.start_char, span.end_char): span for span in d.evidence}
    evidence = [
        Evidence(sentence=span.text.strip(), start=start, end=end)
        for (start, end), span in spans.items()
    ]
    return AgreementRecord(
        parties=tuple(parties),
        counterparts=tuple(counterparts),
        kind=d.kind or "agreement",
        # no subject given: the document's own word ("deal", "programme"), which the
        # registry reads as "no subject" rather than as a subject nobody else will match
        title=d.title.strip() or d.head_noun or (d.kind or "agreement"),
        signatories=tuple(d.signatories),
        signed_on=signed_on,
        status=d.status,
        bilateral=bilateral,
        evidence=tuple(evidence[:3]),
        confidence=round(min(confidence, 0.99), 2),
    )


def unique_codes(codes: Iterable[str | None]) -> list[str]:
    return sorted({c for c in codes if c})
