"""infra/: compose and the Kubernetes manifests, checked without Docker or a cluster.

There is no container engine here, so the files are validated against the published schemas
(compose-spec, Kubernetes' OpenAPI) and then read for what the issue asks of them: replicas,
disruption budgets, spread, probes on endpoints the services really serve, and only variables
runwire really reads.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import check_jsonschema
import jsonschema
import kubernetes_validate
import msgspec
import opentelemetry.sdk.environment_variables as otel_variables
import pytest
import yaml

from runwire.ops.settings import PREFIX, Settings, load_settings
from runwire.web.health import healthz, readyz

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
K8S = INFRA / "k8s"
# The newest Kubernetes kubernetes-validate bundles (strict: unknown fields are errors).
KUBERNETES_VERSION = "1.37.0"

# compose service / Kubernetes container name -> the package `python -m` runs.
SERVICES = {
    "stream-api": "runwire_stream_api",
    "ingest": "runwire_ingest",
    "agent": "runwire_agent",
    "workflow": "runwire_workflow",
}
# The domain services' own tunables: RUNWIRE_<SERVICE>_<FIELD> (runwire_<service>/config.py).
TUNABLES = {"runwire_ingest": "INGEST", "runwire_agent": "AGENT", "runwire_workflow": "WORKFLOW"}

Doc = dict[str, Any]


# --- loading ---------------------------------------------------------------------------------


@cache
def compose() -> Doc:
    loaded: Doc = yaml.safe_load((INFRA / "compose.yaml").read_text())
    return loaded


def compose_runwire_services() -> dict[str, Doc]:
    """The compose services that run a runwire package, by compose name."""
    return {
        name: svc for name, svc in compose()["services"].items() if package_of(svc.get("command")) is not None
    }


@cache
def kustomization() -> Doc:
    loaded: Doc = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return loaded


@cache
def k8s_documents() -> tuple[tuple[str, Doc], ...]:
    """(file, document) for every document of every manifest kustomization.yaml lists."""
    found: list[tuple[str, Doc]] = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc is not None:
                found.append((name, doc))
    return tuple(found)


def k8s_kind(kind: str) -> list[Doc]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def k8s_named(kind: str, name: str) -> Doc:
    matches = [doc for doc in k8s_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def workloads() -> list[Doc]:
    return k8s_kind("Deployment") + k8s_kind("StatefulSet")


def package_of(command: Any) -> str | None:
    """The runwire package a `python -m <package>` command runs, else None."""
    if isinstance(command, list) and command[:2] == ["python", "-m"] and command[2] in SERVICES.values():
        package: str = command[2]
        return package
    return None


def k8s_runwire_deployments() -> dict[str, Doc]:
    """The Deployment running each runwire service, by service name."""
    found: dict[str, Doc] = {}
    for deployment in k8s_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            package = package_of(container.get("command"))
            if package is not None:
                service = next(name for name, pkg in SERVICES.items() if pkg == package)
                assert service not in found, f"{service} runs in two Deployments"
                found[service] = deployment
    return found


def runwire_container(deployment: Doc) -> Doc:
    containers: list[Doc] = deployment["spec"]["template"]["spec"]["containers"]
    (container,) = [c for c in containers if package_of(c.get("command"))]
    return container


def k8s_env(container: Doc) -> dict[str, str]:
    """The container's plain-value variables (valueFrom ones map to an empty string)."""
    return {item["name"]: str(item.get("value", "")) for item in container.get("env", [])}


