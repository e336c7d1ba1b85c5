"""The coordinator's pages for a program's enrollment rules: privacy policy, eligibility
criteria, partner quotas, the waitlist and the possible duplicates.

Only the program's coordinators and network admins may open them: the program is fetched
through `programs_for(user)`, so anyone else gets a 404. Thin views: forms check the shape,
`program_services` and `services` apply the rules.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from beneficiaires import program_services, services
from beneficiaires.models import AuditEntry, EligibilityCriterion, Household, Partnership
from beneficiaires.program_forms import (
    CriterionForm,
    DuplicateResolutionForm,
    PartnerQuotaForm,
    PolicyForm,
)
from beneficiaires.services import EnrollmentError
from financement.selectors import program_funds
from programmes.models import Program
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from django import forms

    from comptes.models import User

PAGE_SIZE = 25
CRITERION_FIELDS = (
    "question_fr",
    "question_en",
    "postal_prefixes",
    "income_threshold",
    "min_size",
    "max_size",
)


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


def _program(request: HttpRequest, slug: str) -> Program:
    return get_object_or_404(programs_for(request.user), slug=slug)


def _form_error(form: forms.Form, error: EnrollmentError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def program_enrollment_counts(program: Program) -> dict[str, int]:
    """Households waiting for a place and possible duplicates to check (one query), for the
    links of the program's pages: {"waitlisted": n, "duplicates": n}."""
    return Household.objects.filter(program=program).aggregate(
        waitlisted=Count("pk", filter=Q(status=Household.Status.WAITLISTED)),
        duplicates=Count("pk", filter=Q(duplicate_review=Household.DuplicateReview.PENDING)),
    )


# ---------------------------------------------------------------------------------------------
# Policy and eligibility criteria


