"""Pages of a program's funds: the figures and the ledger, recording a contribution, its
document, the funders, the ledger as a spreadsheet.

Thin views: they fetch through scoped selectors (a program outside the user's scope is a 404),
parse with forms and write through services.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from financement import selectors
from financement.forms import ContributionForm, FunderForm
from financement.funds import funder_rows, funds_summary, ledger_csv_lines, ledger_rows
from financement.services import FundingError, create_funder, record_contribution
from programmes.models import Program
from programmes.money import format_money

if TYPE_CHECKING:
    from django import forms

    from comptes.models import User

LEDGER_PAGE_SIZE = 50
FUNDER_PAGE_SIZE = 50
# A service error names the funder's fields; the contribution form calls them "new_funder_…".
_CONTRIBUTION_FIELDS = {"name": "new_funder_name", "kind": "new_funder_kind"}


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


def _program(request: HttpRequest, slug: str) -> Program:
    return get_object_or_404(selectors.funds_programs(request.user), slug=slug)


def _attach(error: FundingError, form: forms.Form, aliases: dict[str, str]) -> None:
    """Show a service error next to the input at fault."""
    field = aliases.get(error.field or "", error.field)
    form.add_error(field if field in form.fields else None, error.message)


def _attachment(filename: str) -> str:
    """A download's header, the file name quoted (or encoded, with accents) safely."""
    return content_disposition_header(True, filename) or "attachment"


@login_required
@require_safe
def program_funds(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    page_obj = Paginator(ledger_rows(program), LEDGER_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "financement/funds.html",
        {"program": program, "summary": funds_summary(program), "page_obj": page_obj},
    )


@login_required
@require_http_methods(["GET", "POST"])
def contribution_create(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    status = 200
    if request.method == "POST":
        status = 400
        form = ContributionForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                contribution = record_contribution(
                    program=program,
                    funder=form.funder_given(),
                    amount=data["amount"],
                    received_on=data["received_on"],
                    recorded_by=_user(request),
                    reference=data["reference"],
                    restrictions=data["restrictions"],
                    document=data["document"],
                    idempotency_key=data["idempotency_key"],
                )
            except FundingError as error:
                _attach(error, form, _CONTRIBUTION_FIELDS)
            else:
                messages.success(
                    request,
                    _("Contribution de {funder} enregistrée : {amount}.").format(
                        funder=contribution.funder.name,
                        amount=format_money(contribution.amount, program.currency),
                    ),
                )
                return redirect("financement:program_funds", slug=program.slug)
    else:
        form = ContributionForm(initial={"idempotency_key": uuid.uuid4()})
    return render(
        request,
        "financement/contribution_form.html",
        {"program": program, "form": form},
        status=status,
    )


@login_required
@require_safe
def contribution_document(request: HttpRequest, pk: int) -> HttpResponse:
    document = selectors.contribution_document_for(request.user, pk)
    if document is None:
        raise Http404
    response = HttpResponse(bytes(document.data), content_type=document.content_type)
    response["Content-Disposition"] = _attachment(document.filename)
    response["Content-Length"] = str(document.size)
    # An agreement may carry amounts and names: never kept by a shared cache, never run as a
    # page (its type was read from its bytes when it was uploaded).
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@login_required
@require_safe
def ledger_csv(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    program = _program(request, slug)
    filename = f"registre-fonds-{program.slug}-{timezone.localdate().isoformat()}.csv"
    response = StreamingHttpResponse(
        ledger_csv_lines(program), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = _attachment(filename)
    response["Cache-Control"] = "private, no-store"
    return response


def _require_funders_access(request: HttpRequest) -> None:
    if not selectors.can_manage_funders(request.user):
        raise PermissionDenied


@login_required
@require_safe
def funder_list(request: HttpRequest) -> HttpResponse:
    _require_funders_access(request)
    page_obj = Paginator(selectors.funders_for(request.user), FUNDER_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = funder_rows(list(page_obj.object_list), selectors.funds_programs(request.user))
    return render(request, "financement/funders.html", {"page_obj": page_obj, "rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def funder_create(request: HttpRequest) -> HttpResponse:
    _require_funders_access(request)
    status = 200
    if request.method == "POST":
        status = 400
        form = FunderForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                funder = create_funder(
                    name=data["name"], kind=data["kind"], contact_email=data["contact_email"]
                )
            except FundingError as error:
                _attach(error, form, {})
            else:
                messages.success(
                    request,
                    _("Bailleur de fonds {name} ajouté.").format(name=funder.name),
                )
                return redirect("financement:funder_list")
    else:
        form = FunderForm()
    return render(request, "financement/funder_form.html", {"form": form}, status=status)
