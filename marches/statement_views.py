"""Pages of the reimbursement statements: the list, preparing one, a statement, its actions
(approve, mark paid, discard a draft) and its exports (CSV, PDF).

Thin views: every statement is fetched through `statements.statements_for` (out of scope is a
404); the actions are for those `statements.can_manage_statement` allows (a vendor's own staff
read their statements and download them, and get a 403 on the actions).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from marches import statements
from marches.models import Statement, Vendor
from marches.statement_forms import PaymentForm, StatementFilterForm, StatementForm
from marches.statement_pdf import render_statement_pdf
from marches.statements import StatementError
from programmes.models import Program

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _page(request: HttpRequest, queryset: QuerySet[Any]) -> Page:
    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


def _visible(request: HttpRequest, pk: int) -> Statement:
    return get_object_or_404(
        statements.statements_for(request.user).select_related(
            "created_by", "approved_by", "paid_by"
        ),
        pk=pk,
    )


def _manageable(request: HttpRequest, pk: int) -> Statement:
    statement = _visible(request, pk)
    if not statements.can_manage_statement(request.user, statement):
        raise PermissionDenied
    return statement


# The list --------------------------------------------------------------------------------------


@login_required
@require_GET
def statement_list(request: HttpRequest) -> HttpResponse:
    visible = statements.statements_for(request.user)
    # The choices: what the listed statements are about, and whom the user may prepare
    # statements for or works for (a link from a vendor page filters on it before any exists).
    programs = Program.objects.filter(
        Q(pk__in=visible.values("program_id"))
        | Q(pk__in=statements.statement_programs_for(request.user).values("pk"))
    )
    vendors = Vendor.objects.filter(
        Q(pk__in=visible.values("vendor_id"))
        | Q(pk__in=statements.statement_vendors_for(request.user).values("pk"))
        | Q(pk__in=Vendor.objects.filter(members=request.user.pk).values("pk"))
    )
    form = StatementFilterForm(request.GET, programs=programs, vendors=vendors)
    form.is_valid()  # an invalid filter is shown as an error and left out
    chosen = {k: v for k, v in form.cleaned_data.items() if v}
    listed = visible
    if "program" in chosen:
        listed = listed.filter(program=chosen["program"])
    if "vendor" in chosen:
        listed = listed.filter(vendor=chosen["vendor"])
    if "status" in chosen:
        listed = listed.filter(status=chosen["status"])
    query = {
        "program": chosen["program"].slug if "program" in chosen else "",
        "vendor": chosen["vendor"].slug if "vendor" in chosen else "",
        "status": chosen.get("status", ""),
    }
    return render(
        request,
        "marches/statement_list.html",
        {
            "form": form,
            "page_obj": _page(request, listed.order_by("-period_end", "-pk")),
            "query_string": urlencode({k: v for k, v in query.items() if v}),
            "can_prepare": statements.statement_programs_for(request.user).exists(),
            "create_query": urlencode(
                {k: v for k, v in query.items() if v and k in {"program", "vendor"}}
            ),
        },
    )


# Preparing a statement -------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def statement_create(request: HttpRequest) -> HttpResponse:
    """GET with the form's values shows what the statement would hold; POST makes it."""
    programs = statements.statement_programs_for(request.user)
    if not programs.exists():
        raise Http404
    vendors = statements.statement_vendors_for(request.user)
    if request.method == "POST":
        data, bound = request.POST, True
    else:
        # A link may choose the program and the vendor only: the form is then filled in, not
        # judged (the preview needs a period).
        data = request.GET
        bound = any(data.get(name) for name in ("period_start", "period_end"))
    form = StatementForm(data if bound else None, programs=programs, vendors=vendors)
    preview = None
    status = 200
    if bound and form.is_valid():
        values = form.cleaned_data
        try:
            if request.method == "POST":
                statement = statements.create_statement(
                    vendor=values["vendor"],
                    program=values["program"],
                    period_start=values["period_start"],
                    period_end=values["period_end"],
                    created_by=_user(request),
                )
            else:
                statements.check_statement(
                    vendor=values["vendor"],
                    program=values["program"],
                    period_start=values["period_start"],
                    period_end=values["period_end"],
                    user=request.user,
                )
                preview = statements.preview_statement(
                    vendor=values["vendor"],
                    program=values["program"],
                    start=values["period_start"],
                    end=values["period_end"],
                )
        except StatementError as error:
            form.add_error(None, error.message)
            status = 400
        else:
            if request.method == "POST":
                messages.success(
                    request,
                    _(
                        "Relevé nº {number} préparé : {count} échanges. Vérifiez-le, puis "
                        "approuvez-le."
                    ).format(number=statement.pk, count=statement.redemption_count),
                )
                return redirect("marches:statement_detail", pk=statement.pk)
    elif bound:
        status = 400
    else:
        today = timezone.localdate()
        form = StatementForm(
            initial={
                "period_start": today.replace(day=1),
                "period_end": today,
                **{k: request.GET[k] for k in ("program", "vendor") if request.GET.get(k)},
            },
            programs=programs,
            vendors=vendors,
        )
    query_string = ""
    if preview is not None:
        query_string = urlencode(
            {
                "program": preview.program.slug,
                "vendor": preview.vendor.slug,
                "period_start": preview.start.isoformat(),
                "period_end": preview.end.isoformat(),
            }
        )
    return render(
        request,
        "marches/statement_form.html",
        {
            "form": form,
            "preview": preview,
            "page_obj": _page(request, preview.lines) if preview is not None else None,
            "query_string": query_string,
        },
        status=status,
    )


