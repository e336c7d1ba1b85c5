"""Backups of the whole database, and their restoration into an empty one.

An archive (`.tar.gz`) holds two members:

- `database.pgdump` (PostgreSQL, `pg_dump -Fc`) or `database.sqlite3` (SQLite, the sqlite3 backup
  API): the database itself, in the engine's own format, restored with the engine's own tool;
- `manifest.json`: when and from what it was made, the SHA-256 of the database member, the
  applied migrations, and a checksum of each ledger table (row count and SHA-256 of its rows in
  primary-key order), so that a restoration proves the money is whole.

Why the engine's own tools and not `dumpdata`: they copy everything (sequences, constraints,
the audit log's trigger) at the speed of the engine, and a province's season (a million
redemptions) does not go through Python objects. Consistency: on PostgreSQL the checksums are
computed in one REPEATABLE READ transaction whose snapshot `pg_dump --snapshot` reuses, so the
dump and the manifest see exactly the same rows while the site keeps running; on SQLite the copy
and the checksums are made inside one read transaction on the same connection.

This module names the ledger's models by their labels only (`apps.get_model`): it imports no
higher app.
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PG_MEMBER = "database.pgdump"
SQLITE_MEMBER = "database.sqlite3"

# The rows that say where every dollar went: funds received, coupons issued, redemptions,
# reimbursement statements. Their checksums must survive a backup and a restoration unchanged.
LEDGER_MODELS = (
    "financement.LedgerEntry",
    "coupons.Coupon",
    "marches.Redemption",
    "marches.Statement",
)
_CHUNK = 2000


class BackupError(Exception):
    """A backup or a restoration that cannot go on; `code` says why (machine-readable)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class TableChecksum:
    rows: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256}


# Checksums ---------------------------------------------------------------------------------------


def _canonical(value: Any) -> Any:
    """One text per value, whatever the engine returned (aware datetimes in UTC)."""
    if isinstance(value, datetime.datetime):
        if timezone.is_aware(value):
            value = value.astimezone(datetime.UTC)
        return value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


def _rows_digest(rows: Iterable[tuple[Any, ...]]) -> TableChecksum:
    digest = hashlib.sha256()
    count = 0
    for row in rows:
        line = json.dumps([_canonical(v) for v in row], sort_keys=True, ensure_ascii=False)
        digest.update(line.encode())
        digest.update(b"\n")
        count += 1
    return TableChecksum(rows=count, sha256=digest.hexdigest())


def ledger_checksums(using: str = "default") -> dict[str, TableChecksum]:
    """Each ledger table's row count and SHA-256 of every column of every row, by primary key.

    Run it inside the transaction that must see the rows (one snapshot for all tables).
    """
    result: dict[str, TableChecksum] = {}
    for label in LEDGER_MODELS:
        model = apps.get_model(label)
        columns = [field.attname for field in model._meta.concrete_fields]
        rows = (
            model._default_manager.using(using)
            .order_by("pk")
            .values_list(*columns)
            .iterator(chunk_size=_CHUNK)
        )
        result[label] = _rows_digest(rows)
    return result


def _applied_migrations(using: str) -> list[str]:
    recorder = MigrationRecorder(connections[using])
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Backup -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]


def create_backup(*, output: Path, using: str = "default") -> BackupResult:
    """Write a consistent archive of the database to `output` (replaced atomically, mode 0600)."""
    connection = connections[using]
    if connection.in_atomic_block:
        # Its snapshot would be the caller's, and PostgreSQL's isolation level cannot change.
        raise BackupError("A backup cannot run inside a transaction.", "in_transaction")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=output.parent) as workdir:
        work = Path(workdir)
        if connection.vendor == "postgresql":
            member, checksums = _dump_postgresql(using, work / PG_MEMBER)
        elif connection.vendor == "sqlite":
            member, checksums = _dump_sqlite(using, work / SQLITE_MEMBER)
        else:
            raise BackupError(
                f"No backup method for the {connection.vendor} engine.", "unsupported_engine"
            )
        manifest = {
            "format": FORMAT_VERSION,
            "created_at": timezone.now().astimezone(datetime.UTC).isoformat(),
            "engine": connection.vendor,
            "database_member": member.name,
            "database_sha256": _file_sha256(member),
            "migrations": _applied_migrations(using),
            "ledger": {label: value.as_dict() for label, value in checksums.items()},
        }
        partial = work / "archive.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(member, arcname=member.name)
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(timezone.now().timestamp())
            archive.addfile(info, io.BytesIO(data))
        # It holds every household's (encrypted) data and the coupons' codes.
        partial.chmod(0o600)
        os.replace(partial, output)
    return BackupResult(path=output, manifest=manifest)


