"""Background tasks of the beneficiaries app (Django tasks, run by `manage.py db_worker`)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from beneficiaires.retention import apply_retention


@task()
def apply_retention_task() -> dict[str, Any]:
    """Anonymize the households whose program's retention has ended; returns a JSON summary."""
    return apply_retention().as_dict()
