"""``pactwatch extract``: articles as ingest takes them, through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pactwatch_cli.__main__ import main


def test_extract_reads_articles_as_ingest_takes_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    articles = tmp_path / "articles.jsonl"
    lines = [
        # no id, an ISO timestamp, HTML in the text: what POST /articles accepts
        {
            "title": "Kenya, Uganda sign deal",
            "url": "https://wire.example/ke-ug",
            "published": "2024-03-12T09:30:00+03:00",
            "text": "<p>NAIROBI, March 12 (Wire) - Kenya and Uganda on Monday signed an "
            "agreement on cross-border trade.</p>",
        },
        {"id": "second", "text": "No agreement here, only a trade fair."},
    ]
    articles.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n", "utf-8")
    assert main(["extract", "--input", str(articles)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["id"] for row in rows][1] == "second"
    assert rows[0]["id"]  # made as ingest makes it
    (record,) = rows[0]["agreements"]
    assert record["parties"] == ["KEN", "UGA"]
    assert record["signed_on"] == "2024-03-11"
    assert rows[1]["agreements"] == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"title": "no text"}', ":1: not an article: text: Field required"),
        ('{"text": "<p> </p>"}', ":1: text: no article text left"),
        ("not json", ":1: not an article: article: Invalid JSON"),
    ],
)
def test_a_bad_line_stops_with_its_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    articles = tmp_path / "articles.jsonl"
    articles.write_text(line + "\n", "utf-8")
    with pytest.raises(SystemExit) as stopped:
        main(["extract", "--input", str(articles)])
    assert str(stopped.value).startswith(str(articles) + message)


def test_a_missing_input_file_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["extract", "--input", str(tmp_path / "missing.jsonl")]) == 2
    assert "missing.jsonl: no such file" in capsys.readouterr().err
