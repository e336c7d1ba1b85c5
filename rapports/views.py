"""Pages of the reports: read-only, scoped through `rapports.selectors` (out of scope is a 404)."""

from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from comptes.models import Role, User
from rapports import selectors

INVITATION_URL = "/invitations/nouvelle/"


def _user(request: HttpRequest) -> User:
    # Behind @login_required: never anonymous.
    return cast(User, request.user)


@login_required
@require_safe
def program_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(selectors.dashboard_programs(_user(request)), slug=slug)
    return render(
        request,
        "rapports/program_dashboard.html",
        {
            "program": program,
            "dashboard": selectors.program_dashboard(program),
            "invite_url": INVITATION_URL
            + "?"
            + urlencode({"role": str(Role.COORDINATOR), "scope": str(program.pk)}),
        },
    )


@login_required
@require_safe
def network(request: HttpRequest) -> HttpResponse:
    if not selectors.is_network_admin(_user(request)):
        raise Http404
    programs = selectors.network_programs(_user(request))
    return render(
        request, "rapports/network.html", {"overview": selectors.network_overview(programs)}
    )
