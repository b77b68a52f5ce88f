"""Import every module of the given packages; exit 1 naming each one that fails.

The image build runs this in the final stage, where only the dependencies the service
declares (its pyproject, resolved by uv.lock) are installed: a module importing something
undeclared fails the build instead of failing in production on the first message.

    python check_imports.py pactwatch_ingest
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from collections.abc import Sequence


def modules_of(package: str, failures: dict[str, str]) -> list[str]:
    """Every module of ``package``, the package itself first; unimportable ones go to failures."""
    root = importlib.import_module(package)
    names = [package]

    def record(name: str) -> None:
        failures[name] = traceback.format_exc(limit=1).strip().splitlines()[-1]

    walk = pkgutil.walk_packages(root.__path__, prefix=f"{package}.", onerror=record)
    names.extend(info.name for info in walk)
    return names


def check(packages: Sequence[str]) -> dict[str, str]:
    """Import each module of ``packages``; module name -> the error, for each that failed."""
    failures: dict[str, str] = {}
    for package in packages:
        try:
            names = modules_of(package, failures)
        except Exception as exc:
            failures[package] = f"{type(exc).__name__}: {exc}"
            continue
        for name in names:
            try:
                importlib.import_module(name)
            except Exception as exc:
                failures[name] = f"{type(exc).__name__}: {exc}"
    return failures


def main(argv: Sequence[str]) -> int:
    """Check the packages named in ``argv``; print the verdict."""
    if not argv:
        print("usage: check_imports.py PACKAGE...", file=sys.stderr)
        return 2
    failures = check(argv)
    for name, error in sorted(failures.items()):
        print(f"import check: {name}: {error}", file=sys.stderr)
    if failures:
        print(
            "import check failed: these modules do not import with only the service's declared "
            "dependencies installed; a missing module is declared with uv add --package ...",
            file=sys.stderr,
        )
        return 1
    print(f"import check: every module of {', '.join(argv)} imports")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
