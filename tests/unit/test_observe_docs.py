"""The committed AsyncAPI and OpenAPI documents in docs/ are those the code generates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apidocs import ASYNCAPI, DOCS, OPENAPI, stale, write
from tests.support import ROOT


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documents as ``make docs`` writes them, in a fresh process, into a temporary folder;
    with settings in the environment that must not reach the documents."""
    out = tmp_path_factory.mktemp("docs")
    env = {
        **os.environ,
        "REDIS_URL": "redis://:password@elsewhere:6380/3",
        "PACTWATCH_BATCH_SIZE": "7",
        "INDEX_URL": "sqlite:////nowhere/index.sqlite3",
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.apidocs", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return out


def documents(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): p.read_text("utf-8")
        for kind in ("asyncapi", "openapi")
        for p in sorted((folder / kind).glob("*.json"))
    }


def test_the_committed_documents_are_up_to_date(generated: Path) -> None:
    outdated = stale(documents(generated), DOCS)
    assert not outdated, f"out of date in docs/: {outdated}; run `make docs` and commit"


def test_every_service_has_its_asyncapi_and_every_http_api_its_openapi(generated: Path) -> None:
    found = documents(generated)
    assert set(found) == {f"asyncapi/{s}.json" for s in ASYNCAPI} | {
        f"openapi/{s}.json" for s in OPENAPI
    }
    for path, text in found.items():
        document = json.loads(text)
        if path.startswith("asyncapi/"):
            assert document["asyncapi"].startswith("3.")
            assert document["info"]["title"] == f"pactwatch {Path(path).stem}"
            # the default server, whatever REDIS_URL said when the documents were made
            assert document["servers"]["development"]["host"] == "127.0.0.1:6379"
        else:
            assert document["openapi"].startswith("3.")
            assert document["paths"]
        # deterministic: nothing of this machine or this process
        assert str(os.getpid()) not in text
        assert "elsewhere" not in text
        assert "password" not in text


def test_the_ingest_api_documents_its_routes_and_the_pipeline_its_streams(
    generated: Path,
) -> None:
    ingest = json.loads((generated / "openapi/ingest.json").read_text("utf-8"))
    assert "/articles" in ingest["paths"]
    published = json.loads((generated / "asyncapi/ingest.json").read_text("utf-8"))
    addresses = {c["address"] for c in published["channels"].values()}
    assert "articles.ingested" in addresses


def test_a_changed_missing_or_stray_document_is_reported(tmp_path: Path) -> None:
    current = {"asyncapi/a.json": "{}\n", "openapi/a.json": "{}\n"}
    write(current, tmp_path)
    assert stale(current, tmp_path) == []
    (tmp_path / "asyncapi/a.json").write_text('{"changed": 1}\n')
    (tmp_path / "openapi/stray.json").write_text("{}\n")
    (tmp_path / "openapi/a.json").unlink()
    assert stale(current, tmp_path) == ["asyncapi/a.json", "openapi/a.json", "openapi/stray.json"]
    # writing again brings the folder back to exactly the documents
    write(current, tmp_path)
    assert stale(current, tmp_path) == []
    assert not (tmp_path / "openapi/stray.json").exists()
