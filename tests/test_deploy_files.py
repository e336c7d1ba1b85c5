"""The deployment files agree with the project: the Dockerfile, compose.yaml (read by a small
block-style parser, since PyYAML is not a dependency), .dockerignore, deploy/*.sql and
docs/deploy.md name commands that exist, environment variables the settings read, and the
worker, the migrations and the scheduled jobs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import get_commands

ROOT = Path(settings.BASE_DIR)


def parse_block_yaml(text: str) -> dict[str, Any]:
    """Block mappings, block lists of scalars and plain or quoted scalars: all compose.yaml uses.

    Anything else (anchors, flow collections, multi-line scalars) is refused, so that the file
    stays within what this reads.
    """
    lines = []
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        lines.append((indent, raw.strip()))

    def scalar(value: str) -> Any:
        if value[:1] in "&*{[|>":
            raise ValueError(f"unsupported YAML: {value!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            return value[1:-1]
        return None if value in ("", "~", "null") else value

    def block(start: int, indent: int) -> tuple[Any, int]:
        if lines[start][1].startswith("- "):
            items = []
            i = start
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                items.append(scalar(lines[i][1][2:].strip()))
                i += 1
            return items, i
        mapping: dict[str, Any] = {}
        i = start
        while i < len(lines) and lines[i][0] == indent:
            key, sep, rest = lines[i][1].partition(":")
            if not sep:
                raise ValueError(f"unsupported YAML line: {lines[i][1]!r}")
            rest = rest.strip()
            if rest:
                mapping[key] = scalar(rest)
                i += 1
            elif i + 1 < len(lines) and lines[i + 1][0] > indent:
                mapping[key], i = block(i + 1, lines[i + 1][0])
            else:
                mapping[key] = None
                i += 1
        return mapping, i

    parsed, end = block(0, 0)
    if end != len(lines):
        raise ValueError(f"unparsed YAML from: {lines[end][1]!r}")
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return parse_block_yaml((ROOT / "compose.yaml").read_text())


def settings_env_names() -> set[str]:
    """Every environment variable config/settings.py and gunicorn.conf.py read."""
    source = (ROOT / "config" / "settings.py").read_text() + (ROOT / "gunicorn.conf.py").read_text()
    names = set(re.findall(r"env(?:\.\w+)?\(\s*\"([A-Z_][A-Z0-9_]*)\"", source))
    names |= set(re.findall(r"environ(?:\.get)?\(\s*\"([A-Z_][A-Z0-9_]*)\"", source))
    return names


def env_example_names() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", text, re.MULTILINE))


def manage_commands(command: str) -> list[str]:
    """The `manage.py` subcommands a shell command line runs."""
    return re.findall(r"manage\.py\s+([a-z_]+)", command)


def test_the_parser_reads_what_it_must_and_refuses_the_rest() -> None:
    parsed = parse_block_yaml("a:\n  b: 'x'\n  c:\n    - 1\n    - \"two\"\nd:\n")
    assert parsed == {"a": {"b": "x", "c": ["1", "two"]}, "d": None}
    with pytest.raises(ValueError):
        parse_block_yaml("a: &anchor\n  b: 1\n")
    with pytest.raises(ValueError):
        parse_block_yaml("a: [1, 2]\n")


def test_the_dockerfile_builds_a_non_root_gunicorn_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line[:1].isupper()]
    assert instructions[0] == ["FROM", "python:3.11-slim-bookworm"]
    users = [rest.strip() for keyword, rest in instructions if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert "collectstatic --noinput" in dockerfile
    assert "pip install --requirement requirements.txt" in dockerfile
    assert "postgresql-client" in dockerfile  # pg_dump for `manage.py backup`
    cmd = next(rest for keyword, rest in reversed(instructions) if keyword == "CMD")
    assert '"gunicorn", "--config", "gunicorn.conf.py"' in cmd
    assert (ROOT / "gunicorn.conf.py").exists()


def test_the_image_leaves_secrets_and_local_files_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "*.sqlite3", "var", "backups"} <= ignored


def test_compose_runs_the_site_the_worker_the_migrations_and_the_jobs(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) >= {"db", "migrate", "web", "worker", "scheduler"}
    assert services["db"]["image"].startswith("postgres:15")
    assert services["web"]["command"].startswith("gunicorn --config gunicorn.conf.py")
    assert manage_commands(services["worker"]["command"]) == ["db_worker"]
    assert manage_commands(services["migrate"]["command"]) == ["migrate"]
    assert "deploy/grants.sql" in services["migrate"]["command"]
    for name in ("web", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    daily = (ROOT / "deploy" / "daily.sh").read_text()
    assert services["scheduler"]["command"] == "sh deploy/daily.sh"
    assert manage_commands(daily) == ["apply_retention", "purge_print_files", "backup"]


def test_every_command_the_deployment_runs_exists(compose: dict[str, Any]) -> None:
    known = set(get_commands())
    texts = [str(service.get("command", "")) for service in compose["services"].values()]
    texts += [
        (ROOT / "deploy" / "daily.sh").read_text(),
        (ROOT / "docs" / "deploy.md").read_text(),
    ]
    used = {name for text in texts for name in manage_commands(text)}
    assert used >= {"migrate", "db_worker", "apply_retention", "purge_print_files", "backup"}
    assert used - known == set()


def test_the_environment_names_are_the_settings_own(compose: dict[str, Any]) -> None:
    read = settings_env_names()
    example = env_example_names()
    assert example - read == set(), "a name of .env.example that the settings never read"
    for name in ("web", "worker", "scheduler", "migrate"):
        service = compose["services"][name]
        assert service["env_file"] == ".env"
        assert set(service["environment"]) - read == set(), name
        assert service["environment"]["DATABASE_URL"].startswith("postgres://")
    # The site, the worker and the jobs use the application's role; only migrate is the owner.
    for name in ("web", "worker", "scheduler"):
        assert "//coupons_app:" in compose["services"][name]["environment"]["DATABASE_URL"]
    assert "//coupons_owner:" in compose["services"]["migrate"]["environment"]["DATABASE_URL"]


def test_the_grants_leave_the_application_no_way_to_change_the_log() -> None:
    grants = (ROOT / "deploy" / "grants.sql").read_text()
    assert re.search(
        r"REVOKE UPDATE, DELETE, TRUNCATE ON beneficiaires_auditentry FROM coupons_app;", grants
    )
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    assert "deploy/grants.sql" in deploy
    assert "REVOKE UPDATE, DELETE" in deploy
