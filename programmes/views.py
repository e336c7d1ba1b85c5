"""Pages of the programs app: the list of programs, creating and configuring a program.

Thin views: they fetch through scoped selectors (out of scope is a 404), validate with forms and
write through services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from programmes import selectors
from programmes.forms import AllotmentFormSet, ProgramForm, allotment_initial
from programmes.funding import funds_by_program
from programmes.models import Program, ProgramLogo
from programmes.money import ZERO
from programmes.services import ProgramError, ProgramSetup, create_program, update_program

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


RULES_PREFIX = "regles"


@login_required
@require_GET
def program_list(request: HttpRequest) -> HttpResponse:
    programs = selectors.program_list(request.user)
    page_obj = Paginator(programs, PAGE_SIZE).get_page(request.GET.get("page"))
    funds = funds_by_program(program.pk for program in page_obj.object_list)
    rows = [(program, funds.get(program.pk, ZERO)) for program in page_obj.object_list]
    return render(
        request,
        "programmes/program_list.html",
        {
            "page_obj": page_obj,
            "rows": rows,
            "can_create": selectors.can_create_program(request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def program_create(request: HttpRequest) -> HttpResponse:
    if not selectors.can_create_program(request.user):
        raise PermissionDenied
    if request.method == "POST":
        form = ProgramForm(request.POST, request.FILES)
        formset = AllotmentFormSet(request.POST, prefix=RULES_PREFIX)
        if form.is_valid() and formset.is_valid():
            try:
                program = create_program(
                    setup=ProgramSetup(**_settings(form, formset)), created_by=_user(request)
                )
            except ProgramError as error:
                _attach(error, form, formset)
            else:
                messages.success(
                    request,
                    _("Le programme {program} a été créé.").format(program=program.name),
                )
                return redirect("rapports:program_dashboard", slug=program.slug)
        return _render_form(request, form, formset, program=None, status=400)
    form = ProgramForm()
    formset = AllotmentFormSet(prefix=RULES_PREFIX, initial=[{"household_size": 1}])
    return _render_form(request, form, formset, program=None)


@login_required
@require_http_methods(["GET", "POST"])
def program_edit(request: HttpRequest, slug: str) -> HttpResponse:
    program: Program = get_object_or_404(selectors.programs_for(request.user), slug=slug)
    has_logo = ProgramLogo.objects.filter(program=program).exists()
    if request.method == "POST":
        form = ProgramForm(request.POST, request.FILES, has_logo=has_logo)
        formset = AllotmentFormSet(request.POST, prefix=RULES_PREFIX)
        if form.is_valid() and formset.is_valid():
            try:
                update_program(program=program, setup=ProgramSetup(**_settings(form, formset)))
            except ProgramError as error:
                _attach(error, form, formset)
            else:
                messages.success(
                    request,
                    _("Les paramètres du programme {program} ont été enregistrés.").format(
                        program=program.name
                    ),
                )
                return redirect("rapports:program_dashboard", slug=program.slug)
        return _render_form(request, form, formset, program=program, status=400)
    form = ProgramForm(initial=ProgramForm.initial_for(program), has_logo=has_logo)
    formset = AllotmentFormSet(prefix=RULES_PREFIX, initial=allotment_initial(program))
    return _render_form(request, form, formset, program=program)


def _settings(form: ProgramForm, formset: Any) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "territory_name": data["territory_name"],
        "territory_kind": data["territory_kind"],
        "season_start": data["season_start"],
        "season_end": data["season_end"],
        "serial_prefix": data["serial_prefix"],
        "distribution_count": data["distribution_count"],
        "distribution_frequency": data["distribution_frequency"],
        "coupon_validity_days": data["coupon_validity_days"],
        "logo": data["logo"],
        "remove_logo": data.get("remove_logo", False),
        "categories": data["categories"],
        "denominations": data["denominations"],
        "allotment_rules": formset.rules(),
        "offline_max_count": data["offline_max_count"],
        "offline_max_value": data["offline_max_value"],
        "local_currency": data["local_currency"],
        "local_rate": data["local_rate"],
        "fund_holder": data["fund_holder"],
        "charity_number": data["charity_number"],
        "fund_holder_address": data["fund_holder_address"],
        "receipt_signatory": data["receipt_signatory"],
        "sale_enabled": data["sale_enabled"],
        "sale_price": data["sale_price"],
        "sale_value": data["sale_value"],
        "sale_subsidy_cap": data["sale_subsidy_cap"],
        "sale_max_packs": data["sale_max_packs"],
    }


def _attach(error: ProgramError, form: ProgramForm, formset: Any) -> None:
    """Show a service error next to the input at fault."""
    if error.field == "allotment":
        formset.service_errors = [error.message]
    elif error.field in form.fields:
        form.add_error(error.field, error.message)
    else:
        form.add_error(None, error.message)


def _render_form(
    request: HttpRequest,
    form: ProgramForm,
    formset: Any,
    *,
    program: Program | None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "programmes/program_form.html",
        {
            "form": form,
            "formset": formset,
            "allotment_errors": getattr(formset, "service_errors", []),
            "program": program,
        },
        status=status,
    )
