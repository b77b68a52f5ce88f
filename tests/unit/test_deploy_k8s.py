"""deploy/k8s: Kubernetes and KEDA schemas, then the rules that tie the manifests to the code."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pactwatch.contracts import CONSUMED_STREAMS, GROUP_NOTIFIER
from pactwatch.settings import ServiceSettings
from pactwatch_notifier.webhook_worker import WEBHOOK_DELIVERIES

from tests.deploy import (
    K8S_DIR,
    SCHEMAS,
    importable_in_image,
    module_runs,
    parse_dockerfile,
    services,
)

PIPELINE = ["ingest", "deduplicator", "extractor", "indexer", "notifier"]
HTTP_SERVICES = ["ingest", "indexer", "notifier"]
KUBERNETES_VERSIONS = ["1.29", kubernetes_validate.latest_version()]
GRACE_S = float(ServiceSettings.model_fields["shutdown_grace_s"].default)

# the redis-streams trigger's metadata keys KEDA v2.20 reads (pkg/scalers/redis_streams_scaler.go
# and the connection fields of redis_scaler.go; "<key>FromEnv" reads the target's container env)
REDIS_STREAMS_METADATA = {
    "stream",
    "consumerGroup",
    "lagCount",
    "pendingEntriesCount",
    "streamLength",
    "activationLagCount",
    "databaseIndex",
    "enableTLS",
    "unsafeSsl",
    *(
        key + suffix
        for key in [
            "address",
            "addresses",
            "host",
            "hosts",
            "port",
            "ports",
            "username",
            "password",
            "sentinelUsername",
            "sentinelPassword",
            "sentinelMaster",
        ]
        for suffix in ["", "FromEnv"]
    ),
}


def load_documents(directory: Path = K8S_DIR) -> list[tuple[str, dict[str, Any]]]:
    documents: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        documents += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return documents


DOCUMENTS = load_documents()


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for _, d in DOCUMENTS if d["kind"] == kind}


DEPLOYMENTS = of_kind("Deployment")
SCALED_OBJECTS = of_kind("ScaledObject")
(CONFIG,) = of_kind("ConfigMap").values()
(SECRET,) = of_kind("Secret").values()


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ["Deployment", "Job"]:
        for name, document in of_kind(kind).items():
            yield name, document["spec"]["template"]["spec"]


def strict(schema: Any) -> Any:
    """An OpenAPI schema that refuses unknown fields, as kubectl's strict field validation."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def keda_validator() -> jsonschema.Draft7Validator:
    crd = yaml.safe_load((SCHEMAS / "keda.sh_scaledobjects.yaml").read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    schema["properties"]["apiVersion"] = {"const": f"{crd['spec']['group']}/v1alpha1"}
    schema["properties"]["kind"] = {"const": crd["spec"]["names"]["kind"]}
    schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "spec"})
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_resources_validate_strictly(version: str) -> None:
    checked = 0
    for filename, document in DOCUMENTS:
        if document["apiVersion"].startswith("keda.sh/"):
            continue
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            pytest.fail(f"{filename} {document['kind']}: {path}: {exc.message}")
        checked += 1
    assert checked >= 1 + 2 + 1 + len(PIPELINE) + len(HTTP_SERVICES)


def test_strict_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(DEPLOYMENTS["ingest"])
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSIONS[-1], strict=True)


def test_scaled_objects_validate_against_the_keda_crd() -> None:
    validator = keda_validator()
    assert SCALED_OBJECTS
    for name, document in SCALED_OBJECTS.items():
        errors = list(validator.iter_errors(document))
        assert not errors, f"{name}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors
        )
    broken = copy.deepcopy(next(iter(SCALED_OBJECTS.values())))
    broken["spec"]["minReplicas"] = 1  # the field is minReplicaCount
    assert list(validator.iter_errors(broken))
    del broken["spec"]["minReplicas"]
    del broken["spec"]["scaleTargetRef"]
    assert list(validator.iter_errors(broken))


def test_each_worker_scales_on_the_lag_of_its_own_groups() -> None:
    assert {so["spec"]["scaleTargetRef"]["name"] for so in SCALED_OBJECTS.values()} == set(
        CONSUMED_STREAMS
    )
    for name, scaled in SCALED_OBJECTS.items():
        spec = scaled["spec"]
        target = spec["scaleTargetRef"]["name"]
        assert target in DEPLOYMENTS, f"{name} scales unknown Deployment {target}"
        assert spec["scaleTargetRef"].get("kind", "Deployment") == "Deployment"
        # KEDA owns the count: a replicas field would fight it on every kubectl apply
        assert "replicas" not in DEPLOYMENTS[target]["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        pairs = set()
        container = DEPLOYMENTS[target]["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"] for e in container.get("env", [])}
        from_config = set(CONFIG["data"]) if container.get("envFrom") else set()
        for trigger in spec["triggers"]:
            assert trigger["type"] == "redis-streams"
            metadata = trigger["metadata"]
            assert set(metadata) <= REDIS_STREAMS_METADATA, set(metadata) - REDIS_STREAMS_METADATA
            assert int(metadata["lagCount"]) > 0  # lag, not pending entries or length
            assert "pendingEntriesCount" not in metadata
            assert "address" in metadata or "addressFromEnv" in metadata
            for key, value in metadata.items():
                if key.endswith("FromEnv"):
                    assert value in env | from_config, f"{name}: {target} has no env {value}"
            pairs.add((metadata["stream"], metadata["consumerGroup"]))
        # the notifier's own queue of webhook deliveries is work for more replicas too
        internal = {(WEBHOOK_DELIVERIES, GROUP_NOTIFIER)} if target == GROUP_NOTIFIER else set()
        assert pairs == {(stream, target) for stream in CONSUMED_STREAMS[target]} | internal


