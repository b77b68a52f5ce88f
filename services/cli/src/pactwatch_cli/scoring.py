"""Scoring extraction against a labelled corpus. Pure functions over plain dicts.

Alertable agreements (status signed and bilateral) are matched one to one within an article
on (parties, kind, date within a day when both are given; a year alone matches any date in
that year). Every labelled record is also aligned with its most similar predicted record
(title, kind, date, parties) to measure party, kind, status and title accuracy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

Record = Mapping[str, Any]

_STOP = frozenset("a an the of on in for and or to with between by from at".split())


def title_tokens(title: str | None) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", (title or "").lower()) if w not in _STOP]


def token_f1(a: str | None, b: str | None) -> float:
    ta, tb = title_tokens(a), title_tokens(b)
    if not ta and not tb:
        return 1.0
    if not ta or not tb:
        return 0.0
    common = 0
    pool = list(tb)
    for t in ta:
        if t in pool:
            pool.remove(t)
            common += 1
    if common == 0:
        return 0.0
    p, r = common / len(ta), common / len(tb)
    return 2 * p * r / (p + r)


def dates_match(a: str | None, b: str | None) -> bool:
    """Within a day when both are given; a year alone matches any date of that year."""
    if not a or not b:
        return True
    if len(a) == 4 or len(b) == 4:
        return a[:4] == b[:4]
    try:
        return abs((date.fromisoformat(a) - date.fromisoformat(b)).days) <= 1
    except ValueError:
        return False


def parties_of(record: Record) -> tuple[str | None, ...]:
    codes = sorted(p for p in record.get("parties", []) if p)
    nulls = [None] * sum(1 for p in record.get("parties", []) if p is None)
    return (*codes, *nulls)


def alertable(record: Record) -> bool:
    return record.get("status") == "signed" and bool(record.get("bilateral"))


def _match_key_ok(gold: Record, pred: Record) -> bool:
    return (
        parties_of(gold) == parties_of(pred)
        and gold.get("kind") == pred.get("kind")
        and dates_match(gold.get("signed_on"), pred.get("signed_on"))
    )


def match_alertable(
    gold: Sequence[Record], pred: Sequence[Record]
) -> tuple[list[tuple[Record, Record]], list[Record], list[Record]]:
    """One-to-one matching of alertable records; the best titles pair first."""
    g = [r for r in gold if alertable(r)]
    p = [r for r in pred if alertable(r)]
    pairs = sorted(
        (
            (token_f1(a.get("title"), b.get("title")), i, j)
            for i, a in enumerate(g)
            for j, b in enumerate(p)
            if _match_key_ok(a, b)
        ),
        reverse=True,
    )
    used_g: set[int] = set()
    used_p: set[int] = set()
    matched: list[tuple[Record, Record]] = []
    for _, i, j in pairs:
        if i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        matched.append((g[i], p[j]))
    missed = [r for i, r in enumerate(g) if i not in used_g]
    false_alarms = [r for j, r in enumerate(p) if j not in used_p]
    return matched, missed, false_alarms


def _similarity(gold: Record, pred: Record) -> float:
    score = token_f1(gold.get("title"), pred.get("title"))
    score += 0.5 if gold.get("kind") == pred.get("kind") else 0.0
    both_dated = gold.get("signed_on") and pred.get("signed_on")
    score += (
        0.4 if both_dated and dates_match(gold.get("signed_on"), pred.get("signed_on")) else 0.0
    )
    gp = {p for p in gold.get("parties", []) if p}
    pp = {p for p in pred.get("parties", []) if p}
    score += 0.3 * len(gp & pp) / max(1, len(gp | pp))
    return score


def align_all(
    gold: Sequence[Record], pred: Sequence[Record], threshold: float = 0.75
) -> list[tuple[Record, Record | None]]:
    """Each labelled record with its most similar predicted record (one to one), or None."""
    pairs = sorted(
        ((_similarity(a, b), i, j) for i, a in enumerate(gold) for j, b in enumerate(pred)),
        reverse=True,
    )
    used_g: set[int] = set()
    used_p: set[int] = set()
    aligned: dict[int, Record] = {}
    for score, i, j in pairs:
        if score < threshold or i in used_g or j in used_p:
            continue
        used_g.add(i)
        used_p.add(j)
        aligned[i] = pred[j]
    return [(g, aligned.get(i)) for i, g in enumerate(gold)]


@dataclass
class Score:
    gold_alertable: int = 0
    pred_alertable: int = 0
    matched: int = 0
    aligned: int = 0
    labelled: int = 0
    party_ok: int = 0
    kind_ok: int = 0
    status_ok: int = 0
    title_f1: float = 0.0
    wrong_case_alarms: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched / self.pred_alertable if self.pred_alertable else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold_alertable if self.gold_alertable else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "alerts": {
                "precision": round(self.precision, 3),
                "recall": round(self.recall, 3),
                "f1": round(self.f1, 3),
                "gold": self.gold_alertable,
                "predicted": self.pred_alertable,
                "matched": self.matched,
            },
            "party_pair_accuracy": _ratio(self.party_ok, self.aligned),
            "kind_accuracy": _ratio(self.kind_ok, self.aligned),
            "status_accuracy": _ratio(self.status_ok, self.labelled),
            "status_accuracy_aligned": _ratio(self.status_ok, self.aligned),
            "title_token_f1": _ratio(self.title_f1, self.aligned),
            "labelled_records": self.labelled,
            "aligned_records": self.aligned,
            "alerts_from_non_alertable_cases": self.wrong_case_alarms,
        }


def _ratio(a: float, b: int) -> float:
    return round(a / b, 3) if b else 1.0


def score(labels: Iterable[Record], predictions: Mapping[str, Sequence[Record]]) -> Score:
    """Score every labelled article against the predicted records of the same id."""
    s = Score()
    for label in labels:
        article = label["id"]
        gold = label.get("agreements", [])
        pred = list(predictions.get(article, []))
        matched, missed, false_alarms = match_alertable(gold, pred)
        s.gold_alertable += sum(1 for r in gold if alertable(r))
        s.pred_alertable += sum(1 for r in pred if alertable(r))
        s.matched += len(matched)
        s.misses.extend({"id": article, **dict(r)} for r in missed)
        s.false_alarms.extend({"id": article, **dict(r)} for r in false_alarms)
        for g, p in align_all(gold, pred):
            s.labelled += 1
            if p is None:
                continue
            s.aligned += 1
            s.party_ok += parties_of(g) == parties_of(p)
            s.kind_ok += g.get("kind") == p.get("kind")
            s.status_ok += g.get("status") == p.get("status")
            s.title_f1 += token_f1(g.get("title"), p.get("title"))
            if alertable(p) and not alertable(g):
                s.wrong_case_alarms += 1
    return s