def _pg_env(settings_dict: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for `pg_dump`/`pg_restore` (no password on a command line)."""
    env = dict(os.environ)
    options = settings_dict.get("OPTIONS", {})
    pairs = {
        "PGHOST": settings_dict.get("HOST"),
        "PGPORT": settings_dict.get("PORT"),
        "PGUSER": settings_dict.get("USER"),
        "PGPASSWORD": settings_dict.get("PASSWORD"),
        "PGDATABASE": settings_dict.get("NAME"),
        "PGSSLMODE": options.get("sslmode"),
    }
    env.update({key: str(value) for key, value in pairs.items() if value})
    return env


def _run(command: list[str], *, env: dict[str, str], code: str) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools).", code)
    completed = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise BackupError(f"{command[0]} failed: {completed.stderr.strip()}", code)


def _dump_postgresql(using: str, target: Path) -> tuple[Path, dict[str, TableChecksum]]:
    connection = connections[using]
    with transaction.atomic(using=using):
        with connection.cursor() as cursor:
            # The first statement of the transaction: one snapshot for the checksums, and
            # exported so that pg_dump reads the very same rows while writes go on.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute("SELECT pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
        checksums = ledger_checksums(using)
        # The snapshot lives as long as this transaction: pg_dump runs before it ends.
        _run(
            ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={target}"],
            env=_pg_env(connection.settings_dict),
            code="dump_failed",
        )
    return target, checksums


def _dump_sqlite(using: str, target: Path) -> tuple[Path, dict[str, TableChecksum]]:
    connection = connections[using]
    connection.ensure_connection()
    # A read transaction opened by hand (Django's own would be IMMEDIATE: a write lock that the
    # copy below would wait on forever): its first read pins one state of the database (WAL),
    # which both the checksums and the copy, on this same connection, see while the site writes.
    with connection.cursor() as cursor:
        cursor.execute("BEGIN DEFERRED")
        try:
            checksums = ledger_checksums(using)
            with sqlite3.connect(target) as archived:
                connection.connection.backup(archived, pages=-1)
            archived.close()
        finally:
            cursor.execute("COMMIT")
    return target, checksums


# Restore ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    checksums: dict[str, TableChecksum]


def read_manifest(archive_path: Path) -> dict[str, Any]:
    with tarfile.open(archive_path, "r:*") as archive:
        member = archive.extractfile(MANIFEST)
        if member is None:
            raise BackupError("The archive has no manifest.", "bad_archive")
        manifest: dict[str, Any] = json.load(member)
    if manifest.get("format") != FORMAT_VERSION:
        raise BackupError("Unknown archive format.", "bad_archive")
    return manifest


def _extract(archive_path: Path, name: str, workdir: Path) -> Path:
    with tarfile.open(archive_path, "r:*") as archive:
        source = archive.extractfile(name)
        if source is None:
            raise BackupError(f"The archive has no {name}.", "bad_archive")
        target = workdir / name
        with target.open("wb") as handle:
            shutil.copyfileobj(source, handle)
    return target


def database_is_empty(using: str = "default") -> bool:
    """True when the database has no table at all (a fresh `createdb`, or no SQLite file yet)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        return not connection.introspection.table_names(cursor)


def restore_backup(*, archive_path: Path, using: str = "default") -> RestoreResult:
    """Restore `archive_path` into the empty database `using`, then check the ledger's checksums.

    Raises BackupError (`not_empty`, `wrong_engine`, `corrupt`, `restore_failed`,
    `ledger_mismatch`).
    """
    connection = connections[using]
    manifest = read_manifest(archive_path)
    if manifest["engine"] != connection.vendor:
        raise BackupError(
            f"This archive is a {manifest['engine']} backup; the database is {connection.vendor}.",
            "wrong_engine",
        )
    if not database_is_empty(using):
        raise BackupError("The target database is not empty: restore into a new one.", "not_empty")
    with tempfile.TemporaryDirectory(prefix=".restore-") as workdir:
        member = _extract(archive_path, manifest["database_member"], Path(workdir))
        if _file_sha256(member) != manifest["database_sha256"]:
            raise BackupError("The archive's database file is corrupt.", "corrupt")
        if connection.vendor == "postgresql":
            connection.close()
            _run(
                # Objects belong to the role that restores (the owner role); grants are applied
                # again afterwards (docs/deploy.md), so no role of the old server is needed.
                [
                    "pg_restore",
                    "--no-owner",
                    "--no-acl",
                    "--single-transaction",
                    "--exit-on-error",
                    f"--dbname={connection.settings_dict['NAME']}",
                    str(member),
                ],
                env=_pg_env(connection.settings_dict),
                code="restore_failed",
            )
        else:
            connection.ensure_connection()
            with sqlite3.connect(member) as source:
                source.backup(connection.connection)
            source.close()
    with transaction.atomic(using=using):
        checksums = ledger_checksums(using)
    expected = manifest["ledger"]
    found = {label: value.as_dict() for label, value in checksums.items()}
    if found != expected:
        differing = sorted(label for label in expected if expected[label] != found.get(label))
        raise BackupError(
            "The restored ledger differs from the backup: " + ", ".join(differing),
            "ledger_mismatch",
        )
    return RestoreResult(manifest=manifest, checksums=checksums)


def describe(checksums: dict[str, TableChecksum]) -> Iterator[str]:
    for label, value in checksums.items():
        yield f"{label}: {value.rows} rows, sha256 {value.sha256[:16]}…"
