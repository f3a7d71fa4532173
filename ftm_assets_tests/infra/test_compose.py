"""docker/dagster/docker-compose.yml, statically: services, one image, roles, environment, health checks, files."""

from __future__ import annotations

import re
import yaml

from ftm_assets_tests.infra.conftest import PROJECT_ROOT

DAGSTER_DIR = PROJECT_ROOT / "docker" / "dagster"
COMPOSE = DAGSTER_DIR / "docker-compose.yml"
PRODUCTION_TEST = PROJECT_ROOT / "ftm_assets_tests" / "deploy" / "test_production_side.py"
DAGSTER_SERVICES = ("code", "webserver", "daemon")


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _env_refs(config: object) -> set[str]:
    """Every ``{env: NAME}`` in a Dagster instance config."""
    if isinstance(config, dict):
        refs = {config["env"]} if set(config) == {"env"} else set()
        return refs.union(*(_env_refs(v) for v in config.values()))
    if isinstance(config, list):
        return set().union(*(_env_refs(v) for v in config))
    return set()


def _entrypoint_roles() -> set[str]:
    script = (DAGSTER_DIR / "entrypoint.sh").read_text()
    return set(re.findall(r"^\s{2}([a-z-]+)\)$", script, flags=re.M))


def test_the_four_services_of_dagsters_docker_deployment():
    services = _compose()["services"]
    assert set(services) == {"postgresql", *DAGSTER_SERVICES}
    assert services["postgresql"]["image"].startswith("postgres:") and ":latest" not in services["postgresql"]["image"]


def test_one_image_for_code_server_webserver_and_daemon_each_started_in_its_role():
    services = _compose()["services"]
    images = {services[s]["image"] for s in DAGSTER_SERVICES}
    assert len(images) == 1, images
    builds = [s for s in DAGSTER_SERVICES if "build" in services[s]]
    assert builds == ["code"], "built once, shared by the other two"
    build = services["code"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DAGSTER_DIR / "Dockerfile"
    roles = _entrypoint_roles()
    assert {"webserver", "daemon", "code-server"} <= roles
    assert {services[s]["command"][0] for s in DAGSTER_SERVICES} == {"code-server", "webserver", "daemon"}


def test_environment_carries_what_the_instance_and_the_code_location_read():
    compose = _compose()
    instance = yaml.safe_load((DAGSTER_DIR / "dagster.yaml").read_text())
    needed = _env_refs(instance)
    assert needed == {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB", "DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"}
    for name in DAGSTER_SERVICES:
        env = compose["services"][name]["environment"]
        assert needed <= set(env), (name, needed - set(env))
        assert env["DAGSTER_PG_HOST"] == "postgresql" and env["DAGSTER_CODE_SERVER_HOST"] == "code"
        assert "${DAGSTER_PG_PASSWORD:?" in env["DAGSTER_PG_PASSWORD"], "no password in the file, and none empty"
        assert {"FTM_ENV", "FTM_STORAGE_ROOT", "FTM_MAX_BATCH_JOBS_IN_FLIGHT", "FTM_AUTOMATION"} <= set(env)


def test_every_service_has_a_health_check_and_starts_after_what_it_needs():
    services = _compose()["services"]
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), name
        assert service.get("restart") == "unless-stopped", name
    assert services["daemon"]["healthcheck"]["test"][:2] == ["CMD", "dagster-daemon"]
    assert "grpc-health-check" in services["code"]["healthcheck"]["test"]
    for name in ("webserver", "daemon"):
        assert services[name]["depends_on"] == {"postgresql": {"condition": "service_healthy"},
                                                "code": {"condition": "service_healthy"}}


def test_webserver_only_on_loopback_and_no_docker_socket():
    compose = _compose()
    assert compose["services"]["webserver"]["ports"] == ["127.0.0.1:3000:3000"]
    for service in compose["services"].values():
        assert "ports" not in service or service is compose["services"]["webserver"]
        assert not any("docker.sock" in str(v) for v in service.get("volumes", []))
    assert "dagster-postgres" in compose["volumes"]


def test_the_image_ships_the_files_the_production_test_starts():
    dockerfile = (DAGSTER_DIR / "Dockerfile").read_text()
    assert "COPY docker/dagster/dagster.yaml" in dockerfile
    assert "COPY docker/dagster/entrypoint.sh /usr/local/bin/ftm-dagster" in dockerfile
    test = PRODUCTION_TEST.read_text()
    assert 'DOCKER / "dagster.yaml"' in test and 'DOCKER / "entrypoint.sh"' in test
    example = DAGSTER_DIR / "compose.env.example"
    assert "DAGSTER_PG_PASSWORD=" in example.read_text()
    # The filled-in .env never enters git or the image's build context.
    assert "/docker/dagster/.env" in (PROJECT_ROOT / ".gitignore").read_text().splitlines()
    assert "docker/dagster/.env" in (DAGSTER_DIR / "Dockerfile.dockerignore").read_text().splitlines()
