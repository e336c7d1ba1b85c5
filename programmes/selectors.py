"""Reads of the programs app, always scoped to the requesting user (docs/architecture.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from programmes.models import ProductCategory, Program

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User

    AnyUser = User | AnonymousUser


def _is_admin(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_network_admin)


def programs_for(user: AnyUser) -> QuerySet[Program]:
    """The programs `user` runs: every program for a network admin, else those they coordinate."""
    base = Program.objects.select_related("territory")
    if _is_admin(user):
        return base.all()
    if not user.is_authenticated:
        return base.none()
    return base.filter(coordinators=user)


def can_create_program(user: AnyUser) -> bool:
    """Network admins and coordinators (of at least one program) may create programs."""
    if _is_admin(user):
        return True
    if not user.is_authenticated:
        return False
    return Program.objects.filter(coordinators=user).exists()


def program_list(user: AnyUser) -> QuerySet[Program]:
    return programs_for(user).order_by("-season_start", "name", "pk")


def product_categories() -> QuerySet[ProductCategory]:
    return ProductCategory.objects.order_by("name_fr")
