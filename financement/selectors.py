"""Reads of the funding app: a program's funds, its ledger, its funders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import QuerySet, Sum

from financement.models import Contribution, Funder, LedgerEntry
from programmes.models import Program
from programmes.money import ZERO, quantize


def program_funds(program: Program) -> Decimal:
    """Funds the program has received: the sum of its ledger (one query)."""
    total = LedgerEntry.objects.filter(program=program).aggregate(total=Sum("amount"))["total"]
    return quantize(total or ZERO)


def funds_by_program(program_ids: Iterable[int]) -> dict[int, Decimal]:
    rows = (
        LedgerEntry.objects.filter(program_id__in=list(program_ids))
        .values("program_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {row["program_id"]: quantize(row["total"] or ZERO) for row in rows}


def program_ledger(program: Program) -> QuerySet[LedgerEntry]:
    return LedgerEntry.objects.filter(program=program).select_related(
        "contribution__funder", "donation", "recorded_by"
    )


def program_contributions(program: Program) -> QuerySet[Contribution]:
    return Contribution.objects.filter(program=program).select_related("funder", "document")


def funders() -> QuerySet[Funder]:
    return Funder.objects.order_by("name")
