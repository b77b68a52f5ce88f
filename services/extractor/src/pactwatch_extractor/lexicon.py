"""The words the rules read: document nouns and their kinds, signing verbs, and the cues of
modality, negation, cancellation and reference to the past. Reviewed lists, not learned.
"""

from __future__ import annotations

import re

# Head noun (lower case) -> kind. None: a generic noun ("document", "instrument") whose kind
# comes from the context.
DOC_NOUNS: dict[str, str | None] = {
    "agreement": "agreement",
    "agreements": "agreement",
    "deal": "agreement",
    "deals": "agreement",
    "pact": "agreement",
    "pacts": "agreement",
    "accord": "agreement",
    "accords": "agreement",
    "arrangement": "agreement",
    "arrangements": "agreement",
    "compact": "agreement",
    "memorandum": "memorandum",
    "memoranda": "memorandum",
    "memorandums": "memorandum",
    "mou": "memorandum",
    "mous": "memorandum",
    "mou's": "memorandum",
    "treaty": "treaty",
    "treaties": "treaty",
    "declaration": "declaration",
    "declarations": "declaration",
    "protocol": "protocol",
    "protocols": "protocol",
    "charter": "charter",
    "roadmap": "roadmap",
    "roadmaps": "roadmap",
    "programme": "action_plan",
    "programmes": "action_plan",
    "program": "action_plan",
    "programs": "action_plan",
    "convention": "other",
    "conventions": "other",
    "communique": "other",
    "communiqué": "other",
    "contract": "other",
    "contracts": "other",
    "decisions": "other",
    "document": None,
    "documents": None,
    "instrument": None,
    "instruments": None,
}
# Nouns that are documents only with a qualifier before them.
QUALIFIED_DOC_NOUNS: dict[tuple[str, str], str] = {
    ("joint", "statement"): "declaration",
    ("joint", "statements"): "declaration",
    ("action", "plan"): "action_plan",
    ("action", "plans"): "action_plan",
    ("road", "map"): "roadmap",
    ("joint", "strategy"): "roadmap",
    ("council", "decisions"): "other",
    ("interstate", "decisions"): "other",
}
# A capitalised name's own word decides the kind ("Paris Accord", "Shusha Declaration").
NAMED_KIND = {
    "accord": "accord",
    "accords": "accord",
    "pact": "agreement",
    "compact": "agreement",
}

# Nouns counted as documents only when a signing verb governs them directly.
WEAK_DOC_NOUNS = frozenset(
    """
    document documents instrument instruments decisions programme programmes program
    programs contract contracts arrangement arrangements deal deals
    """.split()
)

# The "letter of intent" family and such: kind other.
LETTER_OF_INTENT = re.compile(r"\bletters? of intent\b", re.I)

SIGN_VERBS = frozenset(
    """
    issue issued issues issuing release released releases
    sign signs signed signing ink inks inked inking seal seals sealed sealing pen pens
    penned penning conclude
    concludes concluded concluding adopt adopts adopted adopting initial initialled
    initialed ratify ratified ratifies ratifying exchange exchanged exchanging endorse
    endorsed endorses approve approved approves renew renewed finalise finalised
    finalize finalized agree agreed reach reached suspend suspended suspends suspending
    terminate terminated scrap scrapped cancel cancelled canceled deny denied denies
    withdraw withdrew replace replaces replaced reactivate reactivated put puts witness
    witnessed witnesses oversee oversaw overseen hold held model modelled modeled cite
    cites recall recalls recalling mark marks celebrate celebrated discuss discussed
    negotiate negotiated negotiating
    """.split()
)

# Verb forms that report a signing.
SIGNING = frozenset(
    """
    sign signs signed signing ink inks inked inking seal seals sealed sealing pen pens
    penned penning conclude
    concludes concluded concluding adopt adopts adopted adopting finalise finalised
    finalize finalized
    """.split()
)
# "put their signatures/names to", "put pen to paper"
PUT_OBJECTS = frozenset(
    """
    signature signatures name names pen seal seals
    """.split()
)
WITNESS = frozenset(
    """
    witness witnessed witnesses witnessing oversee oversaw overseen attend attended
    attending preside presided chair chaired mark marked
    """.split()
)

PLANNED_VERBS = frozenset(
    """
    initial initialled initialed endorse endorsed endorses approve approved approves
    discuss discussed negotiate negotiated negotiating agree agreed consider considered
    draft drafted prepare prepared propose proposed review reviewed
    """.split()
)
CANCEL_VERBS = frozenset(
    """
    suspend suspended suspends suspending terminate terminated scrap scrapped cancel
    cancelled canceled deny denied denies withdraw withdrew postpone postponed abrogate
    abrogated annul annulled revoke revoked freeze froze frozen
    """.split()
)
PAST_VERBS = frozenset(
    """
    ratify ratified ratifies ratifying replace replaces replaced reactivate reactivated
    renew renewed model modelled modeled cite cites recall recalls recalling celebrate
    celebrated mark marks regularise regularises reaffirm reaffirms commemorate
    """.split()
)

MODAL_WORDS = frozenset(
    """
    will would shall 'll could may might should must can
    """.split()
)
PLAN_WORDS = frozenset(
    """
    expected expect expects due set plan plans planned planning scheduled poised ready
    intend intends intended aim aims hope hopes hoped seek seeks want wants wish going
    prepare preparing likely upcoming future proposed draft drafts possible potential
    prospective
    """.split()
)
NEGATIONS = frozenset(
    """
    not n't never no neither nor without
    """.split()
)

