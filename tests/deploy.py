"""Readers for the deployment files, shared by tests/unit/test_deploy_*.py.

There is no Docker engine or cluster in the tests: the Dockerfile, the .dockerignore and
uv.lock are read here, as Docker and uv would read them, so that the tests can check what an
image would contain and run without building it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from tests.support import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
COMPOSE_FILE = ROOT / "docker-compose.yml"
K8S_DIR = ROOT / "deploy" / "k8s"
SCHEMAS = ROOT / "tests" / "schemas"


@cache
def services() -> dict[str, str]:
    """SERVICE build-arg value -> distribution name, one per services/*/pyproject.toml."""
    found: dict[str, str] = {}
    for manifest in sorted((ROOT / "services").glob("*/pyproject.toml")):
        name = tomllib.loads(manifest.read_text())["project"]["name"]
        found[manifest.parent.name] = name
    return found


def normalise(dist: str) -> str:
    """A distribution name as uv.lock and PEP 503 spell it."""
    return re.sub(r"[-_.]+", "-", dist).lower()


# --- Dockerfile -------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN, else None (shell form)."""
        text = self.args
        if self.keyword == "HEALTHCHECK":
            text = text.split("CMD", 1)[1] if "CMD" in text else ""
        try:
            value = json.loads(text.strip())
        except json.JSONDecodeError:
            return None
        if isinstance(value, list) and all(isinstance(x, str) for x in value):
            return value
        return None


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    global_args: dict[str, str | None]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        (found,) = [s for s in self.stages if s.name == name]
        return found

    def resolve(self, text: str) -> str:
        """Substitute the global ARG defaults (what FROM lines may use)."""

        def value(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            default = self.global_args.get(name)
            return default if default is not None else match.group(0)

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, text)


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    lines: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # Docker drops comment lines, also inside a continuation
        if not current:
            start = number
        if stripped.endswith("\\"):
            current.append(stripped[:-1].strip())
            continue
        current.append(stripped)
        lines.append((start, " ".join(part for part in current if part)))
        current = []
    if current:
        raise ValueError("Dockerfile ends inside a line continuation")
    return lines


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """Stages and instructions of a Dockerfile (enough of the grammar for ours)."""
    parsed = Dockerfile(global_args={}, stages=[])
    for number, line in logical_lines(path.read_text()):
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            if len(words) not in (1, 3):
                raise ValueError(f"line {number}: cannot read FROM {args!r}")
            parsed.stages.append(Stage(base=words[0], name=name))
        elif not parsed.stages:
            if keyword != "ARG":
                raise ValueError(f"line {number}: only ARG may come before the first FROM")
            arg_name, eq, default = args.partition("=")
            parsed.global_args[arg_name] = default if eq else None
        else:
            parsed.stages[-1].instructions.append(Instruction(keyword, args, number))
    return parsed


def env_of(instruction: Instruction) -> dict[str, str]:
    """The variables of an ``ENV k=v k2="v 2"`` instruction."""
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', instruction.args)
    return {key: value.strip('"') for key, value in pairs}


def run_mounts(instruction: Instruction) -> tuple[list[dict[str, str]], str]:
    """The ``--mount=`` options of a RUN, and its command without them."""
    mounts: list[dict[str, str]] = []
    rest = instruction.args
    while rest.startswith("--mount="):
        option, _, rest = rest.partition(" ")
        fields = dict(part.split("=", 1) for part in option.removeprefix("--mount=").split(","))
        mounts.append(fields)
        rest = rest.strip()
    return mounts, rest


# --- .dockerignore ------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            if pattern.startswith("/", i):
                out += "/?"  # "**/x" matches "x" at the top too
                i += 1
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out += pattern[i : end + 1]
            i = end + 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


def dockerignore_rules(path: Path = ROOT / ".dockerignore") -> list[tuple[bool, re.Pattern[str]]]:
    """(excludes, pattern) in file order; the last matching rule decides, as in Docker."""
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        include = line.startswith("!")
        pattern = line.removeprefix("!").strip().strip("/")
        rules.append((not include, _pattern_regex(pattern)))
    return rules


def in_build_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker sends ``relative`` (a path from the repo root) in the build context.

    A rule matching a parent directory applies to everything under it.
    """
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, regex in rules:
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            excluded = excludes
    return not excluded


# --- what an image holds: uv.lock's closure of the service ------------------------------


@cache
def lock_packages() -> dict[str, dict[str, Any]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {normalise(p["name"]): p for p in lock["package"]}


def dependency_closure(dist: str) -> set[str]:
    """Every distribution ``uv sync --package dist --no-dev`` installs (extras followed)."""
    packages = lock_packages()
    seen: set[tuple[str, tuple[str, ...]]] = set()
    todo: list[tuple[str, tuple[str, ...]]] = [(normalise(dist), ())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        package: Any = packages[name]
        deps = list(package.get("dependencies", []))
        for extra in extras:
            deps.extend(package.get("optional-dependencies", {}).get(extra, []))
        todo.extend(
            (normalise(dep["name"]), tuple(dep.get("extra", []))) for dep in deps if _applies(dep)
        )
    return {name for name, _ in seen}


def _applies(dep: dict[str, Any]) -> bool:
    """Whether a dependency's environment marker holds on the images' Linux, CPython 3.11."""
    marker = dep.get("marker")
    if not marker:
        return True
    from packaging.markers import Marker

    environment = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": "x86_64",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "python_version": "3.11",
        "python_full_version": "3.11.14",
        "extra": "",
    }
    return Marker(str(marker)).evaluate(environment)


@cache
def modules_by_distribution() -> dict[str, set[str]]:
    """Distribution -> the top-level modules it installs (read from the dev venv)."""
    mapping: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            mapping.setdefault(normalise(dist), set()).add(module)
    # the workspace's own packages are editable installs here: their modules are in src/
    for name, package in lock_packages().items():
        editable = package.get("source", {}).get("editable")
        if editable:
            packages = (ROOT / editable / "src").glob("*/__init__.py")
            mapping[name] = {init.parent.name for init in packages}
    return mapping


def importable_in_image(service: str) -> set[str]:
    """Top-level modules importable in the image built with ``SERVICE=service``."""
    modules: set[str] = set(sys.stdlib_module_names)
    for dist in dependency_closure(services()[service]):
        modules |= modules_by_distribution().get(dist, set())
    return modules


def module_runs(module: str) -> bool:
    """Whether ``python -m module`` starts something: a __main__ module or a main guard."""
    spec = importlib.util.find_spec(module)
    if spec is None:
        return False
    if spec.submodule_search_locations is not None:
        return importlib.util.find_spec(f"{module}.__main__") is not None
    source = Path(str(spec.origin)).read_text()
    return re.search(r"""if __name__ == ["']__main__["']:""", source) is not None