def selects(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def pod_labels(workload: Doc) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def container_port(container: Doc, port: int | str) -> int:
    """A probe's or Service's target port as a number (it may name a container port)."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container.get("ports", []) if p.get("name") == port]
    assert isinstance(number, int)
    return number


def service_port(package: str, environ: Mapping[str, str]) -> int:
    """Where `python -m <package>` listens with this environment: RUNWIRE_HTTP_PORT + its offset."""
    offset = getattr(importlib.import_module(f"{package}.app"), "PORT_OFFSET", 0)
    return load_settings(with_secret(environ)).service_port(offset)


def with_secret(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment with a stand-in for the secret (a Secret or `${...}` in the files)."""
    return {**environ, "RUNWIRE_AUTH_SECRET": "x" * 32}


@cache
def served_paths(package: str) -> frozenset[str]:
    """The paths the service's real application routes, built as its entry point builds it."""
    settings = load_settings({"RUNWIRE_NATS_URL": "nats://127.0.0.1:4222", "RUNWIRE_AUTH_SECRET": "x" * 32})
    app = importlib.import_module(f"{package}.app").create_app(settings)
    return frozenset(route.path for route in app.routes)


def path_of(handler: Any) -> str:
    (path,) = handler.paths
    assert isinstance(path, str)
    return path


# --- which variables runwire reads -----------------------------------------------------------


def known_variables(package: str) -> set[str]:
    """Every variable `package` reads: the shared settings, its tunables, the standard OTEL_* ones."""
    names = {PREFIX + field.name.upper() for field in msgspec.structs.fields(Settings)}
    if package in TUNABLES:
        config = importlib.import_module(f"{package}.config")
        (config_class,) = [
            value
            for value in vars(config).values()
            if isinstance(value, type)
            and issubclass(value, msgspec.Struct)
            and value.__module__ == config.__name__
        ]
        names |= {
            f"{PREFIX}{TUNABLES[package]}_{field.name.upper()}"
            for field in msgspec.structs.fields(config_class)
        }
    names |= {name for name in vars(otel_variables) if name.startswith("OTEL_")}
    return names


def unread_variables(package: str, names: set[str]) -> set[str]:
    """The names runwire's `package` would silently ignore (a typo, or a setting that is gone)."""
    return names - known_variables(package)


def runwire_environments() -> Iterator[tuple[str, str, dict[str, str]]]:
    """(where, package, environment) of every runwire container in compose and Kubernetes."""
    for name, svc in compose_runwire_services().items():
        package = package_of(svc["command"])
        assert package is not None
        yield f"compose:{name}", package, {key: str(value) for key, value in svc["environment"].items()}
    for service, deployment in k8s_runwire_deployments().items():
        yield f"k8s:{service}", SERVICES[service], k8s_env(runwire_container(deployment))


# --- schemas ---------------------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    schema_file = Path(check_jsonschema.__file__).parent / "builtin_schemas/vendor/compose-spec.json"
    schema = json.loads(schema_file.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator_class(schema).iter_errors(compose())]
    assert errors == []


@pytest.mark.parametrize(
    ("name", "doc"),
    k8s_documents(),
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in k8s_documents()],
)
def test_kubernetes_document_is_valid_against_the_kubernetes_schemas(name: str, doc: Doc) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    manifests = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(kustomization()["resources"]) == sorted(manifests)


# --- Kubernetes: every service replicated, budgeted, spread and probed -------------------------


def test_every_service_runs_as_a_deployment_of_at_least_two_replicas() -> None:
    deployments = k8s_runwire_deployments()
    assert sorted(deployments) == sorted(SERVICES)
    for service, deployment in deployments.items():
        assert deployment["spec"]["replicas"] >= 2, service


def test_nats_runs_as_three_jetstream_nodes() -> None:
    nats = k8s_named("StatefulSet", "nats")
    assert nats["spec"]["replicas"] == 3
    config = k8s_named("ConfigMap", "nats-config")["data"]["nats.conf"]
    assert "jetstream {" in config
    routes = re.findall(r"nats-route://(\S+)", config)
    assert routes == [f"nats-{i}.{nats['spec']['serviceName']}:6222" for i in range(3)]


def test_every_workload_has_a_disruption_budget_of_one_pod() -> None:
    budgets = k8s_kind("PodDisruptionBudget")
    for workload in [*k8s_runwire_deployments().values(), k8s_named("StatefulSet", "nats")]:
        name = workload["metadata"]["name"]
        matching = [b for b in budgets if selects(b["spec"]["selector"]["matchLabels"], pod_labels(workload))]
        assert len(matching) == 1, f"{name}: {len(matching)} budgets select its pods"
        spec = matching[0]["spec"]
        assert spec.get("maxUnavailable") == 1 or spec.get("minAvailable") == 1, name


