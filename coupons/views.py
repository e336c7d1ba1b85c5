"""Pages of the coupons app: a household's page (its coupons), issuing its allotment and
downloading its coupons as a PDF.

The household page lives here rather than in `beneficiaires` because it shows coupons, and
`beneficiaires` may not import `coupons` (DESIGN.md, Layers). Everything is fetched through
`households_for(user)`: a household outside the user's scope is a 404.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from beneficiaires.models import AuditEntry
from beneficiaires.selectors import (
    can_oversee_household,
    household_consents,
    households_for,
    waitlist_position,
)
from beneficiaires.services import format_phone, record_access
from coupons.forms import DistributionIssueForm
from coupons.models import Coupon
from coupons.pdf import render_coupons_pdf
from coupons.printing import household_print_queryset, iter_printable, program_logo_png
from coupons.selectors import household_coupons, household_distributions, spendable_or_future
from coupons.services import (
    IssuanceError,
    issue_household_allotment,
    plan_household_allotment,
    plan_remaining,
)
from programmes.money import ZERO, format_money, quantize

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25
# What the household page shows of its personal data.
DETAIL_FIELDS = (
    "name",
    "adults",
    "children",
    "postal_code",
    "year_of_birth",
    "preferred_language",
    "phone",
    "email",
    "notes",
    "status",
)


@login_required
@require_GET
@never_cache
def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(households_for(request.user), pk=pk)
    # This page shows the household's personal data: record who looked, and at which fields.
    record_access(
        user=cast("User", request.user),
        households=[household],
        action=AuditEntry.Action.VIEW,
        fields=DETAIL_FIELDS,
    )
    coupons = household_coupons(household)
    today = timezone.localdate()
    totals = coupons.exclude(status=Coupon.Status.VOID).aggregate(
        count=Count("pk"), value=Sum("value")
    )
    distributions = plan_error = None
    if household.status == household.Status.ACTIVE and not household.anonymized_at:
        try:
            plan_household_allotment(program=household.program, household_size=household.size)
        except IssuanceError as error:
            plan_error = error.message
        else:
            distributions = household_distributions(household, today)
    due = [d for d in distributions or [] if not d.issued and not d.expired]
    try:
        due_coupons = plan_remaining(household=household, today=today) if due else []
    except IssuanceError:
        due_coupons = []
    return render(
        request,
        "coupons/household_detail.html",
        {
            "household": household,
            "consents": household_consents(household),
            "waitlist_position": waitlist_position(household),
            "can_oversee": can_oversee_household(request.user, household),
            "phone": format_phone(household.phone),
            "page_obj": Paginator(coupons, PAGE_SIZE).get_page(request.GET.get("page")),
            "issued_count": totals["count"] or 0,
            "issued_value": quantize(totals["value"] or ZERO),
            "distributions": distributions,
            "due": due,
            "due_value": quantize(sum((c.value for c in due_coupons), ZERO)),
            "due_count": len(due_coupons),
            "plan_error": plan_error,
            "printable": spendable_or_future(coupons, today).exists(),
            "issue_key": uuid.uuid4(),
            "today": today,
        },
    )


@login_required
@require_POST
def household_issue(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(households_for(request.user), pk=pk)
    form = DistributionIssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Demande incomplète : rechargez la page et réessayez."))
        return redirect("coupons:household_detail", pk=household.pk)
    try:
        batch = issue_household_allotment(
            household=household,
            issued_by=cast("User", request.user),  # behind login_required
            idempotency_key=form.cleaned_data["idempotency_key"],
            distribution=form.cleaned_data["distribution"],
        )
    except IssuanceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            ngettext(
                "{count} coupon émis, d'une valeur totale de {total}.",
                "{count} coupons émis, d'une valeur totale de {total}.",
                batch.coupon_count,
            ).format(count=batch.coupon_count, total=format_money(batch.total_value)),
        )
    return redirect("coupons:household_detail", pk=household.pk)


@login_required
@require_GET
def household_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(households_for(request.user), pk=pk)
    # Only what can still be spent: never an expired, voided or redeemed coupon.
    coupons = household_print_queryset(household, timezone.localdate())
    if not coupons.exists():
        messages.info(
            request,
            _(
                "Ce ménage n'a aucun coupon à imprimer : émettez son allocation, ou ses coupons "
                "sont tous échangés, annulés ou expirés."
            ),
        )
        return redirect("coupons:household_detail", pk=household.pk)
    pdf = render_coupons_pdf(
        iter_printable(coupons),
        title=_("Coupons du ménage {reference} · {program}").format(
            reference=household.reference, program=household.program.name
        ),
        author=household.organization.name,
        logo_png=program_logo_png(household.program),
    )
    safe_reference = re.sub(r"[^A-Za-z0-9_-]", "", household.reference) or str(household.pk)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="coupons-{safe_reference}.pdf"'
    response["Cache-Control"] = "no-store"
    return response
