"""docker-compose.yml: the Compose Specification schema, then the rules that keep it scalable."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from pactwatch.settings import ServiceSettings

from tests.deploy import (
    COMPOSE_FILE,
    SCHEMAS,
    importable_in_image,
    module_runs,
    parse_dockerfile,
    services,
)
from tests.support import ROOT

PIPELINE = ["ingest", "deduplicator", "extractor", "indexer", "notifier"]
GRACE_S = float(ServiceSettings.model_fields["shutdown_grace_s"].default)
RAW: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ${VAR}, ${VAR:-default}, ${VAR-default}, $$."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, default = match.group(1), match.group(2), match.group(3)
        if name not in env:
            if operator is None:
                raise KeyError(f"${{{name}}} has no default: compose would warn and use ''")
            return default
        if operator == ":-" and env[name] == "":
            return default
        return env[name]

    return re.sub(r"\$\$|\$\{(\w+)(?:(:?-)([^}]*))?\}", substitute, value)


COMPOSE: dict[str, Any] = interpolate(RAW, {})
SERVICES: dict[str, Any] = COMPOSE["services"]


def duration_s(text: str) -> float:
    """A compose duration ("30s", "1m30s") in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?", text)
    assert parts, f"not a duration: {text}"
    hours, minutes, seconds, millis = (int(p) if p else 0 for p in parts.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def host_ports(port: str | dict[str, Any]) -> list[int]:
    """The host ports a ``ports`` entry binds; [] when Docker picks an ephemeral one."""
    if isinstance(port, dict):
        published = str(port.get("published", ""))
    else:
        parts = port.split(":")
        published = parts[-2] if len(parts) >= 2 else ""
    if not published:
        return []
    low, _, high = published.partition("-")
    return list(range(int(low), int(high or low) + 1))


def test_the_interpolation_reads_like_compose() -> None:
    assert interpolate("${A:-x}", {}) == "x"
    assert interpolate("${A:-x}", {"A": ""}) == "x"
    assert interpolate("${A-x}", {"A": ""}) == ""
    assert interpolate("a$$b ${A}", {"A": "1"}) == "a$b 1"
    with pytest.raises(KeyError):
        interpolate("${NOPE}", {})
    assert duration_s("1m30s") == 90
    assert duration_s("30s") == 30
    assert host_ports("8010-8019:8080") == list(range(8010, 8020))
    assert host_ports("127.0.0.1:8000:8080") == [8000]
    assert host_ports("8080") == []


@pytest.mark.parametrize("document", [RAW, COMPOSE], ids=["as-written", "interpolated"])
def test_validates_against_the_compose_specification(document: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_refuses_what_compose_refuses() -> None:
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    broken = {"services": {"x": {"image": "a:1", "stop_grace_period": 30, "bogus": 1}}}
    assert len(list(validator.iter_errors(broken))) >= 1


def test_no_container_names_so_every_service_scales() -> None:
    assert not re.search(r"^\s*container_name:", COMPOSE_FILE.read_text(), re.MULTILINE)
    assert all("container_name" not in s for s in SERVICES.values())


def test_redis_is_durable_guarded_and_never_evicts() -> None:
    redis = SERVICES["redis"]
    assert re.fullmatch(r"redis:7\.\d+\.\d+(-\w+)?", redis["image"])
    command = redis["command"]
    assert command[0] == "redis-server"
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert options["--appendonly"] == "yes"
    assert options["--maxmemory-policy"] == "noeviction"
    password = options["--requirepass"]
    assert password
    assert "REDIS_PASSWORD" in json.dumps(RAW["services"]["redis"]["command"])
    test = " ".join(redis["healthcheck"]["test"])
    assert "redis-cli" in test
    assert "ping" in test
    assert redis["environment"]["REDISCLI_AUTH"] == password
    assert any(v.endswith(":/data") for v in redis["volumes"])


def test_postgres_serves_the_index() -> None:
    postgres = SERVICES["postgres"]
    assert re.fullmatch(r"postgres:16\.\d+(-\w+)?", postgres["image"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    index = urlsplit(SERVICES["indexer"]["environment"]["INDEX_URL"])
    assert index.scheme == "postgresql"
    assert index.hostname == "postgres"
    assert index.password == postgres["environment"]["POSTGRES_PASSWORD"]
    assert index.username == postgres["environment"]["POSTGRES_USER"]
    assert index.path == "/" + postgres["environment"]["POSTGRES_DB"]
    assert SERVICES["indexer"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", PIPELINE)
def test_each_service_is_built_wired_and_checked(name: str) -> None:
    service = SERVICES[name]
    assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    assert service["build"]["context"] == "."
    assert service["build"]["args"]["SERVICE"] == name
    env = service["environment"]
    redis_url = urlsplit(env["REDIS_URL"])
    assert redis_url.hostname == "redis"
    assert redis_url.port == 6379
    assert (
        redis_url.password
        == dict(
            zip(SERVICES["redis"]["command"][1::2], SERVICES["redis"]["command"][2::2], strict=True)
        )["--requirepass"]
    )
    assert env["PACTWATCH_HTTP_HOST"] == "0.0.0.0"
    assert env["PORT"] == "8080"
    depends = service["depends_on"]
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["init"]["condition"] == "service_completed_successfully"
    check = service["healthcheck"]["test"]
    assert check[:2] == ["CMD", "python"]
    assert "http://127.0.0.1:8080/readyz" in check[-1]
    compile(check[-1], "<healthcheck>", "exec")
    assert service["restart"] == "unless-stopped"


def test_every_long_running_service_is_healthchecked_and_stops_gracefully() -> None:
    for name, service in SERVICES.items():
        if service.get("restart") == "no" or "tools" in service.get("profiles", []):
            continue  # the init step and the command line exit by themselves
        assert "healthcheck" in service, name
        grace = float(service.get("environment", {}).get("PACTWATCH_SHUTDOWN_GRACE_S", GRACE_S))
        # docker sends SIGKILL at stop_grace_period: it must outlast the graceful shutdown
        assert duration_s(service["stop_grace_period"]) > max(grace, GRACE_S), name
        for dependency, how in service.get("depends_on", {}).items():
            assert dependency in SERVICES, f"{name} depends on unknown {dependency}"
            assert how["condition"] in {"service_healthy", "service_completed_successfully"}


def test_the_init_step_creates_the_groups_once() -> None:
    init = SERVICES["init"]
    assert init["restart"] == "no"
    assert init["entrypoint"] == ["python", "-m", "pactwatch.groups"]
    assert init["depends_on"]["redis"]["condition"] == "service_healthy"
    assert init["build"]["args"]["SERVICE"] in services()
    assert urlsplit(init["environment"]["REDIS_URL"]).hostname == "redis"


def image_command(service: dict[str, Any]) -> list[str]:
    """What a container of ``service`` runs: its entrypoint/command, else the image's."""
    if "entrypoint" in service:
        return list(service["entrypoint"]) + list(service.get("command", []))
    stage = parse_dockerfile().stage(f"service-{service['build']['args']['SERVICE']}")
    entrypoint = [i.exec_form() for i in stage.all("ENTRYPOINT")]
    cmd = [i.exec_form() for i in stage.all("CMD")]
    if "command" in service:
        cmd = [list(service["command"])]
    return (entrypoint[-1] or []) if entrypoint else (cmd[-1] or [])


def test_every_command_started_exists_in_the_image() -> None:
    checked = 0
    for name, service in SERVICES.items():
        if "build" not in service:
            continue
        argv = image_command(service)
        image_service = service["build"]["args"]["SERVICE"]
        if argv[:2] == ["python", "-m"]:
            module = argv[2]
            assert module_runs(module), f"{name}: python -m {module} runs nothing"
            assert module.split(".")[0] in importable_in_image(image_service), (
                f"{name}: {module} is not installed in the {image_service} image"
            )
        else:
            assert argv == ["pactwatch"], f"{name}: unexpected command {argv}"
            assert image_service == "cli"
        checked += 1
    assert checked == len(PIPELINE) + 2  # the five services, init and the cli


def test_scaling_the_workers_binds_no_port_twice() -> None:
    # docker compose up --scale extractor=4 --scale indexer=2 (and more): each replica binds
    # the service's host ports; a fixed one would clash from the second replica on
    scale = Counter(dict.fromkeys(SERVICES, 1))
    scale.update({"extractor": 3, "indexer": 1, "deduplicator": 3})
    bound: list[int] = []
    for name, service in SERVICES.items():
        for entry in service.get("ports", []):
            ports = host_ports(entry)
            if not ports:
                continue
            assert len(ports) >= scale[name], f"{name}: {entry} cannot serve {scale[name]}"
            bound += ports  # a range is reserved for the service as a whole
    assert len(bound) == len(set(bound)), "two services publish the same host port"
    for worker in ["deduplicator", "extractor"]:
        assert "ports" not in SERVICES[worker]
    assert [host_ports(p) for p in SERVICES["ingest"]["ports"]] == [[8000]]
    assert [host_ports(p) for p in SERVICES["notifier"]["ports"]] == [[8002]]


def test_the_extractor_has_room_for_spacy_and_time_to_load_it() -> None:
    extractor = SERVICES["extractor"]
    assert extractor["deploy"]["resources"]["limits"]["memory"] == "600m"
    assert duration_s(extractor["healthcheck"]["start_period"]) >= 60


def test_monitoring_is_a_profile_with_its_files_present() -> None:
    for name in ["prometheus", "grafana"]:
        service = SERVICES[name]
        assert service["profiles"] == ["monitoring"]
        assert ":latest" not in service["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", service["image"])
        for volume in service["volumes"]:
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
    assert SERVICES["cli"]["profiles"] == ["tools"]
