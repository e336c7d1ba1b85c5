"""Pages of issuance batches: a program's batches, a printed batch of bearer coupons for an
organization, a batch's page (its coupons, handing it over), voiding and replacing coupons, and
a coupon's chain of custody.

Batches are fetched through `batches_for(user)`, programs through `programs_for(user)`:
outside one's scope is a 404.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from beneficiaires.selectors import households_for
from coupons import selectors, services
from coupons.custody import coupon_custody
from coupons.forms import BearerBatchForm, VoidForm
from coupons.models import Coupon
from financement.selectors import program_funds
from programmes.money import format_money
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 50
# The void page lists the coupons to choose from; a larger batch is voided by serials.
VOID_CHOICES_MAX = 200


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


@login_required
@require_GET
def program_batches(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(programs_for(request.user), slug=slug)
    page_obj = Paginator(selectors.program_batches(program), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "coupons/program_batches.html",
        {
            "program": program,
            "page_obj": page_obj,
            "totals": selectors.coupon_totals(programs_for(request.user).filter(pk=program.pk)),
            "funds": program_funds(program),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def bearer_batch_create(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(programs_for(request.user), slug=slug)
    today = timezone.localdate()
    initial = {
        "idempotency_key": uuid.uuid4(),
        "valid_from": max(program.season_start, today),
        "valid_until": program.season_end,
    }
    form = BearerBatchForm(request.POST or None, program=program, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                batch = services.issue_bearer_batch(
                    request=services.BearerRequest(
                        program=program,
                        organization=data["organization"],
                        counts=form.counts(),
                        valid_from=data["valid_from"],
                        valid_until=data["valid_until"],
                        note=data["note"],
                    ),
                    issued_by=_user(request),
                    idempotency_key=data["idempotency_key"],
                )
            except services.IssuanceError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    ngettext(
                        "Lot {batch} émis : {count} coupon au porteur, {total}.",
                        "Lot {batch} émis : {count} coupons au porteur, {total}.",
                        batch.coupon_count,
                    ).format(
                        batch=batch.pk,
                        count=batch.coupon_count,
                        total=format_money(batch.total_value, program.currency),
                    ),
                )
                return redirect("coupons:batch_detail", pk=batch.pk)
    available = program_funds(program) - services.committed_value(program=program)
    return render(
        request,
        "coupons/bearer_batch_form.html",
        {"program": program, "form": form, "available": available},
        status=status,
    )


@login_required
@require_GET
def batch_detail(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
    page_obj = Paginator(selectors.batch_coupons(batch), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "coupons/batch_detail.html",
        {
            "batch": batch,
            "page_obj": page_obj,
            "totals": selectors.batch_totals(batch),
            "today": timezone.localdate(),
            "print_jobs": list(batch.print_jobs.order_by("-created_at")[:5]),
            "print_key": uuid.uuid4(),
        },
    )


@login_required
@require_POST
def batch_deliver(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
    if services.mark_batch_delivered(batch=batch, delivered_by=_user(request)):
        messages.success(request, _("Le lot {batch} est noté comme remis.").format(batch=batch.pk))
    else:
        messages.info(request, _("Ce lot était déjà noté comme remis."))
    return redirect("coupons:batch_detail", pk=batch.pk)


def _void_page(
    request: HttpRequest,
    *,
    choices: QuerySet[Coupon],
    back: str,
    context: dict[str, Any],
    allow_all: bool = False,
    list_choices: bool = True,
) -> HttpResponse:
    """The void or replace form over `choices`, and what it does when posted."""
    initial: dict[str, Any] = {"idempotency_key": uuid.uuid4()}
    if request.GET.get("coupon"):
        initial["coupons"] = choices.filter(pk__in=request.GET.getlist("coupon"))
    form = VoidForm(
        request.POST or None,
        coupons=choices,
        initial=initial,
        allow_all=allow_all,
        list_choices=list_choices,
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            chosen = list(data["coupons"])
            try:
                if data["action"] == VoidForm.Action.REPLACE:
                    result = services.replace_coupons(
                        coupons=chosen,
                        reason=data["reason"],
                        note=data["note"],
                        replaced_by=_user(request),
                        idempotency_key=data["idempotency_key"],
                    )
                else:
                    result = services.void_coupons(
                        coupons=chosen,
                        reason=data["reason"],
                        note=data["note"],
                        voided_by=_user(request),
                    )
            except services.IssuanceError as error:
                form.add_error(None, error.message)
            else:
                _report(request, result)
                return redirect(back)
    return render(
        request, "coupons/void_form.html", {**context, "form": form, "back": back}, status=status
    )


def _report(request: HttpRequest, result: services.VoidResult) -> None:
    if result.replacement is not None:
        batch = result.replacement
        messages.success(
            request,
            ngettext(
                "{count} coupon remplacé (lot {batch}) : imprimez le nouveau coupon et "
                "remettez-le.",
                "{count} coupons remplacés (lot {batch}) : imprimez les nouveaux coupons et "
                "remettez-les.",
                batch.coupon_count,
            ).format(count=batch.coupon_count, batch=batch.pk),
        )
    elif result.voided:
        messages.success(
            request,
            ngettext(
                "{count} coupon annulé : les lecteurs le refuseront.",
                "{count} coupons annulés : les lecteurs les refuseront.",
                len(result.voided),
            ).format(count=len(result.voided)),
        )
    if result.refused:
        messages.warning(
            request,
            _("Laissés tels quels (déjà échangés, annulés ou expirés) : {serials}.").format(
                serials=", ".join(coupon.serial for coupon in result.refused)
            ),
        )


@login_required
@require_http_methods(["GET", "POST"])
def household_void(request: HttpRequest, pk: int) -> HttpResponse:
    household = get_object_or_404(households_for(request.user), pk=pk)
    today = timezone.localdate()
    # Still spendable, or voided earlier and never replaced (it may be replaced now).
    choices = (
        Coupon.objects.filter(household=household, valid_until__gte=today)
        .filter(status__in=[Coupon.Status.ISSUED, Coupon.Status.VOID], replacement__isnull=True)
        .select_related("program", "batch")
        .order_by("valid_from", "serial")
    )
    return _void_page(
        request,
        choices=choices,
        back=reverse("coupons:household_detail", kwargs={"pk": household.pk}),
        context={"household": household, "title": household.reference},
    )


@login_required
@require_http_methods(["GET", "POST"])
def batch_void(request: HttpRequest, pk: int) -> HttpResponse:
    batch = get_object_or_404(selectors.batches_for(request.user), pk=pk)
    today = timezone.localdate()
    choices = (
        batch.coupons.filter(valid_until__gte=today)
        .filter(status__in=[Coupon.Status.ISSUED, Coupon.Status.VOID], replacement__isnull=True)
        .select_related("program", "batch")
        .order_by("serial")
    )
    wanted = request.GET.get("serials") or request.POST.get("serials")
    if wanted:
        serials = {part.strip().upper() for part in wanted.replace(",", " ").split() if part}
        choices = choices.filter(serial__in=serials)
    # A large batch lists no checkboxes: the whole batch (a lost box) or the serials typed.
    too_many = choices.count() > VOID_CHOICES_MAX
    return _void_page(
        request,
        choices=choices,
        back=reverse("coupons:batch_detail", kwargs={"pk": batch.pk}),
        context={"batch": batch, "too_many": too_many, "serials": wanted or ""},
        allow_all=True,
        list_choices=not too_many,
    )


@login_required
@require_GET
def coupon_detail(request: HttpRequest, pk: int) -> HttpResponse:
    coupon = get_object_or_404(
        selectors.coupons_for(request.user).select_related(
            "batch__issued_by", "batch__delivered_by", "voided_by", "replaces"
        ),
        pk=pk,
    )
    return render(
        request,
        "coupons/coupon_detail.html",
        {"coupon": coupon, "steps": coupon_custody(coupon), "today": timezone.localdate()},
    )
