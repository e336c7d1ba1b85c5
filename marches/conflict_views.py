"""The coordinators' review queue of scans in conflict, and the URLs of the market, market-day
and vendor pages added with it (views in marches/views.py).

A coupon scanned offline by two devices is accepted for the first scan; every later one waits
here until a coordinator of the coupon's program honours it (reimbursed, a recorded loss) or
refuses it, with a reason the vendor sees. Only the program's coordinators and network admins
may open the queue: the program is fetched through `coordinated_programs(user)`, so anyone else
gets a 404.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from marches import selectors
from marches.forms import ConflictDecisionForm
from marches.models import Redemption
from marches.redemptions import RedemptionError, decide_conflict

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25
DECIDED_PAGE_SIZE = 25


@login_required
@require_GET
def conflict_list(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(selectors.coordinated_programs(request.user), slug=slug)
    pending = Paginator(selectors.program_conflicts(program), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    decided = Paginator(selectors.program_decided_conflicts(program), DECIDED_PAGE_SIZE).get_page(
        request.GET.get("decides")
    )
    # The accepted scan of each coupon on this page, in one query.
    accepted = selectors.accepted_scans(row.coupon_id for row in pending.object_list)
    rows = [(row, accepted.get(row.coupon_id)) for row in pending.object_list]
    return render(
        request,
        "marches/conflict_list.html",
        {
            "program": program,
            "page_obj": pending,
            "rows": rows,
            "decided": decided,
            "decided_query": urlencode({"page": pending.number}),
            "query_string": urlencode({"decides": decided.number}),
        },
    )


@login_required
@require_POST
def conflict_decide(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    program = get_object_or_404(selectors.coordinated_programs(request.user), slug=slug)
    redemption = get_object_or_404(
        Redemption.objects.select_related("coupon").filter(program=program), pk=pk
    )
    form = ConflictDecisionForm(request.POST)
    back = reverse("marches:conflict_list", kwargs={"slug": program.slug})
    page = request.POST.get("page", "")
    if page.isdigit():
        back += "?" + urlencode({"page": page})
    if not form.is_valid():
        errors = [str(error) for field in form.errors.values() for error in field]
        messages.error(
            request,
            _("Scan {serial} : {errors} Rien n'a été modifié.").format(
                serial=redemption.coupon.serial, errors=" ".join(errors)
            ),
        )
        return redirect(back)
    honour = form.cleaned_data["decision"] == ConflictDecisionForm.HONOUR
    try:
        decide_conflict(
            redemption=redemption,
            honour=honour,
            reason=form.cleaned_data["reason"],
            decided_by=cast("User", request.user),
        )
    except RedemptionError as error:
        messages.error(
            request,
            _("Scan {serial} : {error}").format(
                serial=redemption.coupon.serial, error=error.message
            ),
        )
    else:
        if honour:
            message = _(
                "Scan {serial} honoré : il sera remboursé à {vendor} et la perte est consignée."
            )
        else:
            message = _("Scan {serial} refusé : {vendor} verra la décision et son motif.")
        messages.success(
            request, message.format(serial=redemption.coupon.serial, vendor=redemption.vendor.name)
        )
    return redirect(back)


urlpatterns: list[URLPattern] = [
    path("programmes/<slug:slug>/conflits/", conflict_list, name="conflict_list"),
    path(
        "programmes/<slug:slug>/conflits/<int:pk>/decision/",
        conflict_decide,
        name="conflict_decide",
    ),
]
