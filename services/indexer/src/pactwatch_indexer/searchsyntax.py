"""The search language people type, parsed once and compiled safely for each backend.

A query is words (all must match), ``"quoted phrases"``, ``prefix*`` words, ``OR`` between
alternatives, ``-word`` / ``NOT word`` to exclude, and parentheses. Whatever the user types,
the compiled expression is built only from quoted words and our own operators, so no input can
reach the database as search-engine syntax: malformed input is a :class:`QueryError` that says
what is wrong, never a database error.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_TERMS = 32


class QueryError(ValueError):
    """A query that cannot be run; the message says what is wrong, for the person who typed it."""


@dataclass(frozen=True)
class Term:
    """One word, optionally a prefix (``negotiat*``)."""

    word: str
    prefix: bool = False


@dataclass(frozen=True)
class Phrase:
    """Words that must appear next to each other, in order; the last one maybe a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True)
class AllOf:
    """Every item must match and no excluded item may."""

    items: tuple[Node, ...]
    excluded: tuple[Node, ...] = ()


@dataclass(frozen=True)
class AnyOf:
    """At least one alternative must match."""

    items: tuple[Node, ...]


Node = Term | Phrase | AllOf | AnyOf

# Letters and digits are word characters; everything else separates words, as in the
# tokenizers of both backends (SQLite unicode61, PostgreSQL's default parser).
_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r'\s+|"[^"]*"?|\(|\)|[^\s"()]+')
_COMBINING = re.compile(r"[\u0300-\u036f]")


def fold(text: str) -> str:
    """Lower-case with accents removed, as the index stores words ("Türkiye" -> "turkiye")."""
    if text.isascii():
        return text.lower()
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text)).lower()


def words_of(text: str) -> list[str]:
    """The searchable words of ``text``, folded."""
    return _WORD.findall(fold(text))


@dataclass
class _Token:
    kind: str  # "(" ")" "or" "not" "word" "phrase"
    text: str = ""
    negated: bool = False


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(query):
        raw = match.group()
        if raw.isspace():
            continue
        if raw.startswith('"'):
            if len(raw) == 1 or not raw.endswith('"'):
                raise QueryError('unbalanced quote: a phrase opened with " is never closed')
            out.append(_Token("phrase", raw[1:-1]))
        elif raw in "()":
            out.append(_Token(raw))
        elif raw in ("OR", "|"):
            out.append(_Token("or"))
        elif raw == "AND":
            continue  # words are joined by AND anyway
        elif raw == "NOT":
            out.append(_Token("not"))
        elif raw == "-":
            # "-" right before a phrase or a group excludes it; alone it is only a dash
            if query[match.end() : match.end() + 1] in ('"', "("):
                out.append(_Token("not"))
        elif raw.startswith("-"):
            out.append(_Token("not"))
            out.append(_Token("word", raw[1:]))
        else:
            out.append(_Token("word", raw))
    return out


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.terms = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def parse(self) -> Node:
        node = self.alternatives()
        token = self.peek()
        if token is not None:
            if token.kind == ")":
                raise QueryError("unbalanced parentheses: a ')' has no matching '('")
            raise QueryError(f"unexpected {token.kind!r}")
        return node

    def alternatives(self) -> Node:
        items = [self.conjunction()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", ")"):
                raise QueryError("OR needs something to search for on both sides")
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def conjunction(self) -> Node:
        items: list[Node] = []
        excluded: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in ("or", ")"):
            if token.kind == "not":
                self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind in ("or", ")", "not"):
                    raise QueryError("NOT (or '-') must be followed by what to exclude")
                node = self.atom()
                if node is not None:
                    excluded.append(node)
            else:
                node = self.atom()
                if node is not None:
                    items.append(node)
        if not items:
            if excluded:
                raise QueryError("a query cannot only exclude: add a word to search for")
            token = self.peek()
            if token is None and self.pos == 0:
                raise QueryError("the query is empty")
            if token is not None and token.kind == "or":
                raise QueryError("OR needs something to search for on both sides")
            raise QueryError("the query has no word to search for")
        if len(items) == 1 and not excluded:
            return items[0]
        return AllOf(tuple(items), tuple(excluded))

    def atom(self) -> Node | None:
        token = self.take()
        if token.kind == "(":
            nxt = self.peek()
            if nxt is None:
                raise QueryError("unbalanced parentheses: a '(' is never closed")
            if nxt.kind == ")":
                raise QueryError("empty parentheses: put words between '(' and ')'")
            node = self.alternatives()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise QueryError("unbalanced parentheses: a '(' is never closed")
            self.take()
            return node
        if token.kind == "phrase":
            words = words_of(token.text)
            if not words:
                return None
            self.count(len(words))
            return Term(words[0]) if len(words) == 1 else Phrase(tuple(words))
        if token.kind == "word":
            prefix = token.text.endswith("*")
            words = words_of(token.text)
            if not words:
                return None  # punctuation only: it separates words and matches nothing
            self.count(len(words))
            # "Azerbaijan-Turkey" is a phrase of two words to the tokenizers too
            return Term(words[0], prefix) if len(words) == 1 else Phrase(tuple(words), prefix)
        raise QueryError(f"unexpected {token.kind!r}")

    def count(self, n: int) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise QueryError(f"too many words: a query may have at most {MAX_TERMS}")


def parse(query: str) -> Node:
    """Parse what a person typed; raise :class:`QueryError` saying what is wrong."""
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(
            f"the query is {len(query)} characters long; the limit is {MAX_QUERY_CHARS}"
        )
    tokens = _tokens(query)
    if not tokens:
        raise QueryError("the query is empty")
    return _Parser(tokens).parse()


def has_prefix(node: Node) -> bool:
    """Whether any word of the query is a prefix (``negotiat*``)."""
    if isinstance(node, Term | Phrase):
        return node.prefix
    items = node.items + node.excluded if isinstance(node, AllOf) else node.items
    return any(has_prefix(item) for item in items)


# --- compilers --------------------------------------------------------------------------


def to_fts5(node: Node) -> str:
    """SQLite FTS5 MATCH expression; every word is a quoted string, so it cannot be syntax."""
    if isinstance(node, Term):
        return f'"{node.word}"' + (" *" if node.prefix else "")
    if isinstance(node, Phrase):
        return '"' + " ".join(node.words) + '"' + (" *" if node.prefix else "")
    if isinstance(node, AnyOf):
        return "(" + " OR ".join(to_fts5(item) for item in node.items) + ")"
    expr = "(" + " AND ".join(to_fts5(item) for item in node.items) + ")"
    for item in node.excluded:
        expr = f"({expr} NOT {to_fts5(item)})"
    return expr


def to_tsquery(node: Node) -> str:
    """PostgreSQL ``to_tsquery`` text; every word is a single-quoted lexeme of letters/digits."""
    if isinstance(node, Term):
        return f"'{node.word}'" + (":*" if node.prefix else "")
    if isinstance(node, Phrase):
        return (
            "(" + " <-> ".join(f"'{w}'" for w in node.words) + (":*" if node.prefix else "") + ")"
        )
    if isinstance(node, AnyOf):
        return "(" + " | ".join(to_tsquery(item) for item in node.items) + ")"
    parts = [to_tsquery(item) for item in node.items]
    parts += [f"!{to_tsquery(item)}" for item in node.excluded]
    return "(" + " & ".join(parts) + ")"
