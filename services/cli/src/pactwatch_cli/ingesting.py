"""``pactwatch ingest PATH...``: articles from files and directories into the ingest API.

Reads JSONL (the corpus format), JSON (an array of articles, or one), plain text in the
seed's format (first line ``date YYYY-MM-DD By Source``: ingest reads that header) and HTML
pages (ingest extracts the article), and directories of them, recursively. Records are
posted in batches; a broken record is reported with its file and line and never holds up
the good ones around it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TextIO

DEFAULT_INGEST_URL = "http://127.0.0.1:8000"
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".txt": "text"}
SUFFIXES |= {".html": "html", ".htm": "html", ".xhtml": "html"}
MAX_BATCH_BYTES = 8 * 1024 * 1024
"""A batch stops growing here, well under the ingest API's body limit (32 MB by default)."""
BUSY_RETRIES = 10
"""Times a batch is offered again while ingest answers 429/503 (back-pressure)."""

EXIT_CODES = """\
exit status:
  0    every record was accepted (including articles ingest already knew)
  1    some record or file was rejected (each is listed with file:line and the reason)
  2    the ingest API could not be reached
"""


def ingest_url_from(explicit: str | None) -> str:
    """``--url``, else $PACTWATCH_INGEST_URL, else the local default."""
    return (explicit or os.environ.get("PACTWATCH_INGEST_URL") or DEFAULT_INGEST_URL).rstrip("/")


def auth_headers() -> dict[str, str]:
    """The API key from $PACTWATCH_API_KEY, for an ingest API that requires one."""
    key = os.environ.get("PACTWATCH_API_KEY", "").strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def key_hint(status: int) -> str:
    """What to do about a 401 or 403 answer (else nothing): the commands send the key in
    $PACTWATCH_API_KEY."""
    if status not in (401, 403):
        return ""
    if not os.environ.get("PACTWATCH_API_KEY", "").strip():
        return " (no API key sent: set PACTWATCH_API_KEY; `make run` exports it in .pactwatch/env)"
    return " (the key in PACTWATCH_API_KEY was not accepted)"


# --- what is read --------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One item to post: JSON bytes of an article, or the bytes of an HTML page."""

    origin: str
    kind: Literal["article", "html"]
    body: bytes


@dataclass(frozen=True)
class Rejection:
    """A record or a file that did not go in, and why."""

    origin: str
    reasons: tuple[str, ...]


@dataclass
class Summary:
    """What one ``ingest_paths`` run did."""

    files: int = 0
    records: int = 0
    accepted: int = 0
    known: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    unreachable: str | None = None
    not_sent: int = 0
    skipped: list[str] = field(default_factory=list)
    """Files found in directories whose type ingest does not read."""

    @property
    def exit_code(self) -> int:
        """0 all accepted, 1 something rejected, 2 the API could not be reached."""
        if self.unreachable:
            return 2
        return 1 if self.rejected else 0

    def render(self) -> str:
        """The summary for people: counts, then each rejection with file:line."""
        known = f" ({self.known} already known to ingest)" if self.known else ""
        lines = [
            f"{self.files} file{_s(self.files)}, {self.records} record{_s(self.records)}: "
            f"{self.accepted} accepted{known}, {len(self.rejected)} rejected"
        ]
        if self.unreachable:
            lines.append(
                f"ingest API unreachable: {self.unreachable}; stopped with {self.not_sent} "
                f"record{_s(self.not_sent)} read but not sent"
            )
        if self.skipped:
            shown = ", ".join(self.skipped[:5]) + (", …" if len(self.skipped) > 5 else "")
            lines.append(
                f"skipped {len(self.skipped)} file{_s(len(self.skipped))} of other types in "
                f"directories (read: {', '.join(sorted(SUFFIXES))}): {shown}"
            )
        if self.rejected:
            lines.append("rejected:")
            lines.extend(f"  {r.origin}: {'; '.join(r.reasons)}" for r in self.rejected)
        return "\n".join(lines)


def collect_files(
    paths: Sequence[str | Path],
) -> tuple[list[Path], list[Rejection], list[Path]]:
    """The files to read, directories walked recursively (hidden entries skipped, sorted);
    a named path that is missing or of an unknown type is a rejection. Also: the files of
    other types found in directories, left alone (a README beside the data)."""
    files: list[Path] = []
    problems: list[Rejection] = []
    skipped: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
                if not found.is_file() or hidden:
                    continue
                (files if found.suffix.lower() in SUFFIXES else skipped).append(found)
        elif path.is_file():
            if path.suffix.lower() in SUFFIXES:
                files.append(path)
            else:
                expected = ", ".join(sorted(SUFFIXES))
                problems.append(
                    Rejection(str(path), (f"unsupported file type; expected one of {expected}",))
                )
        else:
            problems.append(Rejection(str(path), ("no such file or directory",)))
    return files, problems, skipped


