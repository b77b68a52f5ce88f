"""``python -m tests.apidocs [--check] [--out DIR]``: the services' API documents, in docs/.

- ``docs/asyncapi/<service>.json``: what each service reads and writes on Redis, as
  ``faststream docs gen`` writes it (the same ``schema.to_specification().to_jsonable()``);
- ``docs/openapi/<service>.json``: the HTTP APIs of ingest, the indexer and the notifier
  (``app.openapi()``);
- ``docs/configuration.md``: every environment variable of every service, with its default
  and meaning, from the settings classes.

``make docs`` writes them; ``--check`` (run by tests/unit/test_observe_docs.py) regenerates them
in memory and fails, naming each file, when the committed ones differ, so that the documents
never fall behind the code. Generation is deterministic and needs no Redis: keys are sorted;
the environment variables the services read are cleared first, so that the server URLs are
the defaults; each consumer's name, which is the host name and process id, is written as
``{hostname}-{pid}``; and a document still titled with FastStream's default is titled with
the service's name. It lives beside the tests, not in the CLI, because it imports every
service, which no installed package does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

ASYNCAPI: dict[str, str] = {
    "ingest": "pactwatch_ingest.app:asyncapi",
    "deduplicator": "pactwatch_deduplicator.app:asyncapi",
    "extractor": "pactwatch_extractor.app:asyncapi",
    "indexer": "pactwatch_indexer.app:asyncapi",
    "notifier": "pactwatch_notifier.app:asyncapi",
}
"""Each service's FastStream application, as ``faststream docs gen`` takes it."""
OPENAPI: dict[str, str] = {
    "ingest": "pactwatch_ingest.app:create_app",
    "indexer": "pactwatch_indexer.app:create_app",
    "notifier": "pactwatch_notifier.app:create_app",
}
"""Each HTTP service's FastAPI factory."""
SETTINGS: dict[str, str] = {
    "every service": "pactwatch.settings:ServiceSettings",
    "ingest": "pactwatch_ingest.settings:IngestSettings",
    "deduplicator": "pactwatch_deduplicator.settings:DeduplicatorSettings",
    "extractor": "pactwatch_extractor.settings:ExtractorSettings",
    "indexer": "pactwatch_indexer.settings:IndexerSettings",
    "notifier": "pactwatch_notifier.settings:NotifierSettings",
    "groups (the deployment's init job)": "pactwatch.groups:GroupsSettings",
}
"""Each settings class, by the service that reads it."""
CONSUMER_PLACEHOLDER = "{hostname}-{pid}"
DEFAULT_TITLE = "FastStream"
# read by the services' settings at import: cleared so that the documents never depend on them
ENVIRONMENT = ("REDIS_URL", "INDEX_URL", "PORT")


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(import_module(module), name)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {_replace(k, old, new): _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def _dump(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """Every document, by its path under docs/ (``asyncapi/ingest.json``...), as text.

    Call it in a fresh process: the services read their settings when first imported.
    """
    for name in list(os.environ):
        if name.startswith("PACTWATCH_") or name in ENVIRONMENT:
            del os.environ[name]
    from pactwatch.settings import consumer_name

    documents: dict[str, str] = {}
    for service, target in ASYNCAPI.items():
        specification = _load(target).schema.to_specification().to_jsonable()
        stable = _replace(specification, consumer_name(), CONSUMER_PLACEHOLDER)
        if stable["info"]["title"] == DEFAULT_TITLE:
            stable["info"]["title"] = f"pactwatch {service}"
        documents[f"asyncapi/{service}.json"] = _dump(stable)
    for service, target in OPENAPI.items():
        factory: Callable[[], Any] = _load(target)
        documents[f"openapi/{service}.json"] = _dump(factory().openapi())
    documents["configuration.md"] = configuration()
    return documents


def configuration() -> str:
    """docs/configuration.md: a table per service of the variables it reads."""
    base = _load(SETTINGS["every service"])
    lines = [
        "# Configuration",
        "",
        "Every setting is an environment variable; the defaults work on a laptop. Generated",
        "from the settings classes by `make docs` (a test fails when this file is stale).",
    ]
    for service, target in SETTINGS.items():
        cls = _load(target)
        prefix = cls.model_config.get("env_prefix", "")
        rows = []
        for name, field in cls.model_fields.items():
            inherited = cls is not base and name in base.model_fields
            if inherited and field.default == base.model_fields[name].default:
                continue  # the same as for every service: listed once, above
            alias = field.validation_alias
            names = list(getattr(alias, "choices", [])) if alias else [prefix + name.upper()]
            default = field.get_default(call_default_factory=True)
            shown = (
                ", ".join(sorted(default)) if isinstance(default, frozenset | tuple) else default
            )
            description = (field.description or "").replace("|", "\\|").replace("\n", " ")
            variable = " or ".join(f"`{n}`" for n in names)
            value = f"`{shown}`" if shown != "" else "*(empty)*"
            rows.append(f"| {variable} | {value} | {description} |")
        lines += [
            "",
            f"## {service}",
            "",
            "| variable | default | meaning |",
            "|---|---|---|",
            *rows,
        ]
    return "\n".join(lines) + "\n"


def stale(documents: dict[str, str], out: Path) -> list[str]:
    """The documents whose file under ``out`` is missing or differs, and the stray files."""
    differ = [
        path
        for path, text in documents.items()
        if not (out / path).exists() or (out / path).read_text("utf-8") != text
    ]
    present = {
        p.relative_to(out).as_posix()
        for kind in ("asyncapi", "openapi")
        for p in (out / kind).glob("*.json")
    }
    return sorted([*differ, *(present - set(documents))])


def write(documents: dict[str, str], out: Path) -> None:
    """Write ``documents`` under ``out`` and remove any other document there."""
    for kind in ("asyncapi", "openapi"):
        (out / kind).mkdir(parents=True, exist_ok=True)
        for old in (out / kind).glob("*.json"):
            if old.relative_to(out).as_posix() not in documents:
                old.unlink()
    for path, text in documents.items():
        (out / path).write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.apidocs", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/ is out of date")
    parser.add_argument("--out", type=Path, default=DOCS, help="where (default: docs/)")
    args = parser.parse_args(argv)
    documents = generate()
    if args.check:
        outdated = stale(documents, args.out)
        for path in outdated:
            print(f"out of date: {args.out / path}", file=sys.stderr)
        if outdated:
            print("run `make docs` and commit the result", file=sys.stderr)
            return 1
        return 0
    write(documents, args.out)
    for path in sorted(documents):
        print(args.out / path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