def test_every_disruption_budget_selects_one_workload_only() -> None:
    for budget in k8s_kind("PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        selected = [w["metadata"]["name"] for w in workloads() if selects(selector, pod_labels(w))]
        assert len(selected) == 1, f"{budget['metadata']['name']} selects {selected}"


def spreads_by_hostname(workload: Doc) -> bool:
    """Whether the pods are kept apart by machine: a hostname spread or a hard anti-affinity."""
    spec = workload["spec"]["template"]["spec"]
    labels = pod_labels(workload)
    for constraint in spec.get("topologySpreadConstraints", []):
        if constraint["topologyKey"] == "kubernetes.io/hostname" and selects(
            constraint["labelSelector"]["matchLabels"], labels
        ):
            return bool(constraint["maxSkew"] == 1 and constraint["whenUnsatisfiable"] == "DoNotSchedule")
    anti = spec.get("affinity", {}).get("podAntiAffinity", {})
    return any(
        term["topologyKey"] == "kubernetes.io/hostname"
        and selects(term["labelSelector"]["matchLabels"], labels)
        for term in anti.get("requiredDuringSchedulingIgnoredDuringExecution", [])
    )


def test_every_workload_spreads_its_pods_over_machines() -> None:
    for workload in [*k8s_runwire_deployments().values(), k8s_named("StatefulSet", "nats")]:
        assert spreads_by_hostname(workload), workload["metadata"]["name"]


def test_readiness_probe_asks_the_readiness_endpoint_the_service_serves() -> None:
    for service, deployment in k8s_runwire_deployments().items():
        container = runwire_container(deployment)
        package = SERVICES[service]
        probe = container["readinessProbe"]["httpGet"]
        assert probe["path"] == path_of(readyz), service
        assert probe["path"] in served_paths(package), service
        assert container_port(container, probe["port"]) == service_port(package, k8s_env(container)), service


def test_liveness_probe_asks_the_liveness_endpoint_the_service_serves() -> None:
    for service, deployment in k8s_runwire_deployments().items():
        container = runwire_container(deployment)
        package = SERVICES[service]
        probe = container["livenessProbe"]["httpGet"]
        # /healthz, never /readyz: a NATS outage must not restart every replica.
        assert probe["path"] == path_of(healthz), service
        assert probe["path"] in served_paths(package), service
        assert container_port(container, probe["port"]) == service_port(package, k8s_env(container)), service


def test_every_service_routes_to_a_port_its_pods_listen_on() -> None:
    for svc in k8s_kind("Service"):
        selected = [w for w in workloads() if selects(svc["spec"]["selector"], pod_labels(w))]
        assert len(selected) == 1, f"Service {svc['metadata']['name']} selects {len(selected)} workloads"
        (container, *_) = selected[0]["spec"]["template"]["spec"]["containers"]
        for port in svc["spec"]["ports"]:
            container_port(container, port.get("targetPort", port["port"]))


def test_auth_secret_comes_from_a_kubernetes_secret() -> None:
    for service, deployment in k8s_runwire_deployments().items():
        (item,) = [e for e in runwire_container(deployment)["env"] if e["name"] == "RUNWIRE_AUTH_SECRET"]
        assert "value" not in item, service
        assert item["valueFrom"]["secretKeyRef"]["name"], service


def test_nats_url_lists_every_nats_pod() -> None:
    nats = k8s_named("StatefulSet", "nats")
    (client_port,) = [
        p["containerPort"]
        for p in nats["spec"]["template"]["spec"]["containers"][0]["ports"]
        if p["name"] == "client"
    ]
    headless = k8s_named("Service", nats["spec"]["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    pods = [
        f"nats://nats-{i}.{headless['metadata']['name']}:{client_port}"
        for i in range(nats["spec"]["replicas"])
    ]
    for service, deployment in k8s_runwire_deployments().items():
        env = load_settings(with_secret(k8s_env(runwire_container(deployment))))
        assert env.nats_servers == pods, service


def test_stream_replicas_match_the_nats_nodes() -> None:
    nodes = k8s_named("StatefulSet", "nats")["spec"]["replicas"]
    for service, deployment in k8s_runwire_deployments().items():
        settings = load_settings(with_secret(k8s_env(runwire_container(deployment))))
        assert settings.stream_replicas == nodes == 3, service


def test_pods_run_as_non_root_on_a_read_only_root_filesystem() -> None:
    for workload in workloads():
        name = workload["metadata"]["name"]
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod.get("automountServiceAccountToken") is False, name
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name


def test_runwire_pods_run_as_the_images_user() -> None:
    dockerfile = (INFRA / "Dockerfile").read_text()
    uid = int(re.search(r"useradd .*--uid (\d+)", dockerfile).group(1))  # type: ignore[union-attr]
    for service, deployment in k8s_runwire_deployments().items():
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid, service


def test_every_container_requests_resources_and_limits_memory() -> None:
    for workload in workloads():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]), workload["metadata"]["name"]
            assert "memory" in resources["limits"], workload["metadata"]["name"]