def read_records(path: Path) -> Iterator[Record | Rejection]:
    """The records of one file, each with its origin (``file:line``), or what is wrong."""
    kind = SUFFIXES[path.suffix.lower()]
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield Rejection(str(path), (f"cannot read: {exc.strerror or exc}",))
        return
    if kind == "jsonl":
        yield from _jsonl(path, data)
    elif kind == "json":
        yield from _json(path, data)
    elif kind == "text":
        yield from _text(path, data)
    elif not data.strip():
        yield Rejection(f"{path}:1", ("empty file",))
    else:
        yield Record(f"{path}:1", "html", data)


def _jsonl(path: Path, data: bytes) -> Iterator[Record | Rejection]:
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line = raw.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield Rejection(origin, (f"not valid UTF-8 (byte {exc.start + 1})",))
            continue
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            yield Rejection(origin, (f"invalid JSON: {exc.msg} (column {exc.colno})",))
            continue
        yield Record(origin, "article", text.strip().encode())


def _json(path: Path, data: bytes) -> Iterator[Record | Rejection]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Rejection(f"{path}:1", (f"not valid UTF-8 (byte {exc.start + 1})",))
        return
    decoder = json.JSONDecoder()
    at = _skip_space(text, 0)
    if at == len(text):
        yield Rejection(f"{path}:1", ("empty file",))
        return
    try:
        if text[at] != "[":
            _, end = decoder.raw_decode(text, at)
            if _skip_space(text, end) != len(text):
                raise json.JSONDecodeError("extra data after the article", text, end)
            yield Record(f"{path}:{_line(text, at)}", "article", text[at:end].encode())
            return
        at = _skip_space(text, at + 1)
        while text[at : at + 1] != "]":
            _, end = decoder.raw_decode(text, at)
            yield Record(f"{path}:{_line(text, at)}", "article", text[at:end].encode())
            at = _skip_space(text, end)
            if text[at : at + 1] == ",":
                at = _skip_space(text, at + 1)
            elif text[at : at + 1] != "]":
                raise json.JSONDecodeError("expected ',' or ']' between articles", text, at)
    except json.JSONDecodeError as exc:
        # what came before the error was sent; what follows cannot be told apart
        yield Rejection(
            f"{path}:{exc.lineno}",
            (f"invalid JSON: {exc.msg} (column {exc.colno}); the rest of the file is skipped",),
        )


