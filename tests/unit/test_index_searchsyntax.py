"""The search language: what people type, parsed once and compiled safely for both backends."""

from __future__ import annotations

import random

import pytest
from pactwatch_indexer.searchsyntax import (
    MAX_QUERY_CHARS,
    MAX_TERMS,
    AllOf,
    AnyOf,
    Phrase,
    QueryError,
    Term,
    fold,
    parse,
    to_fts5,
    to_tsquery,
)


@pytest.mark.parametrize(
    ("typed", "fts5", "tsquery"),
    [
        ("shusha", '"shusha"', "'shusha'"),
        ("Shusha Declaration", '("shusha" AND "declaration")', "('shusha' & 'declaration')"),
        ('"allied relations"', '"allied relations"', "('allied' <-> 'relations')"),
        ("negotiat*", '"negotiat" *', "'negotiat':*"),
        ("alliance OR treaty", '("alliance" OR "treaty")', "('alliance' | 'treaty')"),
        ("alliance | treaty", '("alliance" OR "treaty")', "('alliance' | 'treaty')"),
        ("signed -memorandum", '(("signed") NOT "memorandum")', "('signed' & !'memorandum')"),
        ("signed NOT memorandum", '(("signed") NOT "memorandum")', "('signed' & !'memorandum')"),
        ("a AND b", '("a" AND "b")', "('a' & 'b')"),
        (
            "(gas OR oil) pipeline",
            '(("gas" OR "oil") AND "pipeline")',
            "(('gas' | 'oil') & 'pipeline')",
        ),
        (
            'accord -"trade deal"',
            '(("accord") NOT "trade deal")',
            "('accord' & !('trade' <-> 'deal'))",
        ),
        # a hyphenated or apostrophised word is a phrase to both tokenizers
        ("Azerbaijan-Turkey", '"azerbaijan turkey"', "('azerbaijan' <-> 'turkey')"),
        ("Türkiye's", '"turkiye s"', "('turkiye' <-> 's')"),
        # a dash alone is punctuation, not an exclusion
        ("Baku - Ankara", '("baku" AND "ankara")', "('baku' & 'ankara')"),
    ],
)
def test_compiles_what_people_type(typed: str, fts5: str, tsquery: str) -> None:
    node = parse(typed)
    assert to_fts5(node) == fts5
    assert to_tsquery(node) == tsquery


def test_parse_builds_the_tree() -> None:
    assert parse('(a OR "b c") -d e*') == AllOf(
        (AnyOf((Term("a"), Phrase(("b", "c")))), Term("e", prefix=True)), (Term("d"),)
    )


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "the query is empty"),
        ("   ", "the query is empty"),
        ('"shusha declaration', "unbalanced quote"),
        ('a "b" "c', "unbalanced quote"),
        ("(gas OR oil", "unbalanced parentheses: a '(' is never closed"),
        ("gas OR oil)", "unbalanced parentheses: a ')' has no matching '('"),
        ("()", "empty parentheses"),
        ("gas OR", "OR needs something to search for on both sides"),
        ("OR gas", "OR needs something to search for on both sides"),
        ("gas OR OR oil", "OR needs something to search for on both sides"),
        ("-gas", "a query cannot only exclude"),
        ("NOT gas", "a query cannot only exclude"),
        ("gas NOT", "NOT (or '-') must be followed by what to exclude"),
        ("!!! ???", "the query has no word to search for"),
        ("AND", "the query is empty"),
        ("x" * (MAX_QUERY_CHARS + 1), f"the limit is {MAX_QUERY_CHARS}"),
        (" ".join(["w"] * (MAX_TERMS + 1)), f"at most {MAX_TERMS}"),
    ],
)
def test_bad_queries_say_what_is_wrong(typed: str, message: str) -> None:
    with pytest.raises(QueryError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(typed)


def test_fold_removes_accents_and_case() -> None:
    assert fold("Türkiye") == "turkiye"
    assert fold("São Tomé") == "sao tome"
    assert fold("ASCII") == "ascii"


def test_any_input_parses_or_fails_cleanly_and_compiles_to_quoted_words_only() -> None:
    """Fuzz: whatever is typed, either a QueryError or an expression made only of quoted
    letter/digit words and our own operators (so the database never sees user syntax)."""
    alphabet = "ab \"()*-:^+|.,!?'NOTR\\\x00é"
    rng = random.Random(20211027)
    for _ in range(3000):
        typed = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14)))
        try:
            node = parse(typed)
        except QueryError:
            continue
        fts5 = to_fts5(node)
        # strip the quoted words: what is left may only be our operators
        outside = "".join(part for i, part in enumerate(fts5.split('"')) if i % 2 == 0)
        assert set(outside) <= set("() ANDOT*"), (typed, fts5)
        for i, part in enumerate(fts5.split('"')):
            if i % 2:
                assert all(ch.isalnum() or ch == " " for ch in part), (typed, fts5)
        tsq = to_tsquery(node)
        outside_ts = "".join(part for i, part in enumerate(tsq.split("'")) if i % 2 == 0)
        assert set(outside_ts) <= set("()&|!<->:* "), (typed, tsq)