# --- variables: only ones runwire reads, with valid values -----------------------------------


def test_a_misspelled_variable_is_reported_as_unread() -> None:
    assert unread_variables("runwire_ingest", {"RUNWIRE_NATS_URLS", "RUNWIRE_INGEST_CHUNK_SIZE"}) == {
        "RUNWIRE_NATS_URLS"
    }
    assert unread_variables("runwire_stream_api", {"RUNWIRE_INGEST_CHUNK_SIZE", "OTEL_SERVICE_NAME"}) == {
        "RUNWIRE_INGEST_CHUNK_SIZE"
    }


def test_every_variable_the_files_set_is_one_runwire_reads() -> None:
    for where, package, environ in runwire_environments():
        assert unread_variables(package, set(environ)) == set(), where


def test_every_value_the_files_set_is_valid() -> None:
    for where, package, environ in runwire_environments():
        settings = load_settings(with_secret(environ))
        assert settings.nats_servers, where
        if package in TUNABLES:
            importlib.import_module(f"{package}.config").load_config(environ)


# --- telemetry: the collector named is the collector defined ----------------------------------


def otlp_endpoints() -> Iterator[tuple[str, str]]:
    for where, _, environ in runwire_environments():
        yield where, environ["OTEL_EXPORTER_OTLP_ENDPOINT"]


@cache
def collector_config() -> Doc:
    loaded: Doc = yaml.safe_load((INFRA / "otel-collector.yaml").read_text())
    return loaded


