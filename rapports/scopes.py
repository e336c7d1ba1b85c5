"""Which programs' reports a user may read (DESIGN.md, "who uses it").

Network admins read every program's; coordinators their programs'; a funder's staff the
programs their funder funds (aggregates only, small cells suppressed); anyone else none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from financement.access import member_programs
from programmes.models import Program
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from comptes.models import User


def report_programs_for(user: User | AnonymousUser) -> QuerySet[Program]:
    """The programs the user runs, and those their funder funds."""
    if not user.is_authenticated:
        return Program.objects.none()
    if user.is_network_admin:
        return programs_for(user)
    return (programs_for(user) | member_programs(user)).distinct()


def reads_as_funder(user: User | AnonymousUser, program: Program) -> bool:
    """True when `user` reads `program`'s reports only as a funder's staff, so that what they
    see must be suppressed (a coordinator of the program sees its figures whole)."""
    if not user.is_authenticated or user.is_network_admin:
        return False
    return not programs_for(user).filter(pk=program.pk).exists()
