"""Retention: anonymize the households of a program once its retention period has ended, and
run the other apps' retention steps (donors, Stripe event bodies, the public sale's buyers).

Each program keeps personal data `EnrollmentPolicy.retention_days` days after its season ends
(the policy's default when the program never saved one, as `services.policy_for` does). The
households of a program whose period has ended are anonymized one by one through
`services.anonymize_household`: their coupons, batches, redemptions and counts stay, so every
figure of the ledger and of the reports is unchanged.

The selection costs two queries whatever the number of programs and households; each
anonymization then runs in its own transaction, so that an interrupted run is simply resumed by
the next one (anonymizing is idempotent).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from beneficiaires.models import EnrollmentPolicy, Household
from beneficiaires.services import anonymize_household
from programmes.models import Program

logger = logging.getLogger(__name__)


@dataclass
class ProgramRetention:
    """One program whose retention has ended: how many households are (or were) anonymized."""

    program_id: int
    slug: str
    name: str
    season_end: datetime.date
    retention_days: int
    due: int = 0
    anonymized: int = 0
    failed: int = 0

    @property
    def expired_on(self) -> datetime.date:
        """The last day the data may be kept; it is anonymized from the day after."""
        return self.season_end + datetime.timedelta(days=self.retention_days)

    def as_dict(self) -> dict[str, Any]:
        return {
            "program": self.slug,
            "name": self.name,
            "season_end": self.season_end.isoformat(),
            "retention_days": self.retention_days,
            "expired_on": self.expired_on.isoformat(),
            "due": self.due,
            "anonymized": self.anonymized,
            "failed": self.failed,
        }


# Other steps of the daily retention run, registered by the apps that hold their data (the
# funding app's donors and Stripe event bodies, the public sale's buyers): each is given the
# day and whether it is a dry run, and returns how many rows it erased (or would erase).
RetentionStepRun = Callable[[datetime.date, bool], int]


@dataclass(frozen=True)
class RetentionStep:
    key: str  # in the report: "donors"
    description: str  # in the command's output: "donations whose donor was erased"
    run: RetentionStepRun


_steps: dict[str, RetentionStep] = {}


def register_retention_step(step: RetentionStep) -> None:
    _steps[step.key] = step


def retention_steps() -> list[RetentionStep]:
    return list(_steps.values())


@dataclass
class RetentionReport:
    today: datetime.date
    dry_run: bool
    programs: list[ProgramRetention] = field(default_factory=list)
    # What each registered step erased (or would erase), by its key.
    erased: dict[str, int] = field(default_factory=dict)

    @property
    def due(self) -> int:
        return sum(line.due for line in self.programs)

    @property
    def anonymized(self) -> int:
        return sum(line.anonymized for line in self.programs)

    @property
    def failed(self) -> int:
        return sum(line.failed for line in self.programs)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able summary (what the scheduled task returns)."""
        return {
            "today": self.today.isoformat(),
            "dry_run": self.dry_run,
            "due": self.due,
            "anonymized": self.anonymized,
            "failed": self.failed,
            "programs": [line.as_dict() for line in self.programs],
            "erased": dict(self.erased),
        }


def _default_retention_days() -> int:
    """The retention of a program without a saved policy (`policy_for` returns the defaults)."""
    return EnrollmentPolicy().retention_days


def _retention_days(program: Program) -> int:
    try:
        policy = program.enrollment_policy
    except EnrollmentPolicy.DoesNotExist:
        return _default_retention_days()
    return policy.retention_days


def programs_past_retention(today: datetime.date) -> list[int]:
    """Every program whose retention ended before `today`, whatever it still holds (one query):
    what the other apps' steps erase with the households."""
    candidates = Program.objects.filter(season_end__lt=today).select_related("enrollment_policy")
    return [
        program.pk
        for program in candidates.only("pk", "season_end", "enrollment_policy__retention_days")
        if program.season_end + datetime.timedelta(days=_retention_days(program)) < today
    ]


def expired_programs(today: datetime.date | None = None) -> list[ProgramRetention]:
    """Programs whose retention ended before `today` and which still hold households that are not
    anonymized, with the number of such households: two queries."""
    today = today or timezone.localdate()
    waiting = Household.objects.filter(program=OuterRef("pk"), anonymized_at__isnull=True)
    # season_end + retention_days < today implies season_end < today: a cheap first cut in SQL,
    # the exact date arithmetic (which SQLite and PostgreSQL spell differently) in Python.
    candidates = (
        Program.objects.filter(season_end__lt=today)
        .filter(Exists(waiting))
        .select_related("enrollment_policy")
        .order_by("season_end", "pk")
    )
    lines = []
    for program in candidates:
        line = ProgramRetention(
            program_id=program.pk,
            slug=program.slug,
            name=program.name,
            season_end=program.season_end,
            retention_days=_retention_days(program),
        )
        if line.expired_on < today:
            lines.append(line)
    if not lines:
        return []
    counts = dict(
        Household.objects.filter(
            program_id__in=[line.program_id for line in lines], anonymized_at__isnull=True
        )
        .order_by()
        .values("program_id")
        .annotate(count=Count("pk"))
        .values_list("program_id", "count")
    )
    for line in lines:
        line.due = counts.get(line.program_id, 0)
    return [line for line in lines if line.due]


def expired_household_keys(lines: list[ProgramRetention]) -> list[tuple[int, int]]:
    """(household pk, program pk) of the households to anonymize for these programs: one query,
    read in full before any write so that no cursor stays open on the rows being changed."""
    return list(
        Household.objects.filter(
            program_id__in=[line.program_id for line in lines], anonymized_at__isnull=True
        )
        .order_by("program_id", "pk")
        .values_list("pk", "program_id")
    )


def apply_retention(
    *, today: datetime.date | None = None, dry_run: bool = False
) -> RetentionReport:
    """Anonymize every household whose program's retention has ended (or only count them).

    Automatic: the audit rows it writes have no user.
    """
    today = today or timezone.localdate()
    lines = expired_programs(today)
    report = RetentionReport(today=today, dry_run=dry_run, programs=lines)
    if not dry_run and lines:
        _anonymize_households(lines)
    for step in retention_steps():
        report.erased[step.key] = step.run(today, dry_run)
    return report


def _anonymize_households(lines: list[ProgramRetention]) -> None:
    by_program = {line.program_id: line for line in lines}
    for pk, program_id in expired_household_keys(lines):
        line = by_program[program_id]
        try:
            # anonymize_household reads the row again under a lock: the key is all it needs.
            if anonymize_household(household=Household(pk=pk, program_id=program_id), by=None):
                line.anonymized += 1
        except DatabaseError:
            # One household must not keep every other one from being anonymized: the next run
            # tries it again.
            logger.exception("Retention: household %s could not be anonymized", pk)
            line.failed += 1
    logger.info(
        "Retention: %s household(s) anonymized, %s failed, in %s program(s)",
        sum(line.anonymized for line in lines),
        sum(line.failed for line in lines),
        len(lines),
    )
