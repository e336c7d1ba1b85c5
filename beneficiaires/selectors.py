"""Reads of the beneficiaries app, always scoped to the requesting user (docs/architecture.md)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from beneficiaires.models import AuditEntry, Consent, Household, Organization
from beneficiaires.privacy import name_hash
from programmes.models import Program

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser


def _is_admin(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_network_admin)


def organizations_for(user: AnyUser) -> QuerySet[Organization]:
    """Organizations the user belongs to, and those partnered with the programs they coordinate."""
    if _is_admin(user):
        return Organization.objects.all()
    if not user.is_authenticated:
        return Organization.objects.none()
    ids = Organization.objects.filter(Q(members=user) | Q(programs__coordinators=user)).values("pk")
    return Organization.objects.filter(pk__in=ids)


def households_for(user: AnyUser) -> QuerySet[Household]:
    """Households of the user's organizations (intervenant) and of their programs (coordinator)."""
    base = Household.objects.select_related("program", "organization")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    ids = Household.objects.filter(
        Q(organization__members=user) | Q(program__coordinators=user)
    ).values("pk")
    return base.filter(pk__in=ids)


def invitable_organizations(user: AnyUser) -> QuerySet[Organization]:
    """Where `user` may invite intervenants: all (admin); for a coordinator, the organizations
    whose every program is one they coordinate.

    An organization shared with another MRC's program is not theirs alone: inviting themselves
    into it would open the other program's households to them, so only an admin can.
    """
    if _is_admin(user):
        return Organization.objects.all()
    if not user.is_authenticated:
        return Organization.objects.none()
    partnerships = Organization.programs.through.objects.filter(
        organization__programs__coordinators=user
    ).values_list("organization_id", "program_id")
    mine = set(Program.objects.filter(coordinators=user).values_list("pk", flat=True))
    shared = {org for org, program in partnerships if program not in mine}
    return Organization.objects.filter(pk__in={org for org, _p in partnerships} - shared)


def enrollment_programs(user: AnyUser, organization: Organization) -> QuerySet[Program]:
    """The organization's programs in which `user` may enroll households.

    Its members and network admins: all of them; a coordinator: the ones they coordinate.
    """
    programs = organization.programs.all().order_by("name", "pk")
    if _is_admin(user) or organization.members.filter(pk=user.pk).exists():
        return programs
    if not user.is_authenticated:
        return programs.none()
    return programs.filter(coordinators=user)


def organization_households(
    user: AnyUser, organization: Organization, search: str = ""
) -> QuerySet[Household]:
    """The organization's households that `user` may see, newest first.

    `search` matches part of a reference, or a whole name: names are encrypted, so a name is
    found by its keyed hash (case, accents and spacing do not matter).
    """
    households = households_for(user).filter(organization=organization)
    search = search.strip()
    if search:
        condition = Q(reference__icontains=search)
        hashed = name_hash(search)
        if hashed:
            condition |= Q(name_hash=hashed)
        households = households.filter(condition)
    return households.order_by("-enrolled_at", "-pk")


def program_partners(program: Program) -> QuerySet[Organization]:
    """The program's partner organizations with their number of households in the program."""
    return (
        Organization.objects.filter(programs=program)
        .annotate(
            household_count=Count(
                "households", filter=Q(households__program=program), distinct=True
            )
        )
        .order_by("name", "pk")
    )


def partnerable_organizations(user: AnyUser, program: Program) -> QuerySet[Organization]:
    """Organizations `user` can see that are not partnered with `program` yet."""
    return organizations_for(user).exclude(programs=program).order_by("name", "pk")


def participation_consent(household: Household) -> Consent | None:
    """The household's latest consent to participate (withdrawn or not)."""
    return household.consents.filter(purpose=Consent.Purpose.PARTICIPATION).first()


def household_consents(household: Household) -> list[Consent]:
    """The household's consents, newest first, with who recorded and withdrew them."""
    return list(household.consents.select_related("recorded_by", "withdrawn_by"))


def waitlist_position(household: Household) -> int | None:
    """1 for the household that has waited longest in its program; None when not waiting."""
    if household.status != Household.Status.WAITLISTED or household.waitlisted_at is None:
        return None
    ahead = (
        Household.objects.filter(
            program_id=household.program_id, status=Household.Status.WAITLISTED
        )
        .filter(
            Q(waitlisted_at__lt=household.waitlisted_at)
            | Q(waitlisted_at=household.waitlisted_at, pk__lt=household.pk)
        )
        .count()
    )
    return ahead + 1


def can_oversee_household(user: AnyUser, household: Household) -> bool:
    """Coordinators of the household's program and network admins: they may anonymize it and
    read its access log; intervenants may not."""
    if _is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    return household.program.coordinators.filter(pk=user.pk).exists()


def _day_start(day: datetime.date) -> datetime.datetime:
    """Midnight of `day` in the site's time zone (America/Toronto), as an aware datetime."""
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def program_audit_entries(*, program: Program, filters: dict[str, Any]) -> QuerySet[AuditEntry]:
    """A program's access log (the caller has checked the program is in the user's scope),
    newest first, filtered by day range and action."""
    entries = AuditEntry.objects.filter(household__program=program)
    if filters.get("start"):
        entries = entries.filter(at__gte=_day_start(filters["start"]))
    if filters.get("end"):
        entries = entries.filter(at__lt=_day_start(filters["end"] + datetime.timedelta(days=1)))
    if filters.get("action"):
        entries = entries.filter(action=filters["action"])
    return entries.select_related("user", "household").order_by("-at", "-pk")