def collector_receiver_port() -> int:
    endpoint = collector_config()["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    return int(endpoint.rsplit(":", 1)[1])


def test_otlp_endpoint_names_the_collector_compose_defines() -> None:
    services = compose()["services"]
    for where, endpoint in otlp_endpoints():
        if not where.startswith("compose:"):
            continue
        url = urlsplit(endpoint)
        collector = services[url.hostname]
        assert "./otel-collector.yaml:/etc/otelcol/config.yaml:ro" in collector["volumes"], where
        assert url.port == collector_receiver_port(), where


def test_otlp_endpoint_names_the_collector_kubernetes_defines() -> None:
    for where, endpoint in otlp_endpoints():
        if not where.startswith("k8s:"):
            continue
        url = urlsplit(endpoint)
        service = k8s_named("Service", str(url.hostname))
        (port,) = [p for p in service["spec"]["ports"] if p["port"] == url.port]
        (collector,) = [w for w in workloads() if selects(service["spec"]["selector"], pod_labels(w))]
        (container,) = collector["spec"]["template"]["spec"]["containers"]
        assert "opentelemetry-collector" in container["image"], where
        assert container_port(container, port["targetPort"]) == collector_receiver_port(), where


def test_collector_configuration_is_the_same_in_compose_and_kubernetes() -> None:
    config_map = k8s_named("ConfigMap", "otel-collector")
    assert config_map["data"]["config.yaml"] == (INFRA / "otel-collector.yaml").read_text()
    collector = k8s_named("Deployment", "otel-collector")["spec"]["template"]["spec"]
    (volume,) = [v for v in collector["volumes"] if v.get("configMap", {}).get("name") == "otel-collector"]
    (container,) = collector["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
    assert f"--config={mount['mountPath']}/config.yaml" in container["args"]


def test_collector_sends_traces_to_a_jaeger_both_define() -> None:
    host, port = collector_config()["exporters"]["otlp/jaeger"]["endpoint"].split(":")
    assert host in compose()["services"]
    service = k8s_named("Service", host)
    assert int(port) in [p["port"] for p in service["spec"]["ports"]]


# --- compose: scaled services behind the proxy -------------------------------------------------


def test_compose_runs_every_service_at_least_twice() -> None:
    services = compose_runwire_services()
    assert sorted(services) == sorted(SERVICES)
    for name, svc in services.items():
        assert svc["deploy"]["replicas"] >= 2, name


def test_scaled_compose_services_publish_no_fixed_host_port() -> None:
    # Two replicas cannot bind one host port: `docker compose up --scale` would fail.
    for name, svc in compose()["services"].items():
        if svc.get("deploy", {}).get("replicas", 1) > 1:
            assert "ports" not in svc, name


def proxy_routes() -> dict[int, tuple[str, int]]:
    """Caddyfile: published port -> (compose service, its port)."""
    caddyfile = (INFRA / "proxy" / "Caddyfile").read_text()
    blocks = re.findall(r"^:(\d+) \{\n\timport replicas (\S+) (\d+)\n\}$", caddyfile, re.MULTILINE)
    return {int(listen): (service, int(port)) for listen, service, port in blocks}


def test_the_proxy_publishes_each_service_and_spreads_it_over_its_replicas() -> None:
    proxy = compose()["services"]["proxy"]
    assert "./proxy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    published = {int(mapping.split(":")[1]): int(mapping.split(":")[2]) for mapping in proxy["ports"]}
    routes = proxy_routes()
    for name, svc in compose_runwire_services().items():
        port = service_port(SERVICES[name], svc["environment"])
        assert routes[port] == (name, port), name
        assert published[port] == port, name


def test_compose_healthchecks_ask_each_services_readiness_endpoint() -> None:
    for name, svc in compose_runwire_services().items():
        port = service_port(SERVICES[name], svc["environment"])
        assert path_of(readyz) in served_paths(SERVICES[name])
        assert f"'http://127.0.0.1:{port}{path_of(readyz)}'" in " ".join(svc["healthcheck"]["test"]), name


def test_compose_publishes_host_ports_on_loopback_only() -> None:
    for name, svc in compose()["services"].items():
        for mapping in svc.get("ports", []):
            assert str(mapping).startswith("127.0.0.1:"), f"{name}: {mapping}"


def test_compose_nats_url_lists_every_nats_node() -> None:
    nodes = sorted(name for name in compose()["services"] if re.fullmatch(r"nats-\d", name))
    assert len(nodes) == 3
    for name, svc in compose_runwire_services().items():
        settings = load_settings(with_secret(svc["environment"]))
        assert settings.nats_servers == [f"nats://{node}:4222" for node in nodes], name
        assert settings.stream_replicas == len(nodes), name


# --- NATS configs: loopback ones on loopback, container ones route to every node ---------------


def bindings(conf: str) -> list[str]:
    """The hosts a nats-server config binds: `listen`, `http` and `host` values, without ports."""
    values = re.findall(r"^\s*(?:listen|http|host)\s*[:=]\s*(\S+)", conf, re.MULTILINE)
    return [value.rsplit(":", 1)[0] if ":" in value else value for value in values]


@pytest.mark.parametrize("name", ["single.conf", "local-cluster.conf"])
def test_loopback_nats_configs_bind_127_0_0_1(name: str) -> None:
    found = bindings((INFRA / "nats" / name).read_text())
    assert found, name
    assert set(found) == {"127.0.0.1"}


def test_container_nats_configs_route_to_every_compose_node() -> None:
    services = compose()["services"]
    for index in (1, 2, 3):
        conf = (INFRA / "nats" / f"cluster-{index}.conf").read_text()
        assert (
            f"./nats/cluster-{index}.conf:/etc/nats/runwire.conf:ro" in services[f"nats-{index}"]["volumes"]
        )
        assert re.search(rf"^server_name: nats-{index}$", conf, re.MULTILINE)
        assert re.findall(r"nats-route://(\S+)", conf) == ["nats-1:6222", "nats-2:6222", "nats-3:6222"]
