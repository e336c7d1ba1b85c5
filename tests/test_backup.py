"""`manage.py backup` writes a consistent archive; `manage.py restore` puts it into a fresh
database, where the ledger (funds, coupons, redemptions, statements) has the very same
checksums. On SQLite always; on PostgreSQL (pg_dump/pg_restore) with the postgres marker.

The restoration runs in another process pointed at the fresh database, as an operator would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from comptes.backups import LEDGER_MODELS, ledger_checksums
from marches.redemptions import redeem_coupon
from tests import factories as f

ROOT = Path(settings.BASE_DIR)
CHECKSUMS = (
    "import json; from comptes.backups import ledger_checksums; "
    "print(json.dumps({k: v.as_dict() for k, v in ledger_checksums().items()}))"
)


def a_season() -> None:
    """Funds, coupons, a redemption: one row in each ledger table but the statements."""
    program = f.ProgramFactory()
    f.set_funds(program, Decimal("250.00"))
    market = f.MarketFactory(program=program)
    vendor = f.VendorFactory(market=market)
    coupons = [f.CouponFactory(program=program) for _ in range(3)]
    redeem_coupon(code=coupons[0].code, vendor=vendor, market=market, client_id=uuid.uuid4())


def manage(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def round_trip(tmp_path: Path, fresh_url: str) -> None:
    a_season()
    archive = tmp_path / "coupons.tar.gz"
    here = {label: value.as_dict() for label, value in ledger_checksums().items()}

    call_command("backup", output=str(archive))

    with tarfile.open(archive) as members:
        manifest = json.load(members.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["ledger"] == here
    assert manifest["ledger"]["marches.Redemption"]["rows"] == 1
    assert manifest["ledger"]["coupons.Coupon"]["rows"] == 3
    assert oct(archive.stat().st_mode & 0o777) == "0o600"

    restored = manage("restore", str(archive), database_url=fresh_url)
    assert restored.returncode == 0, restored.stderr
    assert "Ledger identical" in restored.stdout

    there = manage("shell", "-c", CHECKSUMS, database_url=fresh_url)
    assert there.returncode == 0, there.stderr
    assert json.loads(there.stdout.strip().splitlines()[-1]) == here
    assert set(here) == set(LEDGER_MODELS)

    again = manage("restore", str(archive), database_url=fresh_url)
    assert again.returncode != 0
    assert "not_empty" in again.stderr


@pytest.mark.django_db(transaction=True)
def test_a_sqlite_backup_restores_with_the_same_ledger(tmp_path: Path) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite route; the PostgreSQL one is the test below")
    round_trip(tmp_path, f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_postgresql_backup_restores_with_the_same_ledger(tmp_path: Path) -> None:
    import psycopg

    params = connection.settings_dict
    fresh = f"{params['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(
        dbname="postgres",
        host=params["HOST"] or None,
        port=params["PORT"] or None,
        user=params["USER"] or None,
        password=params["PASSWORD"] or None,
        autocommit=True,
    )
    user = params["USER"] or ""
    auth = f"{user}:{params['PASSWORD']}@" if params["PASSWORD"] else (f"{user}@" if user else "")
    admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        round_trip(tmp_path, f"postgres://{auth}{params['HOST']}:{params['PORT'] or 5432}/{fresh}")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        admin.close()


@pytest.mark.django_db(transaction=True)
def test_a_damaged_archive_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"unreadable|bad_archive"):
        call_command("restore", str(tmp_path / "missing.tar.gz"))
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(CommandError):
        call_command("restore", str(junk))


@pytest.mark.django_db
def test_a_backup_cannot_run_inside_a_transaction(tmp_path: Path) -> None:
    # The `db` fixture wraps the test in a transaction: its snapshot would not be the backup's.
    with pytest.raises(CommandError, match="in_transaction"):
        call_command("backup", output=str(tmp_path / "x.tar.gz"))


def test_the_checksums_do_not_depend_on_the_engine_types() -> None:
    import datetime

    from comptes.backups import _rows_digest

    aware = datetime.datetime(2026, 6, 2, 14, 0, tzinfo=datetime.UTC)
    same = _rows_digest([(1, Decimal("5.00"), aware, None)])
    assert same == _rows_digest([(1, Decimal("5.00"), aware.astimezone(), None)])
    assert same != _rows_digest([(1, Decimal("5.01"), aware, None)])