@login_required
@require_http_methods(["GET", "POST"])
def enrollment_settings(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    policy = services.policy_for(program)
    policy_form = PolicyForm(
        prefix="policy",
        initial={"notes_allowed": policy.notes_allowed, "retention_days": policy.retention_days},
    )
    criterion_form = CriterionForm(prefix="criterion")
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "policy":
            policy_form = PolicyForm(request.POST, prefix="policy")
            if policy_form.is_valid():
                try:
                    program_services.set_enrollment_policy(
                        program=program,
                        notes_allowed=policy_form.cleaned_data["notes_allowed"],
                        retention_days=policy_form.cleaned_data["retention_days"],
                    )
                except EnrollmentError as error:
                    _form_error(policy_form, error)
                else:
                    messages.success(request, _("La politique d'inscription est enregistrée."))
                    return redirect("beneficiaires:enrollment_settings", slug=program.slug)
        elif action == "add_criterion":
            criterion_form = CriterionForm(request.POST, prefix="criterion")
            if criterion_form.is_valid():
                data = criterion_form.cleaned_data
                try:
                    criterion = program_services.add_criterion(
                        program=program,
                        kind=data["kind"],
                        **{name: data[name] for name in CRITERION_FIELDS},
                    )
                except EnrollmentError as error:
                    _form_error(criterion_form, error)
                else:
                    messages.success(
                        request,
                        _("Critère ajouté : {criterion}.").format(
                            criterion=criterion.get_kind_display()
                        ),
                    )
                    return redirect("beneficiaires:enrollment_settings", slug=program.slug)
        else:
            messages.error(request, _("Action inconnue : rien n'a été modifié."))
        status = 400
    return render(
        request,
        "beneficiaires/enrollment_settings.html",
        {
            "program": program,
            "policy_form": policy_form,
            "criterion_form": criterion_form,
            "criteria": list(program.eligibility_criteria.all()),
            "partnerships": Partnership.objects.filter(program=program)
            .select_related("organization")
            .order_by("organization__name", "pk"),
            "enrollment_counts": program_enrollment_counts(program),
        },
        status=status,
    )


def _criterion(program: Program, pk: int) -> EligibilityCriterion:
    return get_object_or_404(EligibilityCriterion, program=program, pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def criterion_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    program = _program(request, slug)
    criterion = _criterion(program, pk)
    initial = {name: getattr(criterion, name) for name in CRITERION_FIELDS}
    form = CriterionForm(request.POST or None, kind=criterion.kind, initial=initial)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            values = {name: form.cleaned_data.get(name, initial[name]) for name in CRITERION_FIELDS}
            try:
                program_services.update_criterion(criterion=criterion, **values)
            except EnrollmentError as error:
                _form_error(form, error)
            else:
                messages.success(
                    request,
                    _("Critère modifié : {criterion}.").format(
                        criterion=criterion.get_kind_display()
                    ),
                )
                return redirect("beneficiaires:enrollment_settings", slug=program.slug)
    return render(
        request,
        "beneficiaires/criterion_form.html",
        {"program": program, "criterion": criterion, "form": form},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def criterion_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    program = _program(request, slug)
    criterion = _criterion(program, pk)
    if request.method == "POST":
        label = criterion.get_kind_display()
        program_services.delete_criterion(criterion=criterion)
        messages.success(request, _("Critère supprimé : {criterion}.").format(criterion=label))
        return redirect("beneficiaires:enrollment_settings", slug=program.slug)
    return render(
        request,
        "beneficiaires/criterion_delete.html",
        {"program": program, "criterion": criterion},
    )


# ---------------------------------------------------------------------------------------------
# Partner quotas


@login_required
@require_http_methods(["GET", "POST"])
def partner_quota(request: HttpRequest, slug: str, organization_slug: str) -> HttpResponse:
    program = _program(request, slug)
    partnership = get_object_or_404(
        Partnership.objects.select_related("organization"),
        program=program,
        organization__slug=organization_slug,
    )
    organization = partnership.organization
    form = PartnerQuotaForm(
        request.POST or None,
        initial={
            "household_quota": partnership.household_quota,
            "value_quota": partnership.value_quota,
        },
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                program_services.set_partner_quota(
                    partnership=partnership,
                    household_quota=form.cleaned_data["household_quota"],
                    value_quota=form.cleaned_data["value_quota"],
                )
            except EnrollmentError as error:
                _form_error(form, error)
            else:
                messages.success(
                    request,
                    _("Le quota de l'organisme {organization} est enregistré.").format(
                        organization=organization.name
                    ),
                )
                return redirect(
                    "beneficiaires:partner_quota",
                    slug=program.slug,
                    organization_slug=organization.slug,
                )
    usage = Household.objects.filter(program=program, organization=organization).aggregate(
        active=Count("pk", filter=Q(status=Household.Status.ACTIVE)),
        waitlisted=Count("pk", filter=Q(status=Household.Status.WAITLISTED)),
    )
    return render(
        request,
        "beneficiaires/partner_quota.html",
        {
            "program": program,
            "organization": organization,
            "partnership": partnership,
            "form": form,
            "usage": usage,
            "reserved": services.reserved_value(program, organization),
            "funds": program_funds(program),
        },
        status=status,
    )


# ---------------------------------------------------------------------------------------------
# Waitlist


def _waitlist(program: Program) -> QuerySet[Household]:
    """The program's waiting households, longest waiting first, without their personal data."""
    return (
        Household.objects.filter(program=program, status=Household.Status.WAITLISTED)
        .select_related("organization")
        .only(
            "reference",
            "adults",
            "children",
            "waitlisted_at",
            "program",
            "organization",
            "organization__name",
            "organization__slug",
        )
        .order_by("waitlisted_at", "pk")
    )


@login_required
@require_http_methods(["GET", "POST"])
def waitlist(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    if request.method == "POST":
        try:
            household = services.promote_from_waitlist(program=program, promoted_by=_user(request))
        except EnrollmentError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _(
                    "Le ménage {reference} quitte la liste d'attente : il est inscrit au "
                    "programme et peut recevoir ses coupons."
                ).format(reference=household.reference),
            )
        return redirect("beneficiaires:waitlist", slug=program.slug)
    households = _waitlist(program)
    page_obj = Paginator(households, PAGE_SIZE).get_page(request.GET.get("page"))
    head = households.first()
    blocked = ""
    if head is not None:
        _reason, blocked = services.room_for(
            program=program, organization=head.organization, household_size=head.size
        )
    return render(
        request,
        "beneficiaires/waitlist.html",
        {"program": program, "page_obj": page_obj, "head": head, "blocked": blocked},
    )


# ---------------------------------------------------------------------------------------------
# Possible duplicates


@login_required
@require_http_methods(["GET"])
def duplicates(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    personal = ("phone", "email", "notes")  # never shown here: not even decrypted
    pending = (
        Household.objects.filter(
            program=program, duplicate_review=Household.DuplicateReview.PENDING
        )
        .select_related("organization")
        .defer(*personal)
        .order_by("enrolled_at", "pk")
    )
    page_obj = Paginator(pending, PAGE_SIZE).get_page(request.GET.get("page"))
    rows: list[Household] = list(page_obj.object_list)
    keys = {household.duplicate_key for household in rows if household.duplicate_key}
    by_key: dict[str, list[Household]] = defaultdict(list)
    if keys:
        others = (
            Household.objects.filter(program=program, duplicate_key__in=keys)
            .select_related("organization")
            .defer(*personal)
            .order_by("enrolled_at", "pk")
        )
        for other in others:
            by_key[other.duplicate_key].append(other)
    entries: list[dict[str, Any]] = []
    shown: dict[int, Household] = {}
    for household in rows:
        matches = [
            other for other in by_key.get(household.duplicate_key, []) if other.pk != household.pk
        ]
        entries.append({"household": household, "others": matches})
        shown[household.pk] = household
        shown.update((other.pk, other) for other in matches)
    if shown:
        # The names are on the page: one audit row per household shown, in one query.
        services.record_access(
            user=_user(request),
            households=shown.values(),
            action=AuditEntry.Action.LIST,
            fields=["name"],
            detail="duplicates",
        )
    page_obj.object_list = entries  # type: ignore[assignment]
    return render(
        request,
        "beneficiaires/duplicates.html",
        {"program": program, "page_obj": page_obj, "form": DuplicateResolutionForm()},
    )


@login_required
@require_POST
def duplicate_resolve(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    program = _program(request, slug)
    household = get_object_or_404(Household.objects.filter(program=program), pk=pk)
    form = DuplicateResolutionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choisissez une décision : rien n'a été modifié."))
        return redirect("beneficiaires:duplicates", slug=program.slug)
    resolution = form.cleaned_data["resolution"]
    try:
        household = services.resolve_duplicate(
            household=household, resolution=resolution, resolved_by=_user(request)
        )
    except EnrollmentError as error:
        messages.error(request, error.message)
    else:
        if resolution == Household.DuplicateReview.DUPLICATE:
            message = _(
                "Doublon confirmé : l'inscription {reference} est retirée du programme."
            ).format(reference=household.reference)
        else:
            message = _("Ménages distincts : l'inscription {reference} est conservée.").format(
                reference=household.reference
            )
        messages.success(request, message)
    return redirect("beneficiaires:duplicates", slug=program.slug)


urlpatterns: list[URLPattern] = [
    path(
        "programmes/<slug:slug>/inscription/",
        enrollment_settings,
        name="enrollment_settings",
    ),
    path(
        "programmes/<slug:slug>/inscription/criteres/<int:pk>/",
        criterion_edit,
        name="criterion_edit",
    ),
    path(
        "programmes/<slug:slug>/inscription/criteres/<int:pk>/supprimer/",
        criterion_delete,
        name="criterion_delete",
    ),
    path(
        "programmes/<slug:slug>/organismes/<slug:organization_slug>/quota/",
        partner_quota,
        name="partner_quota",
    ),
    path("programmes/<slug:slug>/liste-attente/", waitlist, name="waitlist"),
    path("programmes/<slug:slug>/doublons/", duplicates, name="duplicates"),
    path(
        "programmes/<slug:slug>/doublons/<int:pk>/",
        duplicate_resolve,
        name="duplicate_resolve",
    ),
]