# A statement -----------------------------------------------------------------------------------


@login_required
@require_GET
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _visible(request, pk)
    return render(
        request,
        "marches/statement_detail.html",
        {
            "statement": statement,
            "page_obj": _page(request, statements.statement_lines(statement)),
            "local": statements.statement_local(statement),
            "can_manage": statements.can_manage_statement(request.user, statement),
        },
    )


def _refused(request: HttpRequest, statement: Statement, error: StatementError) -> HttpResponse:
    messages.error(request, error.message)
    if error.code == "not_found":  # a draft discarded meanwhile
        return redirect("marches:statement_list")
    return redirect("marches:statement_detail", pk=statement.pk)


def _action_page(
    request: HttpRequest,
    statement: Statement,
    action: str,
    *,
    form: PaymentForm | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "marches/statement_action.html",
        {"statement": statement, "action": action, "form": form},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def statement_approve(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _manageable(request, pk)
    if request.method == "POST":
        try:
            statements.approve_statement(statement=statement, approved_by=_user(request))
        except StatementError as error:
            return _refused(request, statement, error)
        messages.success(
            request,
            _("Relevé nº {number} approuvé : il peut maintenant être payé.").format(
                number=statement.pk
            ),
        )
        return redirect("marches:statement_detail", pk=statement.pk)
    if statement.status != Statement.Status.DRAFT:
        messages.info(request, _("Ce relevé est déjà approuvé."))
        return redirect("marches:statement_detail", pk=statement.pk)
    return _action_page(request, statement, "approve")


@login_required
@require_http_methods(["GET", "POST"])
def statement_pay(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _manageable(request, pk)
    if request.method == "POST":
        form = PaymentForm(request.POST)
        if form.is_valid():
            try:
                statements.mark_statement_paid(
                    statement=statement,
                    reference=form.cleaned_data["reference"],
                    paid_by=_user(request),
                )
            except StatementError as error:
                if error.code != "reference_required":
                    return _refused(request, statement, error)
                form.add_error("reference", error.message)
            else:
                messages.success(
                    request,
                    _("Relevé nº {number} marqué payé.").format(number=statement.pk),
                )
                return redirect("marches:statement_detail", pk=statement.pk)
        return _action_page(request, statement, "pay", form=form, status=400)
    if statement.status != Statement.Status.APPROVED:
        messages.info(
            request,
            _("Ce relevé est déjà payé.")
            if statement.status == Statement.Status.PAID
            else _("Approuvez d'abord ce relevé : c'est encore un brouillon."),
        )
        return redirect("marches:statement_detail", pk=statement.pk)
    return _action_page(request, statement, "pay", form=PaymentForm())


@login_required
@require_http_methods(["GET", "POST"])
def statement_discard(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _manageable(request, pk)
    if request.method == "POST":
        try:
            released = statements.discard_statement(
                statement=statement, discarded_by=_user(request)
            )
        except StatementError as error:
            return _refused(request, statement, error)
        messages.success(
            request,
            _(
                "Brouillon supprimé : ses {count} échanges pourront figurer sur un autre relevé."
            ).format(count=released),
        )
        return redirect("marches:statement_list")
    if statement.status != Statement.Status.DRAFT:
        messages.info(
            request, _("Seul un brouillon peut être supprimé : ce relevé est déjà approuvé.")
        )
        return redirect("marches:statement_detail", pk=statement.pk)
    return _action_page(request, statement, "discard")


# Exports ---------------------------------------------------------------------------------------


def _filename(statement: Statement, extension: str) -> str:
    return (
        f"releve-{statement.pk}-{statement.vendor.slug}-"
        f"{statement.period_start:%Y-%m-%d}-{statement.period_end:%Y-%m-%d}.{extension}"
    )


@login_required
@require_GET
def statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _visible(request, pk)
    buffer = io.StringIO()
    statements.write_statement_csv(statement, buffer)
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "csv")}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    statement = _visible(request, pk)
    pdf = render_statement_pdf(statements.printable_statement(statement))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{_filename(statement, "pdf")}"'
    response["Cache-Control"] = "private, no-store"
    return response


urlpatterns: list[URLPattern] = [
    path("remboursements/", statement_list, name="statement_list"),
    path("remboursements/nouveau/", statement_create, name="statement_create"),
    path("remboursements/<int:pk>/", statement_detail, name="statement_detail"),
    path("remboursements/<int:pk>/approuver/", statement_approve, name="statement_approve"),
    path("remboursements/<int:pk>/payer/", statement_pay, name="statement_pay"),
    path("remboursements/<int:pk>/supprimer/", statement_discard, name="statement_discard"),
    path("remboursements/<int:pk>/releve.csv", statement_csv, name="statement_csv"),
    path("remboursements/<int:pk>/releve.pdf", statement_pdf, name="statement_pdf"),
]
