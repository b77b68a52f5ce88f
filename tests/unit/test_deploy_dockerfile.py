"""deploy/Dockerfile and .dockerignore, read statically (there is no Docker engine here)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tests.deploy import (
    DOCKERFILE,
    Instruction,
    Stage,
    dockerignore_rules,
    env_of,
    in_build_context,
    logical_lines,
    parse_dockerfile,
    run_mounts,
    services,
)
from tests.support import ROOT

DOCKER = parse_dockerfile()
STAGE_NAMES = {s.name for s in DOCKER.stages if s.name}


def is_stage(base: str) -> bool:
    """A FROM naming an earlier stage, also through ``${SERVICE}`` (the final FROM)."""
    return any(base.replace("${SERVICE}", service) in STAGE_NAMES for service in services()) or (
        base in STAGE_NAMES
    )


EXTERNAL = [s for s in DOCKER.stages if not is_stage(s.base)]


def words(instruction: Instruction) -> list[str]:
    return shlex.split(run_mounts(instruction)[1])


def uv_syncs() -> list[list[str]]:
    builder = DOCKER.stage("builder")
    return [words(i) for i in builder.all("RUN") if "uv sync" in i.args]


def test_parser_reads_continuations_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "Dockerfile"
    path.write_text('ARG A=1\nFROM x:${A} AS one\n# c\nRUN a \\\n  # inner\n  b\nCMD ["c"]\n')
    parsed = parse_dockerfile(path)
    assert parsed.global_args == {"A": "1"}
    assert parsed.resolve(parsed.stages[0].base) == "x:1"
    assert [(i.keyword, i.args) for i in parsed.stages[0].instructions] == [
        ("RUN", "a b"),
        ("CMD", '["c"]'),
    ]
    assert parsed.stages[0].instructions[1].exec_form() == ["c"]
    assert logical_lines("RUN x\n") == [(1, "RUN x")]
    with pytest.raises(ValueError, match="continuation"):
        logical_lines("RUN x \\\n")


def test_multi_stage_with_one_final_stage_per_service() -> None:
    names = [s.name for s in DOCKER.stages]
    assert {"builder", "runtime"} <= set(names)
    assert DOCKER.stages[-1].base == "service-${SERVICE}"
    assert "SERVICE" in DOCKER.global_args
    for service in services():
        assert DOCKER.stage(f"service-{service}").base == "runtime"
    # nothing but the services: a stage for a service that is gone would still build
    assert {n for n in names if n and n.startswith("service-")} == {
        f"service-{s}" for s in services()
    }


def test_base_images_are_pinned() -> None:
    assert EXTERNAL, "no external base image found"
    for stage in EXTERNAL:
        image = DOCKER.resolve(stage.base)
        assert "$" not in image, f"{stage.base} does not resolve to a fixed image"
        repository, _, tag = image.rpartition(":")
        assert repository, f"{image}: no explicit tag"
        assert "/" not in tag, f"{image}: no explicit tag"
        assert tag != "latest"
        assert re.fullmatch(r"v?\d+\.\d+\.\d+(-[a-z0-9.-]+)?", tag), (
            f"{image}: not an exact version"
        )
    python = {DOCKER.resolve(s.base) for s in EXTERNAL if "python" in s.base.lower()}
    assert len(python) == 1
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", python.pop())


def test_uv_is_the_version_the_makefile_bootstraps() -> None:
    (uv_stage,) = [s for s in EXTERNAL if "astral-sh/uv" in s.base]
    version = uv_stage.base.rpartition(":")[2]
    assert f'"uv=={version}"' in (ROOT / "Makefile").read_text()
    copies = [i for i in DOCKER.stage("builder").all("COPY") if f"--from={uv_stage.name}" in i.args]
    assert copies, "the builder does not take uv from the pinned uv image"


def test_builder_installs_only_the_service_from_the_lockfile() -> None:
    builder = DOCKER.stage("builder")
    env: dict[str, str] = {}
    for instruction in builder.all("ENV"):
        env |= env_of(instruction)
    assert env["UV_COMPILE_BYTECODE"] == "1"
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    syncs = uv_syncs()
    assert len(syncs) == 2  # dependencies first (a cached layer), then the code
    for argv in syncs:
        assert argv[:2] == ["uv", "sync"]
        assert "--frozen" in argv
        assert "--no-dev" in argv
        assert argv[argv.index("--package") + 1] == "pactwatch-${SERVICE}"
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]


def test_builder_copies_every_workspace_manifest_before_the_first_sync() -> None:
    # uv sync --frozen reads every member of the workspace, not only the one it installs
    builder = DOCKER.stage("builder")
    first_sync = next(i for i in builder.all("RUN") if "uv sync" in i.args)
    copied = {
        source
        for i in builder.all("COPY")
        if "--from" not in i.args and i.line < first_sync.line
        for source in i.args.split()[:-1]
    }
    members = {"shared/pyproject.toml"} | {f"services/{s}/pyproject.toml" for s in services()}
    assert members | {"pyproject.toml", "uv.lock"} <= copied


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    rules = dockerignore_rules()
    sources: list[str] = []
    for stage in DOCKER.stages:
        for instruction in stage.all("COPY"):
            if "--from" in instruction.args:
                continue
            *paths, _destination = instruction.args.split()
            sources += paths
        for instruction in stage.all("RUN"):
            sources += [m["source"] for m in run_mounts(instruction)[0] if m["type"] == "bind"]
    assert sources
    for source in sources:
        path = ROOT / source
        assert path.exists(), f"{source} is copied but does not exist"
        files = [path] if path.is_file() else [p for p in path.rglob("*.py") if p.is_file()]
        assert files, source
        for file in files:
            relative = file.relative_to(ROOT).as_posix()
            assert in_build_context(relative, rules), f"{relative} is left out by .dockerignore"


def test_dockerignore_keeps_local_state_out() -> None:
    rules = dockerignore_rules()
    for path in [".venv/bin/python", ".git/HEAD", ".pactwatch/redis.aof", "tests/conftest.py"]:
        assert not in_build_context(path, rules), path
    pycache = "services/ingest/src/pactwatch_ingest/__pycache__/app.cpython-311.pyc"
    assert not in_build_context(pycache, rules)
    assert in_build_context("services/ingest/src/pactwatch_ingest/app.py", rules)


def runtime_chain(stage: Stage) -> list[Stage]:
    chain = [stage]
    while chain[-1].base in STAGE_NAMES:
        chain.append(DOCKER.stage(chain[-1].base))
    return chain


def test_final_images_run_as_a_numeric_non_root_user() -> None:
    for service in services():
        users = [
            i.args
            for s in reversed(runtime_chain(DOCKER.stage(f"service-{service}")))
            for i in s.all("USER")
        ]
        assert users, f"{service}: no USER"
        uid = users[-1].split(":")[0]
        # numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd
        assert uid.isdigit(), f"{service} runs as {users[-1]}"
        assert int(uid) != 0, f"{service} runs as root"


def test_import_check_runs_as_the_user_in_the_final_image() -> None:
    runtime = DOCKER.stage("runtime")
    keywords = [i.keyword for i in runtime.instructions]
    checks = [i for i in runtime.all("RUN") if "check_imports.py" in i.args]
    assert len(checks) == 1
    (check,) = checks
    assert words(check)[-1] == "pactwatch_${SERVICE}"
    assert runtime.instructions.index(check) > keywords.index("USER")
    assert (ROOT / "deploy" / "check_imports.py").is_file()


def test_each_service_stage_starts_its_own_module() -> None:
    for service in services():
        stage = DOCKER.stage(f"service-{service}")
        if service == "cli":
            (entrypoint,) = stage.all("ENTRYPOINT")
            assert entrypoint.exec_form() == ["pactwatch"]
            continue
        (cmd,) = stage.all("CMD")
        # exec form: python is the process that receives SIGTERM and shuts down gracefully
        assert cmd.exec_form() == ["python", "-m", f"pactwatch_{service}"]


def test_healthcheck_hits_healthz_except_for_the_cli() -> None:
    (check,) = DOCKER.stage("runtime").all("HEALTHCHECK")
    command = check.exec_form()
    assert command is not None
    assert command[0] == "python"
    assert "/healthz" in command[-1]
    compile(command[-1], "<healthcheck>", "exec")  # the one-liner is valid Python
    assert [i.args for i in DOCKER.stage("service-cli").all("HEALTHCHECK")] == ["NONE"]


def test_runtime_listens_on_all_interfaces_at_port_8080() -> None:
    env: dict[str, str] = {}
    for instruction in DOCKER.stage("runtime").all("ENV"):
        env |= env_of(instruction)
    assert env["PACTWATCH_HTTP_HOST"] == "0.0.0.0"
    assert env["PORT"] == "8080"
    assert [i.args for i in DOCKER.stage("runtime").all("EXPOSE")] == ["8080"]
    assert DOCKERFILE.is_file()
