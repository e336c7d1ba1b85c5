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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires import selectors
from beneficiaires.consent import CONSENT_TEXTS, CONSENT_VERSIONS
from beneficiaires.forms import (
    ConsentForm,
    EnrollmentForm,
    ExistingOrganizationForm,
    HouseholdSearchForm,
    OrganizationForm,
)
from beneficiaires.models import AuditEntry
from beneficiaires.services import (
    EnrollmentError,
    add_partner,
    create_partner_organization,
    enroll_household,
    policy_for,
    record_access,
    room_for,
)
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25
# What the organization's household list shows of each household.
LIST_FIELDS = ("reference", "name", "adults", "children", "status")


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
@never_cache
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = get_object_or_404(selectors.organizations_for(request.user), slug=slug)
    search_form = HouseholdSearchForm(request.GET)
    search = search_form.cleaned_data["q"] if search_form.is_valid() else ""
    households = selectors.organization_households(request.user, organization, search)
    page_obj = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    # The list shows names: each household shown is an access, recorded in one query.
    record_access(
        user=_user(request),
        households=page_obj.object_list,
        action=AuditEntry.Action.LIST,
        fields=LIST_FIELDS,
    )
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
    choices = list(programs)
    if not choices:
        messages.error(
            request,
            _(
                "Cet organisme n'est partenaire d'aucun programme où vous pouvez inscrire un "
                "ménage."
            ),
        )
        return redirect("beneficiaires:organization_detail", slug=organization.slug)
    wanted = request.POST.get("program") or request.GET.get("programme")
    program = next((p for p in choices if p.slug == wanted), None)
    if program is None and len(choices) == 1:
        program = choices[0]
    if program is None:
        # Each program asks its own questions: choose it first.
        return render(
            request,
            "beneficiaires/household_program_choice.html",
            {"organization": organization, "programs": choices},
            status=400 if request.method == "POST" else 200,
        )
    policy = policy_for(program)
    form = EnrollmentForm(
        request.POST or None,
        program=program,
        programs=programs,
        criteria=list(program.eligibility_criteria.all()),
        notes_allowed=policy.notes_allowed,
    )
    consent_form = ConsentForm(request.POST or None)
    status = 200
    duplicate_warning = ""
    if request.method == "POST":
        status = 400
        form_ok = form.is_valid()
        consent_ok = consent_form.is_valid()  # both run, so that every error shows at once
        if form_ok and consent_ok:
            details = form.household_details()
            try:
                household = enroll_household(
                    organization=organization,
                    program=program,
                    name=details.name,
                    adults=details.adults,
                    children=details.children,
                    postal_code=details.postal_code,
                    preferred_language=details.preferred_language,
                    phone=details.phone,
                    email=details.email,
                    year_of_birth=details.year_of_birth,
                    notes=details.notes,
                    answers=form.answers(),
                    optional_consents=consent_form.optional_consents(),
                    acknowledge_duplicate=consent_form.cleaned_data["acknowledge_duplicate"],
                    consent_given=consent_form.cleaned_data["consent"],
                    enrolled_by=_user(request),
                )
            except EnrollmentError as error:
                if error.code == "possible_duplicate":
                    duplicate_warning = error.message
                elif error.field in ("consent", "contact"):
                    consent_form.add_error("consent", error.message)
                elif error.field in form.fields:
                    form.add_error(error.field, error.message)
                else:
                    form.add_error(None, error.message)
            else:
                if household.status == household.Status.WAITLISTED:
                    _reason, why = room_for(
                        program=program, organization=organization, household_size=household.size
                    )
                    messages.warning(
                        request,
                        _(
                            "Le ménage {reference} est inscrit en liste d'attente : {why} La "
                            "coordination le fera passer quand une place se libérera."
                        ).format(reference=household.reference, why=why),
                    )
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
            "program": program,
            "several_programs": len(choices) > 1,
            "form": form,
            "consent_form": consent_form,
            "consent_texts": CONSENT_TEXTS,
            "consent_versions": CONSENT_VERSIONS,
            "duplicate_warning": duplicate_warning,
        },
        status=status,
    )
