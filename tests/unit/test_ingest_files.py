"""Reading the files ``pactwatch ingest`` takes: records with their file:line, broken ones
reported and never holding up the rest; the summary and its exit code."""

from __future__ import annotations

import io
import json
from pathlib import Path

from pactwatch_cli.ingesting import (
    BarProgress,
    Record,
    Rejection,
    Summary,
    collect_files,
    read_records,
)


def records(path: Path) -> list[Record | Rejection]:
    return list(read_records(path))


def test_jsonl_lines_become_records_and_a_broken_line_a_rejection(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"text": "one"}\n\n{"text": "two"\n{"text": "caf\xc3\xa9"}\n'
        b'{"text": "\xff"}\n[1, 2]\n'
    )
    found = records(path)
    assert [(type(r).__name__, r.origin) for r in found] == [
        ("Record", f"{path}:1"),
        ("Rejection", f"{path}:3"),
        ("Record", f"{path}:4"),
        ("Rejection", f"{path}:5"),
        ("Record", f"{path}:6"),  # valid JSON, not an article: the API says why
    ]
    assert isinstance(found[0], Record)
    assert json.loads(found[0].body) == {"text": "one"}
    assert isinstance(found[1], Rejection)
    assert found[1].reasons[0].startswith("invalid JSON")
    assert isinstance(found[3], Rejection)
    assert "UTF-8" in found[3].reasons[0]


def test_json_arrays_give_each_item_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[\n  {"text": "one"},\n\n  {"text": "two",\n   "title": "t"}\n]\n')
    found = records(path)
    assert [r.origin for r in found] == [f"{path}:2", f"{path}:4"]
    assert all(isinstance(r, Record) and r.kind == "article" for r in found)
    single = tmp_path / "one.json"
    single.write_text('\n{"text": "alone"}\n')
    assert [r.origin for r in records(single)] == [f"{single}:2"]


def test_a_json_syntax_error_stops_the_file_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"text": "one"},\n{"text": "two"}\n{"text": "three"}]')
    found = records(path)
    assert isinstance(found[0], Record)
    assert isinstance(found[1], Record)
    assert isinstance(found[2], Rejection)
    assert found[2].origin == f"{path}:3"
    assert "skipped" in found[2].reasons[0]
    trailing = tmp_path / "b.json"
    trailing.write_text('{"text": "one"} {"text": "two"}')
    assert isinstance(records(trailing)[0], Rejection)


def test_text_and_html_files_are_one_record_each(tmp_path: Path) -> None:
    text = tmp_path / "story.txt"
    text.write_text("date 2024-05-06 By Post\n\nA story.\n")
    (record,) = records(text)
    assert isinstance(record, Record)
    assert json.loads(record.body) == {"text": "date 2024-05-06 By Post\n\nA story.\n"}
    page = tmp_path / "page.HTML"
    page.write_bytes(b"<html><body><p>x</p></body></html>")
    (html,) = records(page)
    assert isinstance(html, Record)
    assert (html.kind, html.body) == ("html", page.read_bytes())
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    assert records(empty) == [Rejection(f"{empty}:1", ("empty file",))]


def test_directories_are_walked_and_odd_paths_reported(tmp_path: Path) -> None:
    (tmp_path / "d" / "e").mkdir(parents=True)
    (tmp_path / "d" / ".hidden").mkdir()
    for name in ("d/b.jsonl", "d/e/c.txt", "d/a.json", "d/e/p.htm", "d/.hidden/x.jsonl", "d/n.md"):
        (tmp_path / name).write_text("{}")
    (tmp_path / "x.pdf").write_text("%PDF")
    files, problems, skipped = collect_files(
        [tmp_path / "d", tmp_path / "x.pdf", tmp_path / "missing", tmp_path / "d/b.jsonl"]
    )
    assert skipped == [tmp_path / "d/n.md"]  # in a directory: left alone, and said so
    assert [f.relative_to(tmp_path).as_posix() for f in files] == [
        "d/a.json",
        "d/b.jsonl",
        "d/e/c.txt",
        "d/e/p.htm",
        "d/b.jsonl",
    ]
    assert [(p.origin, p.reasons[0].split(";")[0]) for p in problems] == [
        (str(tmp_path / "x.pdf"), "unsupported file type"),
        (str(tmp_path / "missing"), "no such file or directory"),
    ]


def test_the_summary_and_its_exit_code() -> None:
    clean = Summary(files=2, records=5, accepted=5, known=2)
    assert clean.exit_code == 0
    assert (
        clean.render() == "2 files, 5 records: 5 accepted (2 already known to ingest), 0 rejected"
    )
    rejected = Summary(
        files=1, records=3, accepted=2, rejected=[Rejection("a.jsonl:2", ("text: Field required",))]
    )
    assert rejected.exit_code == 1
    assert rejected.render().splitlines()[-1] == "  a.jsonl:2: text: Field required"
    down = Summary(files=1, records=1, unreachable="http://127.0.0.1:1: refused", not_sent=1)
    assert down.exit_code == 2
    others = Summary(files=1, records=1, accepted=1, skipped=["d/notes.md", "d/logo.png"])
    assert others.exit_code == 0
    assert others.render().splitlines()[1].startswith("skipped 2 files of other types")
    assert others.render().splitlines()[1].endswith(": d/notes.md, d/logo.png")


def test_the_progress_bar_draws_on_one_line() -> None:
    stream = io.StringIO()
    bar = BarProgress(200, stream)
    bar.advance(100, 3)
    bar.close()
    drawn = stream.getvalue()
    assert drawn.startswith("\r[" + "#" * 15 + "-" * 15 + "]  50% 3 records")
    assert drawn.endswith("\n")
