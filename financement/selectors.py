"""Reads of the funding app: a program's funds, its ledger, its funders."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Exists, OuterRef, QuerySet, Sum

from financement.models import Contribution, ContributionDocument, Funder, LedgerEntry
from programmes.models import Program
from programmes.money import ZERO, quantize
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser


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
    # Not the donation: the ledger names no donor (its memo holds the receipt number).
    return LedgerEntry.objects.filter(program=program).select_related(
        "contribution__funder", "recorded_by"
    )


def funders() -> QuerySet[Funder]:
    return Funder.objects.order_by("name")


# Scopes: the funds of a program are read and recorded by those who run it ---------------------


def funds_programs(user: AnyUser) -> QuerySet[Program]:
    """The programs whose funds `user` reads and records: every program for a network admin,
    else those they coordinate."""
    return programs_for(user)


def can_manage_funders(user: AnyUser) -> bool:
    """Network admins and coordinators (of at least one program) keep the list of funders."""
    if user.is_authenticated and user.is_network_admin:
        return True
    return funds_programs(user).exists()


def funders_for(user: AnyUser) -> QuerySet[Funder]:
    """The funders a user sees: all for a network admin; for a coordinator, those that gave to
    one of their programs and those that gave to none yet (just created)."""
    if user.is_authenticated and user.is_network_admin:
        return funders()
    contributions = Contribution.objects.filter(funder=OuterRef("pk"))
    mine = contributions.filter(program__in=funds_programs(user))
    return funders().filter(Exists(mine) | ~Exists(contributions))


def contribution_document_for(user: AnyUser, contribution_id: int) -> ContributionDocument | None:
    """A contribution's document, if the contribution is one of the user's programs'."""
    return ContributionDocument.objects.filter(
        contribution_id=contribution_id, contribution__program__in=funds_programs(user)
    ).first()
