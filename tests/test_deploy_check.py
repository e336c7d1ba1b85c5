"""`manage.py check --deploy --fail-level WARNING` passes with the production variables.

The production settings are config/settings.py read with DEBUG=false and the variables of
.env.example (docs/configuration.md): each test starts a fresh Python with only those variables,
so nothing from the test run's own settings leaks in.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from coupons.signing import generate_seed_setting

ROOT = Path(__file__).resolve().parent.parent
HOST = "coupons.example.org"


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        # What the process needs to run, and nothing of the test run's own configuration.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        # The production variables (.env.example), with fresh secrets.
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'production.sqlite3'}",
        "COUPON_SIGNING_KEYS": generate_seed_setting(1),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PRIVACY_HASH_KEY": secrets.token_urlsafe(32),
        "LOG_FORMAT": "json",
    }
    env.update(overrides)
    return env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


def test_the_deploy_check_passes_with_the_production_variables(tmp_path: Path) -> None:
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_passes_on_a_migrated_database_too(tmp_path: Path) -> None:
    # With --database the checks also read the database (the coupon signing keys kept there).
    env = production_env(tmp_path)
    migrated = run(["manage.py", "migrate", "--noinput", "-v", "0"], env)
    assert migrated.returncode == 0, migrated.stderr

    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING", "--database", "default"],
        env,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_fails_on_a_development_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["SECRET_KEY"]  # the development default

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode != 0
    assert "security.W009" in result.stderr


PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
client = Client(HTTP_HOST="%(host)s")
plain = client.get("/comptes/login/")
health_plain = client.get("/api/v1/health")
secure = client.get("/api/v1/health", secure=True)
client.get("/api/v1/revocations", secure=True, headers={"X-Request-ID": "probe-1"})  # a 401
print(json.dumps({
    "settings": {name: getattr(settings, name) for name in (
        "DEBUG", "SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_SECURE", "CSRF_COOKIE_HTTPONLY", "CSRF_COOKIE_NAME", "LANGUAGE_COOKIE_SECURE",
        "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "X_FRAME_OPTIONS", "SECURE_REFERRER_POLICY", "SECURE_CROSS_ORIGIN_OPENER_POLICY",
    )},
    "plain": [plain.status_code, plain.get("Location", "")],
    "health_plain": health_plain.status_code,
    "secure": {key: secure.get(key, "") for key in (
        "Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options",
        "Cache-Control", "X-Request-ID",
    )},
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory: Any) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("production")
    result = run(["-c", PROBE % {"host": HOST}], production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    found: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    found["log_lines"] = result.stderr.splitlines()
    return found


def test_production_cookies_are_secure_http_only_and_host_bound(production: Any) -> None:
    values = production["settings"]

    assert values["DEBUG"] is False
    assert values["SESSION_COOKIE_SECURE"] and values["SESSION_COOKIE_HTTPONLY"]
    assert values["CSRF_COOKIE_SECURE"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["LANGUAGE_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert values["CSRF_COOKIE_NAME"].startswith("__Host-")


def test_production_redirects_to_https_but_lets_the_health_probe_through(production: Any) -> None:
    status, location = production["plain"]

    assert production["settings"]["SECURE_SSL_REDIRECT"] is True
    assert status == 301 and location == f"https://{HOST}/comptes/login/"
    assert production["health_plain"] == 200


def test_production_sends_hsts_for_a_year_and_the_other_headers(production: Any) -> None:
    headers = production["secure"]

    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert "no-store" in headers["Cache-Control"]
    assert headers["X-Request-ID"]
    assert production["settings"]["SECURE_REFERRER_POLICY"] == "same-origin"
    assert production["settings"]["SECURE_CROSS_ORIGIN_OPENER_POLICY"] == "same-origin"


def test_production_logs_are_json_lines_with_the_request_id(production: Any) -> None:
    entries = [json.loads(line) for line in production["log_lines"] if line.strip()]

    assert all({"time", "level", "logger", "message"} <= entry.keys() for entry in entries)
    refused = [entry for entry in entries if entry["logger"] == "django.request"]
    assert [(e["status_code"], e["request_id"], e["path"]) for e in refused] == [
        (401, "probe-1", "/api/v1/revocations")
    ]
