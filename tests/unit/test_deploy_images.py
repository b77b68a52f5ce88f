"""What each image would hold, without Docker: the Dockerfile's own steps, run here.

The builder stage's COPY and RUN instructions are replayed in a temporary directory (uv works
offline from the cache ``make install`` filled), then the final stage's import check runs
with that venv alone. So a service importing a package it does not declare fails here as it
would fail ``docker build``; and the static test below checks every import in the code, also
those inside functions that an import check cannot reach.
"""

from __future__ import annotations

import ast
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy import (
    dockerignore_rules,
    env_of,
    importable_in_image,
    in_build_context,
    parse_dockerfile,
    run_mounts,
    services,
)
from tests.support import ROOT

DOCKER = parse_dockerfile()
# the interpreter the dev venv was made from: the images' /usr/local/bin/python3.11 here
BASE_PYTHON = str(
    Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
)


def copy_from_context(origin: Path, target: Path) -> None:
    """Docker's COPY: a file into ``target``, a directory's contents into it; what
    .dockerignore leaves out of the build context is not there to copy."""
    rules = dockerignore_rules()
    files = [origin] if origin.is_file() else sorted(p for p in origin.rglob("*") if p.is_file())
    for file in files:
        relative = file.relative_to(ROOT).as_posix()
        if not in_build_context(relative, rules):
            continue
        inside = file.name if file == origin else file.relative_to(origin).as_posix()
        (target / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, target / inside)


def uv_path() -> str:
    """PATH with uv on it: the one on PATH, or the one ``make`` bootstraps into .tools/."""
    path = os.environ["PATH"]
    if shutil.which("uv") is None:
        bootstrapped = ROOT / ".tools" / "bin"
        assert (bootstrapped / "uv").exists(), "no uv on PATH nor in .tools/bin: run make install"
        path = f"{bootstrapped}{os.pathsep}{path}"
    return path


def replay_builder(service: str, workdir: Path) -> Path:
    """Run the builder stage's COPY/ENV/RUN for ``service``; the venv it produced."""
    source = workdir / "src"
    source.mkdir(parents=True)
    venv = workdir / "venv"
    env = {"PATH": uv_path(), "HOME": os.environ["HOME"], "SERVICE": service}
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    for instruction in DOCKER.stage("builder").instructions:
        if instruction.keyword == "ENV":
            env |= env_of(instruction)
            # here: the test's interpreter, this temp venv; hard links and no bytecode for speed
            env |= {
                "UV_PYTHON": BASE_PYTHON,
                "UV_PROJECT_ENVIRONMENT": str(venv),
                "UV_LINK_MODE": "hardlink",
                "UV_COMPILE_BYTECODE": "0",
            }
        elif instruction.keyword == "COPY" and "--from" not in instruction.args:
            *paths, destination = instruction.args.split()
            assert destination.endswith("/"), f"COPY into a directory: {instruction.args}"
            target = source / destination
            for path in paths:
                copy_from_context(ROOT / path, target)
        elif instruction.keyword == "RUN":
            command = run_mounts(instruction)[1]
            if shlex.split(command)[:2] == ["uv", "sync"]:
                command += " --offline"  # no network in tests: the cache of make install
            done = subprocess.run(
                ["sh", "-c", command], cwd=source, env=env, capture_output=True, check=False
            )
            assert done.returncode == 0, f"{service}: RUN {command}\n{done.stderr.decode()[-3000:]}"
    return venv


@pytest.mark.parametrize("service", sorted(services()))
def test_image_imports_every_module_with_only_its_dependencies(
    service: str, tmp_path: Path
) -> None:
    venv = replay_builder(service, tmp_path / "build")
    (check,) = [i for i in DOCKER.stage("runtime").all("RUN") if "check_imports.py" in i.args]
    runtime_env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)}
    for instruction in DOCKER.stage("runtime").all("ENV"):
        runtime_env |= {k: v for k, v in env_of(instruction).items() if "$" not in v}
    argv = shlex.split(run_mounts(check)[1].replace("${SERVICE}", service))
    assert argv[0] == "python"
    argv[1] = str(ROOT / "deploy" / "check_imports.py")
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [str(venv / "bin" / "python"), *argv[1:]],
        cwd=home,  # not the repository: only the venv's packages can be imported
        env=runtime_env,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-4000:]
    installed = {p.name.lower() for p in (venv / "lib").glob("python3*/site-packages/*")}
    if service == "extractor":
        assert any(name.startswith("spacy") for name in installed)
        assert any(name.startswith("en_core_web_sm") for name in installed)
    if service == "ingest":
        assert not any(name.startswith("spacy") for name in installed)


def test_the_import_check_fails_on_an_undeclared_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg_with_a_gap"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("import json\n")
    (package / "gap.py").write_text("import a_module_nobody_declared\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "check_imports.py"), "pkg_with_a_gap"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        capture_output=True,
        check=False,
    )
    assert done.returncode == 1
    assert "pkg_with_a_gap.gap: ModuleNotFoundError" in done.stderr.decode()
    assert "pkg_with_a_gap.fine" not in done.stderr.decode()


def imported_modules(source: str) -> set[str]:
    """Top-level modules a file imports, also inside functions; not under TYPE_CHECKING."""
    tree = ast.parse(source)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - {"__future__"}


def test_the_import_reader_sees_lazy_imports_and_skips_type_only_ones() -> None:
    source = (
        "from typing import TYPE_CHECKING\nimport a.b\nfrom . import c\n"
        "if TYPE_CHECKING:\n    import d\n"
        "def f():\n    import e\n    from g.h import i\n"
    )
    assert imported_modules(source) == {"typing", "a", "e", "g"}


@pytest.mark.parametrize("service", sorted(services()))
def test_every_import_of_a_service_is_in_its_image(service: str) -> None:
    available = importable_in_image(service)
    package_dir = ROOT / "services" / service / "src"
    missing: dict[str, set[str]] = {}
    for path in package_dir.rglob("*.py"):
        gaps = imported_modules(path.read_text()) - available
        if gaps:
            missing[str(path.relative_to(ROOT))] = gaps
    assert not missing, f"imports not declared by pactwatch-{service} (uv add --package): {missing}"