def test_keda_reaches_the_same_redis_as_the_services() -> None:
    secrets = SECRET["stringData"]
    url = urlsplit(secrets["REDIS_URL"])
    assert url.password == secrets["REDIS_PASSWORD"]
    assert f"{url.hostname}:{url.port}" == CONFIG["data"]["REDIS_ADDRESS"]
    assert urlsplit(secrets["INDEX_URL"]).scheme == "postgresql"


@pytest.mark.parametrize("name", PIPELINE)
def test_each_deployment_is_probed_bounded_and_unprivileged(name: str) -> None:
    deployment = DEPLOYMENTS[name]
    pod = deployment["spec"]["template"]["spec"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = pod["containers"]
    assert container["image"].split(":")[0] == f"pactwatch/{name}"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": int(CONFIG["data"]["PORT"])}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    grace = float(CONFIG["data"]["PACTWATCH_SHUTDOWN_GRACE_S"])
    assert pod["terminationGracePeriodSeconds"] > max(grace, GRACE_S)
    for kind in ["requests", "limits"]:
        assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{name} {kind}"
    secret_env = {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secret_env["REDIS_URL"] == {"name": SECRET["metadata"]["name"], "key": "REDIS_URL"}
    for ref in secret_env.values():
        assert ref["key"] in SECRET["stringData"]
    assert container["envFrom"] == [{"configMapRef": {"name": CONFIG["metadata"]["name"]}}]
    if name == "indexer":
        assert secret_env["INDEX_URL"]["key"] == "INDEX_URL"


def test_the_extractor_gets_room_for_spacy() -> None:
    (container,) = DEPLOYMENTS["extractor"]["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["memory"] == "600Mi"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def test_pods_meet_the_restricted_pod_security_profile() -> None:
    (namespace,) = of_kind("Namespace").values()
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    (user,) = [i.args for i in parse_dockerfile().stage("runtime").all("USER")]
    uid = int(user.split(":")[0])
    for name, pod in pod_specs():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] == uid, f"{name}: not the image's user"
        assert context["seccompProfile"]["type"] == "RuntimeDefault"
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert security["readOnlyRootFilesystem"] is True


def test_services_front_the_http_deployments() -> None:
    found = of_kind("Service")
    assert set(found) == set(HTTP_SERVICES)
    for name, service in found.items():
        labels = DEPLOYMENTS[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items()
        container = DEPLOYMENTS[name]["spec"]["template"]["spec"]["containers"][0]
        names = {p["name"] for p in container["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def image_service(image: str) -> str:
    service = image.split(":")[0].removeprefix("pactwatch/")
    assert service in services(), f"{image} is not built from deploy/Dockerfile"
    return service


def test_every_command_started_exists_in_its_image() -> None:
    docker = parse_dockerfile()
    checked = 0
    for name, pod in pod_specs():
        for container in pod["containers"]:
            service = image_service(container["image"])
            argv = container.get("command")
            if argv is None:
                (cmd,) = docker.stage(f"service-{service}").all("CMD")
                argv = cmd.exec_form()
            assert argv is not None
            assert argv[:2] == ["python", "-m"], f"{name}: {argv}"
            assert module_runs(argv[2]), f"{name}: python -m {argv[2]} runs nothing"
            assert argv[2].split(".")[0] in importable_in_image(service)
            checked += 1
    assert checked == len(PIPELINE) + 1  # and the groups Job


def test_the_groups_job_runs_the_init_step() -> None:
    (job,) = of_kind("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["python", "-m", "pactwatch.groups"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"OnFailure", "Never"}
    assert job["spec"]["backoffLimit"] >= 1


def test_kustomization_lists_every_manifest_and_image() -> None:
    kustomization = yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())
    files = {p.name for p in K8S_DIR.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files
    (namespace,) = of_kind("Namespace")
    assert kustomization["namespace"] == namespace
    images = {c["image"].split(":")[0] for _, pod in pod_specs() for c in pod["containers"]}
    assert images <= {i["name"] for i in kustomization["images"]}
    for _, document in DOCUMENTS:
        assert "namespace" not in document["metadata"], "kustomize sets the namespace"
