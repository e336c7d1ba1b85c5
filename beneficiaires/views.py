"""Pages of the beneficiaries app: a program's partner organizations, an organization's
households and the enrollment of a household.

Thin views: they fetch through scoped selectors (out of scope is a 404), validate with forms and
write through services. A household's own page (its coupons) lives in the coupons app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires import selectors
from beneficiaires.consent import PARTICIPATION_CONSENT_TEXT, PARTICIPATION_CONSENT_VERSION
from beneficiaires.forms import (
    ConsentForm,
    EnrollmentForm,
    ExistingOrganizationForm,
    HouseholdSearchForm,
    OrganizationForm,
)
from beneficiaires.services import (
    EnrollmentError,
    add_partner,
    create_partner_organization,
    enroll_household,
)
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


@login_required
@require_http_methods(["GET", "POST"])
def program_partners(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(programs_for(request.user), slug=slug)
    addable = selectors.partnerable_organizations(request.user, program)
    create_form = OrganizationForm(prefix="new")
    add_form = ExistingOrganizationForm(prefix="existing", organizations=addable)
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            create_form = OrganizationForm(request.POST, prefix="new")
            if create_form.is_valid():
                try:
                    organization = create_partner_organization(
                        program=program, name=create_form.cleaned_data["name"]
                    )
                except EnrollmentError as error:
                    create_form.add_error("name" if error.field == "name" else None, error.message)
                else:
                    messages.success(
                        request,
                        _(
                            "L'organisme {organization} est maintenant partenaire du programme."
                        ).format(organization=organization.name),
                    )
                    return redirect("beneficiaires:program_partners", slug=program.slug)
        elif action == "add":
            add_form = ExistingOrganizationForm(
                request.POST, prefix="existing", organizations=addable
            )
            if add_form.is_valid():
                organization = add_form.cleaned_data["organization"]
                add_partner(program=program, organization=organization)
                messages.success(
                    request,
                    _("L'organisme {organization} est maintenant partenaire du programme.").format(
                        organization=organization.name
                    ),
                )
                return redirect("beneficiaires:program_partners", slug=program.slug)
        else:
            messages.error(request, _("Action inconnue : rien n'a été modifié."))
        status = 400
    partners = selectors.program_partners(program)
    return render(
        request,
        "beneficiaires/program_partners.html",
        {
            "program": program,
            "page_obj": Paginator(partners, PAGE_SIZE).get_page(request.GET.get("page")),
            "create_form": create_form,
            "add_form": add_form,
            "has_addable": addable.exists(),
        },
        status=status,
    )


@login_required
@require_GET
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(selectors.organizations_for(request.user), slug=slug)
    search_form = HouseholdSearchForm(request.GET)
    search = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    households = selectors.organization_households(request.user, organization, search)
    page_obj = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    programs = list(selectors.enrollment_programs(request.user, organization))
    return render(
        request,
        "beneficiaires/organization_detail.html",
        {
            "organization": organization,
            # A coordinator sees the programs they run here, not another MRC's.
            "programs": programs,
            "search_form": search_form,
            "search": search,
            "page_obj": page_obj,
            "query_string": urlencode({"q": search}) if search else "",
            "can_enroll": bool(programs),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def household_create(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(selectors.organizations_for(request.user), slug=slug)
    programs = selectors.enrollment_programs(request.user, organization)
    if not programs.exists():
        messages.error(
            request,
            _(
                "Cet organisme n'est partenaire d'aucun programme où vous pouvez inscrire un "
                "ménage."
            ),
        )
        return redirect("beneficiaires:organization_detail", slug=organization.slug)
    form = EnrollmentForm(request.POST or None, programs=programs)
    consent_form = ConsentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        form_ok = form.is_valid()
        consent_ok = consent_form.is_valid()  # both run, so that every error shows at once
        if form_ok and consent_ok:
            data = form.cleaned_data
            try:
                household = enroll_household(
                    organization=organization,
                    program=data["program"],
                    name=data["name"],
                    adults=data["adults"],
                    children=data["children"],
                    postal_code=data["postal_code"],
                    preferred_language=data["preferred_language"],
                    consent_given=consent_form.cleaned_data["consent"],
                    enrolled_by=_user(request),
                )
            except EnrollmentError as error:
                if error.field == "consent":
                    consent_form.add_error("consent", error.message)
                elif error.field in form.fields:
                    form.add_error(error.field, error.message)
                else:
                    form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Le ménage {reference} est inscrit au programme {program}.").format(
                        reference=household.reference, program=household.program.name
                    ),
                )
                return redirect("coupons:household_detail", pk=household.pk)
    return render(
        request,
        "beneficiaires/household_form.html",
        {
            "organization": organization,
            "form": form,
            "consent_form": consent_form,
            "consent_text": PARTICIPATION_CONSENT_TEXT,
            "consent_version": PARTICIPATION_CONSENT_VERSION,
        },
        status=status,
    )