def _text(path: Path, data: bytes) -> Iterator[Record | Rejection]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield Rejection(f"{path}:1", (f"not valid UTF-8 (byte {exc.start + 1})",))
        return
    if not text.strip():
        yield Rejection(f"{path}:1", ("empty file",))
        return
    yield Record(f"{path}:1", "article", json.dumps({"text": text}).encode())


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _line(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


# --- progress --------------------------------------------------------------------------------


class Progress(Protocol):
    def advance(self, done_bytes: int, records: int) -> None: ...

    def file_done(self, path: Path, records: int) -> None: ...

    def close(self) -> None: ...


class BarProgress:
    """A one-line bar on a terminal (stderr), redrawn at most ten times a second."""

    def __init__(self, total_bytes: int, stream: TextIO) -> None:
        self._total = max(total_bytes, 1)
        self._stream = stream
        self._done = 0
        self._records = 0
        self._drawn = 0.0

    def advance(self, done_bytes: int, records: int) -> None:
        self._done += done_bytes
        self._records += records
        now = time.monotonic()
        if now - self._drawn >= 0.1:
            self._drawn = now
            self._draw()

    def file_done(self, path: Path, records: int) -> None:
        self._draw()

    def _draw(self) -> None:
        share = min(1.0, self._done / self._total)
        filled = int(share * 30)
        bar = "#" * filled + "-" * (30 - filled)
        self._stream.write(f"\r[{bar}] {share:4.0%} {self._records} records")
        self._stream.flush()

    def close(self) -> None:
        self._draw()
        self._stream.write("\n")
        self._stream.flush()


class LineProgress:
    """Plain progress for logs and pipes: one line per file read."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def advance(self, done_bytes: int, records: int) -> None:
        return None

    def file_done(self, path: Path, records: int) -> None:
        self._stream.write(f"read {path}: {records} record{_s(records)}\n")
        self._stream.flush()

    def close(self) -> None:
        return None


# --- posting ------------------------------------------------------------------------------


class UnreachableError(Exception):
    """The ingest API did not answer at all."""


class _Poster:
    """Posts batches to the ingest API and records each record's fate in the summary."""

    def __init__(self, ingest_url: str, summary: Summary, client: Any) -> None:
        self._url = ingest_url
        self._summary = summary
        self._client = client

    def articles(self, batch: list[Record]) -> None:
        body = b"[" + b",".join(r.body for r in batch) + b"]"
        response = self._post("/articles", body, "application/json")
        if response.status_code == 413 and len(batch) > 1:
            half = len(batch) // 2
            self.articles(batch[:half])
            self.articles(batch[half:])
            return
        self._settle(batch, response)

    def page(self, record: Record) -> None:
        response = self._post("/articles/html", record.body, "text/html")
        self._settle([record], response)

    def _post(self, path: str, body: bytes, content_type: str) -> Any:
        import httpx

        headers = {"Content-Type": content_type, **auth_headers()}
        failures = 0
        for _ in range(BUSY_RETRIES + 1):
            try:
                response = self._client.post(f"{self._url}{path}", content=body, headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise UnreachableError(f"{self._url}: {exc}") from exc
            except httpx.TransportError as exc:
                failures += 1
                if failures > 2:
                    raise UnreachableError(f"{self._url}: {exc!r}") from exc
                time.sleep(failures)
                continue
            if response.status_code not in (429, 503):
                return response
            time.sleep(_retry_after(response.headers.get("retry-after")))
        return response

    def _settle(self, batch: list[Record], response: Any) -> None:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, dict) and "accepted" in answer and "rejected" in answer:
            for item in answer["accepted"]:
                self._summary.accepted += 1
                self._summary.known += bool(item.get("known"))
            for item in answer["rejected"]:
                reasons = tuple(
                    f"{e.get('field', '?')}: {e.get('message', '')}" for e in item["errors"]
                )
                self._summary.rejected.append(Rejection(batch[item["index"]].origin, reasons))
            return
        message = answer.get("error") if isinstance(answer, dict) else None
        reason = (
            f"ingest answered HTTP {response.status_code}: {message or response.text[:200]}"
            + key_hint(response.status_code)
        )
        self._summary.rejected.extend(Rejection(r.origin, (reason,)) for r in batch)


def _retry_after(value: str | None) -> float:
    try:
        return min(30.0, max(0.1, float(value))) if value else 1.0
    except ValueError:
        return 1.0


def ingest_paths(
    paths: Sequence[str | Path],
    ingest_url: str,
    batch: int = 100,
    progress: Progress | None = None,
    *,
    timeout: float = 120.0,
) -> Summary:
    """Ingest every article found under ``paths`` through the ingest API at ``ingest_url``.

    Records go in batches of ``batch`` (HTML pages one by one); the summary tells what was
    accepted and, with file:line, what was rejected. When the API cannot be reached the
    run stops and ``summary.unreachable`` says why (exit code 2).
    """
    import httpx

    summary = Summary()
    files, problems, skipped = collect_files(paths)
    summary.rejected.extend(problems)
    summary.skipped = [str(p) for p in skipped]
    summary.files = len(files)
    with httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0)) as client:
        poster = _Poster(ingest_url.rstrip("/"), summary, client)
        pending: list[Record] = []
        pending_bytes = 0
        try:
            for path in files:
                count = 0
                for found in read_records(path):
                    if isinstance(found, Rejection):
                        summary.rejected.append(found)
                        summary.records += 1
                        continue
                    count += 1
                    summary.records += 1
                    if found.kind == "html":
                        poster.page(found)
                    else:
                        pending.append(found)
                        pending_bytes += len(found.body)
                        if len(pending) >= batch or pending_bytes >= MAX_BATCH_BYTES:
                            poster.articles(pending)
                            pending, pending_bytes = [], 0
                    if progress:
                        progress.advance(len(found.body), 1)
                if progress:
                    progress.file_done(path, count)
            if pending:
                poster.articles(pending)
                pending = []
        except UnreachableError as exc:
            summary.unreachable = str(exc)
            settled = summary.accepted + len(summary.rejected) - len(problems)
            summary.not_sent = summary.records - settled
        finally:
            if progress:
                progress.close()
    return summary


# --- the command ---------------------------------------------------------------------------


def _batch_size(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 10_000:
        raise argparse.ArgumentTypeError("must be between 1 and 10000")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "ingest",
        help="ingest articles from files (JSONL, JSON, seed-format text, HTML) or directories",
        description="Post the articles found in files and directories (recursively) to the "
        "ingest API: .jsonl/.ndjson (one article per line), .json (an array of articles, or "
        "one), .txt (the seed's format: first line 'date YYYY-MM-DD By Source'), .html/.htm "
        "(the article is extracted by ingest).",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument(
        "--url",
        dest="ingest_url",
        default=None,
        help=f"ingest API base URL (default: $PACTWATCH_INGEST_URL or {DEFAULT_INGEST_URL})",
    )
    parser.add_argument(
        "--batch",
        type=_batch_size,
        default=100,
        metavar="N",
        help="articles per request (default: 100)",
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    files, _, _ = collect_files(args.paths)
    total = sum(f.stat().st_size for f in files)
    progress: Progress = (
        BarProgress(total, sys.stderr) if sys.stderr.isatty() else LineProgress(sys.stderr)
    )
    summary = ingest_paths(args.paths, ingest_url_from(args.ingest_url), args.batch, progress)
    print(summary.render())
    return summary.exit_code


def _s(count: int) -> str:
    return "" if count == 1 else "s"
