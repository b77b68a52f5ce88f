"""``pactwatch ingest PATH...`` against the ingest service as a real process: JSONL with a
broken line, seed-format text, JSON arrays, HTML files, directories, exit codes."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pactwatch_cli import ingesting
from pactwatch_cli.ingesting import ingest_paths

from tests.integration.test_ingest_harness import (
    PARAGRAPHS,
    ingest_service,
    page_html,
    read_ingested,
)
from tests.support import RedisServer, Service, free_port


def article(n: int, **fields: object) -> dict[str, object]:
    return {
        "id": f"t{n:03d}",
        "url": f"https://chronicle.example/story/{n}",
        "source": "Riverside Chronicle",
        "published": "2024-05-06",
        "title": f"Story {n}",
        "text": PARAGRAPHS[n % 3],
        **fields,
    }


SEED_STYLE = (
    " date 2024-05-06 By Riverside Chronicle\n\n\n\n\nBy A. Reporter\n\n"
    f"{PARAGRAPHS[0]}\n\n{PARAGRAPHS[1]}\n\n{PARAGRAPHS[2]}\n"
)


@pytest.fixture(scope="module")
def ingest(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    with ingest_service(
        redis_server.url,
        tmp_path_factory.mktemp("ingest-files"),
        PACTWATCH_MAX_BATCH="3",
        PACTWATCH_MAX_BODY_BYTES="32768",
        PACTWATCH_FEEDS_ENABLED="false",
    ) as service:
        yield service


@pytest.fixture
def url(ingest: Service, redis_url: str) -> str:
    return ingest.base_url


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="pactwatch")
    ingesting.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


def test_a_jsonl_file_with_a_broken_line_sends_the_good_ones(
    url: str, redis_client: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [json.dumps(article(n)) for n in range(7)]
    lines[3] = '{"id": "t003", "text": "cut off'
    lines.insert(5, "")  # blank lines are not records
    path = tmp_path / "day.jsonl"
    path.write_text("\n".join(lines) + "\n")

    code = run_cli(["ingest", str(path), "--url", url, "--batch", "10"])

    out = capsys.readouterr()
    assert code == 1
    assert sorted(m.article.id for m in read_ingested(redis_client)) == [
        "t000",
        "t001",
        "t002",
        "t004",
        "t005",
        "t006",
    ]
    assert "1 file, 7 records: 6 accepted, 1 rejected" in out.out
    assert f"{path}:4: invalid JSON: Unterminated string" in out.out
    assert f"read {path}: 6 records" in out.err  # plain progress: stderr is not a terminal


def test_a_seed_style_text_file_gives_its_date_and_source(
    url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "report.txt"
    path.write_text(SEED_STYLE)
    summary = ingest_paths([path], url)
    assert (summary.accepted, summary.rejected, summary.exit_code) == (1, [], 0)
    (message,) = read_ingested(redis_client)
    assert message.article.source == "Riverside Chronicle"
    assert str(message.article.published) == "2024-05-06"
    assert message.article.text == "\n\n".join(PARAGRAPHS)
    assert "By A. Reporter" not in message.article.text


def test_json_arrays_report_the_line_of_a_bad_item(
    url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    items = [article(1), {"title": "no text here"}, article(2, published="2999-12-31")]
    good = tmp_path / "batch.json"
    good.write_text(json.dumps(items, indent=2))
    single = tmp_path / "one.json"
    single.write_text(json.dumps(article(3)))
    broken = tmp_path / "broken.json"
    broken.write_text("[\n" + json.dumps(article(4)) + ",\n{oops}\n]")

    summary = ingest_paths([good, single, broken], url)

    assert (summary.records, summary.accepted) == (6, 4)
    reasons = {r.origin: r.reasons for r in summary.rejected}
    opening = [n for n, line in enumerate(good.read_text().splitlines(), 1) if line == "  {"]
    assert reasons[f"{good}:{opening[1]}"] == ("text: Field required",)  # the second item
    assert f"{broken}:3" in reasons
    assert "the rest of the file is skipped" in reasons[f"{broken}:3"][0]
    by_id = {m.article.id: m.article for m in read_ingested(redis_client)}
    assert set(by_id) == {"t001", "t002", "t003", "t004"}  # t004 came before the syntax error
    assert by_id["t002"].published is None  # the future date is unknown, with its reason
    assert summary.exit_code == 1


def test_a_directory_is_walked_recursively(
    url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    (tmp_path / "2024" / "05").mkdir(parents=True)
    (tmp_path / ".cache").mkdir()
    (tmp_path / "2024" / "a.jsonl").write_text("\n".join(json.dumps(article(n)) for n in range(4)))
    (tmp_path / "2024" / "05" / "b.txt").write_text(SEED_STYLE)
    (tmp_path / "2024" / "05" / "c.html").write_bytes(page_html("Blue River memorandum"))
    (tmp_path / "2024" / "05" / "d.json").write_text(json.dumps([article(9)]))
    (tmp_path / "README.md").write_text("not an article")
    (tmp_path / ".cache" / "old.jsonl").write_text(json.dumps(article(99)))

    summary = ingest_paths([tmp_path], url, batch=10)  # the service takes 3 per request

    assert (summary.files, summary.records, summary.accepted) == (4, 7, 7)
    assert summary.exit_code == 0
    ingested = read_ingested(redis_client)
    assert len(ingested) == 7
    titles = {m.article.title for m in ingested}
    assert "Blue River memorandum" in titles  # extracted from the HTML file
    assert "Story 99" not in titles  # hidden directories are skipped

    again = ingest_paths([tmp_path], url, batch=10)
    # ids are deterministic (the seed text's from its text): all seven are known the 2nd time
    assert (again.accepted, again.known, again.exit_code) == (7, 7, 0)
    assert "7 accepted (7 already known to ingest)" in again.render()


def test_oversized_records_and_unknown_files_are_rejected_by_name(
    url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps(article(1)),
                json.dumps(article(2, text="x " * 20000)),  # 40 KB: over the 32 KB body limit
                json.dumps(article(3)),
            ]
        )
    )
    odd = tmp_path / "notes.pdf"
    odd.write_bytes(b"%PDF")
    missing = tmp_path / "nowhere.jsonl"

    summary = ingest_paths([path, odd, missing], url, batch=10)

    assert summary.accepted == 2
    reasons = {r.origin: r.reasons[0] for r in summary.rejected}
    assert "HTTP 413" in reasons[f"{path}:2"]
    assert reasons[str(odd)].startswith("unsupported file type")
    assert reasons[str(missing)] == "no such file or directory"
    assert sorted(m.article.id for m in read_ingested(redis_client)) == ["t001", "t003"]


def test_an_unreachable_api_exits_with_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "day.jsonl"
    path.write_text(json.dumps(article(1)))
    nobody = f"http://127.0.0.1:{free_port()}"
    code = run_cli(["ingest", str(path), "--url", nobody])
    out = capsys.readouterr().out
    assert code == 2
    assert "ingest API unreachable" in out
    assert "1 record read but not sent" in out