# Phrases that make a mention a plan, a cancellation or a reference to the past, wherever they
# stand in its clause.
PLANNED_PHRASES = re.compile(
    r"\b(under negotiation|being negotiated|negotiations on|negotiating|to be signed|"
    r"up for consideration|under consideration|under discussion|draft|"
    r"(?:substantive|substantively) (?:negotiations|concluded)|"
    r"conclusion of (?:the )?(?:substantive )?negotiations|in principle|"
    r"are to sign|is to sign|were to sign|was to sign|"
    r"will be signed|would be signed|is expected|are expected|was expected|were expected|"
    r"expected to|set to|due to|plan to|plans to|planned|scheduled|proposed|cabinet (?:has )?"
    r"(?:approved|endorsed|cleared)|approved the signing|endorsed|initialled|initialed|"
    r"awaiting signature|yet to be signed|not yet signed|revive|revival|still under way)\b",
    re.I,
)
CANCELLED_PHRASES = re.compile(
    r"\b(suspend\w*|in abeyance|called off|call off|cancel\w*|postpone\w*|scrapped|"
    r"terminat\w*|denied|denies|deny|denial|withdr[ae]w\w*|pulled out|put on hold|"
    r"no (?:such )?(?:agreement|memorandum|deal|document) (?:was|had been|has been) signed|"
    r"there was no (?:agreement|memorandum|deal)|annul\w*|abrogat\w*|revok\w*)\b",
    re.I,
)
PAST_PHRASES = re.compile(
    r"\b(ratif\w*|anniversary|replaces|replaced|replacing|modell?ed on|earlier|existing|"
    r"previous|previously|already|former|old|original|originally|ex-post|ex post|"
    r"reactivat\w*|renew|renews|renewed|renewing|renewals?|in force since|preamble|recall\w*|"
    r"cites?|cited|last year|years ago|decades? ago|since then|back in|was signed in|"
    r"signed in (?:19|20)\d\d|of (?:19|20)\d\d|regularis\w*|instruments of ratification|"
    r"similar accords?|similar agreements?|following similar|landmark|historic|"
    r"(?:in|over|during) the (?:last|past) (?:\w+ )?(?:years|decades))\b",
    re.I,
)
# "historic"/"landmark" describe new signings as often as old ones; weak past cues.
WEAK_PAST = frozenset(
    """
    landmark historic earlier already existing
    """.split()
)

DENIAL = re.compile(r"\b(denied|denies|deny|denial|dismissed reports|rejected reports)\b", re.I)

# Words before a document noun that describe it rather than name its subject.
NON_SUBJECT_MODIFIERS = frozenset(
    """
    bilateral new intergovernmental interdepartmental government governmental
    cooperation co-operation several various two three four five six seven eight nine
    ten key important major historic landmark long-awaited first second separate other
    further additional the a an joint formal preliminary broad sweeping comprehensive
    framework basic such similar this that these those its their our his her both all
    same signed series number package set raft slew host total legal binding legally
    non-binding draft relevant respective
    """.split()
)

NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "a dozen": 12,
    "dozen": 12,
    "a pair of": 2,
    "a couple of": 2,
}
VAGUE_COUNTS = frozenset(
    """
    several various series number package set raft slew host multiple some many dozens
    numerous
    """.split()
)
ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "one": 1,
    "another": 2,
    "other": 2,
    "latter": 2,
    "last": 9,
}

# Offices that mark a person as a signatory or leader of a country.
OFFICES = re.compile(
    r"\b(President|Vice[- ]President|Prime Minister|Premier|Deputy Prime Minister|Chancellor|"
    r"King|Queen|Emir|Amir|Sultan|Crown Prince|Sheikh|Prince|Monarch|Foreign Minister|"
    r"Minister(?: of [A-Z][\w ,&]+?)?|Defen[cs]e Minister|Defen[cs]e Secretary|Secretary of State|"
    r"Secretary|Ambassador|Envoy|Special Presidential Envoy|Governor|Chairman|Chair|Leader|"
    r"First Vice Foreign Minister|Vice Foreign Minister|Deputy Foreign Minister|"
    r"Supreme Leader|Head of State|Head of Government|leader)\b"
)

MONTH_WORDS = frozenset(
    """
    january february march april may june july august september october november
    december jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)
# Adverbs on a signing verb that put the signing before the reported event.
PAST_ADVERBS = frozenset(
    """
    already previously earlier originally once formerly first
    """.split()
)
RELATIVE_PAST = re.compile(
    r"\b(last (?:month|year|week|spring|summer|autumn|fall|winter)|(?:months|years|decades) ago|"
    r"a (?:month|year|decade) ago|in (?:19|20)\d\d)\b",
    re.I,
)

# Nouns that stand for any kind of document: in a reference back they take the kind of
# what they refer to ("four agreements ... The accords cover").
GENERIC_NOUNS = frozenset(
    """
    pact pacts deal deals accord accords document documents text texts instrument
    instruments
    """.split()
)
GENERIC_PLURALS = frozenset(
    """
    pacts deals accords documents texts instruments
    """.split()
)

# Past-reference verbs whose subject is the new document ("the treaty replaces the 1961
# treaty", "the pact is modelled on the Elysee Treaty").
SUBJECT_IS_NEW = frozenset(
    "replace replaces replacing model modelled modeled cite cites recall recalls".split()
)
# Nouns after "in/at/during" that say where or when, not what a document is about.
PLACES_AND_OCCASIONS = frozenset(
    """city capital town village palace house hall building headquarters office ceremony
    summit meeting session visit conference talks presence margins sidelines day morning
    evening afternoon night week month year""".split()
)

# Verbs by which a joint statement or a communique is adopted.
ISSUING = frozenset("issue issued issues issuing release released releases".split())

# Every word that can head a document mention: a cheap filter before the parse is read.
DOC_WORDS = frozenset(
    {*DOC_NOUNS, *(second for _, second in QUALIFIED_DOC_NOUNS), "letter", "letters"}
)
