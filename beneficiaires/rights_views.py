"""The rights of the people enrolled: rectification, access export (JSON, CSV), consent per
purpose, withdrawal, anonymization and the household's access log.

Thin views: the household is fetched through `households_for(user)` (out of scope is a 404);
anonymizing and reading the access log are for the program's coordinators and network admins
(403 for an intervenant). Every page that shows or exports personal data writes an audit row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.http import content_disposition_header
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires import selectors, services
from beneficiaires.consent import CONSENT_TEXTS, CONSENT_VERSIONS, OPTIONAL_PURPOSES
from beneficiaires.exports import exported_field_names, household_export, household_export_csv
from beneficiaires.models import AuditEntry, Consent, Household, SurveyResponse
from beneficiaires.rights_forms import ConsentGiveForm, RectificationForm
from beneficiaires.services import ANONYMIZED_FIELDS, EnrollmentError
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User

AUDIT_PAGE_SIZE = 50
# What anonymization erases outright (the postal code keeps its area, said apart on the page).
ERASED_FIELDS = (*(name for name in ANONYMIZED_FIELDS if name != "postal_code"), "eligibility")


def _user(request: HttpRequest) -> User:
    """The signed-in user (the views are behind `login_required`)."""
    return cast("User", request.user)


def _household(request: HttpRequest, pk: int) -> Household:
    return get_object_or_404(selectors.households_for(request.user), pk=pk)


def _require_program_staff(request: HttpRequest, household: Household) -> None:
    """Coordinators of the household's program and network admins; others in scope get 403."""
    if not programs_for(request.user).filter(pk=household.program_id).exists():
        raise PermissionDenied


def _has_contact_consent(household: Household) -> bool:
    return household.consents.filter(
        purpose=Consent.Purpose.CONTACT, withdrawn_at__isnull=True
    ).exists()


# Household fields declared without a (translated) verbose name.
_FIELD_LABELS = {
    "id": _lazy("Numéro interne"),
    "enrolled_by": _lazy("Inscrit par"),
    "enrolled_at": _lazy("Inscrit le"),
    "updated_at": _lazy("Modifié le"),
}


def field_label(name: str) -> str:
    """A household field's name as people read it ("postal_code" → "Code postal")."""
    if name in _FIELD_LABELS:
        return str(_FIELD_LABELS[name])
    try:
        field = Household._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(capfirst(getattr(field, "verbose_name", name)))


def _to_household_page(household: Household) -> HttpResponse:
    return redirect("coupons:household_detail", pk=household.pk)


# Rectification ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def household_edit(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    if household.is_anonymized:
        messages.error(
            request,
            _(
                "Ce ménage a été rendu anonyme : ses renseignements n'existent plus et ne "
                "peuvent pas être corrigés."
            ),
        )
        return _to_household_page(household)
    contact_allowed = _has_contact_consent(household)
    options = {
        "contact_allowed": contact_allowed,
        "notes_allowed": services.policy_for(household.program).notes_allowed,
    }
    status = 200
    if request.method == "POST":
        form = RectificationForm(request.POST, **options)
        status = 400
        if form.is_valid():
            try:
                changed = services.update_household(
                    household=household, details=form.details(), changed_by=_user(request)
                )
            except EnrollmentError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                if changed:
                    messages.success(
                        request,
                        _("Renseignements corrigés : {fields}.").format(
                            fields=", ".join(field_label(name) for name in changed)
                        ),
                    )
                else:
                    messages.info(request, _("Aucun changement : rien n'a été modifié."))
                return _to_household_page(household)
    else:
        form = RectificationForm(
            initial=RectificationForm.initial_for(household, contact_allowed=contact_allowed),
            **options,
        )
        services.record_access(
            user=_user(request),
            households=[household],
            action=AuditEntry.Action.VIEW,
            fields=form.shown_fields(),
            detail="rectification",
        )
    return render(
        request,
        "beneficiaires/household_edit.html",
        {"household": household, "form": form, "contact_allowed": contact_allowed},
        status=status,
    )


# Access export ----------------------------------------------------------------------------------


def _filename(household: Household, extension: str) -> str:
    reference = re.sub(r"[^A-Za-z0-9_-]+", "-", household.reference).strip("-") or "menage"
    return f"menage-{reference}.{extension}"


def _download(household: Household, body: str, content_type: str, extension: str) -> HttpResponse:
    response = HttpResponse(body.encode("utf-8"), content_type=content_type)
    disposition = content_disposition_header(
        as_attachment=True, filename=_filename(household, extension)
    )
    response["Content-Disposition"] = disposition or "attachment"
    response["Cache-Control"] = "no-store"
    return response


def _record_export(request: HttpRequest, household: Household, file_format: str) -> None:
    services.record_access(
        user=_user(request),
        households=[household],
        action=AuditEntry.Action.EXPORT,
        fields=exported_field_names(),
        detail=file_format,
    )


@login_required
@require_GET
def household_export_json(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    with transaction.atomic():
        # Recorded first, so that the export lists itself in its access log.
        _record_export(request, household, "json")
        body = json.dumps(household_export(household), ensure_ascii=False, indent=2)
    return _download(household, body, "application/json; charset=utf-8", "json")


@login_required
@require_GET
def household_export_csv_view(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    with transaction.atomic():
        _record_export(request, household, "csv")
        body = household_export_csv(household)
    return _download(household, body, "text/csv; charset=utf-8", "csv")


# Consent per purpose ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@never_cache
def household_consent(request: HttpRequest, pk: int, purpose: str) -> HttpResponse:
    household = _household(request, pk)
    if purpose not in Consent.Purpose.values:
        raise Http404
    label = str(Consent.Purpose(purpose).label)
    optional = purpose in OPTIONAL_PURPOSES
    current = (
        household.consents.filter(purpose=purpose, withdrawn_at__isnull=True)
        .select_related("recorded_by")
        .first()
    )
    withdrawn = household.status == Household.Status.WITHDRAWN
    give_form = ConsentGiveForm()
    status = 200
    if request.method == "POST":
        if household.is_anonymized:
            messages.error(
                request,
                _("Ce ménage a été rendu anonyme : ses consentements ne changent plus."),
            )
            return _to_household_page(household)
        action = request.POST.get("action")
        user = _user(request)
        status = 400
        if action == "give" and optional and withdrawn:
            messages.error(
                request,
                _("Le ménage est retiré du programme : inscrivez-le de nouveau d'abord."),
            )
        elif action == "give" and optional:
            give_form = ConsentGiveForm(request.POST)
            if give_form.is_valid():
                try:
                    services.give_consent(household=household, purpose=purpose, recorded_by=user)
                except EnrollmentError as error:
                    give_form.add_error(None, error.message)
                else:
                    messages.success(
                        request,
                        _("Consentement enregistré : {purpose}.").format(purpose=label),
                    )
                    return _to_household_page(household)
        elif action == "withdraw":
            if purpose != Consent.Purpose.PARTICIPATION and current is None:
                messages.info(request, _("Ce consentement n'est pas en vigueur : rien à retirer."))
                return _to_household_page(household)
            services.withdraw_consent(household=household, purpose=purpose, withdrawn_by=user)
            messages.success(request, _withdrawal_message(household, purpose, label))
            return _to_household_page(household)
        else:
            messages.error(request, _("Action inconnue : rien n'a été modifié."))
    history = household.consents.filter(purpose=purpose).select_related(
        "recorded_by", "withdrawn_by"
    )
    return render(
        request,
        "beneficiaires/household_consent.html",
        {
            "household": household,
            "purpose": purpose,
            "label": label,
            "optional": optional,
            "consent_text": CONSENT_TEXTS[purpose],
            "consent_version": CONSENT_VERSIONS[purpose],
            "current": current,
            "history": list(history[:20]),
            "give_form": give_form,
            "can_give": optional
            and current is None
            and not withdrawn
            and not household.is_anonymized,
            "can_withdraw": not household.is_anonymized
            and (
                current is not None
                or (
                    purpose == Consent.Purpose.PARTICIPATION
                    and household.status != Household.Status.WITHDRAWN
                )
            ),
        },
        status=status,
    )


def _withdrawal_message(household: Household, purpose: str, label: str) -> str:
    if purpose == Consent.Purpose.PARTICIPATION:
        return _(
            "Consentement à la participation retiré : le ménage {reference} est retiré du "
            "programme et ne recevra plus de coupons."
        ).format(reference=household.reference)
    if purpose == Consent.Purpose.CONTACT:
        return _(
            "Consentement à être contacté·e retiré : le téléphone et le courriel du ménage ont "
            "été effacés."
        )
    return _("Consentement retiré : {purpose}.").format(purpose=label)


# Withdrawal and anonymization -------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def household_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    already = household.status == Household.Status.WITHDRAWN
    if request.method == "POST":
        if already:
            messages.info(request, _("Ce ménage est déjà retiré du programme."))
        else:
            services.withdraw_household(household=household, withdrawn_by=_user(request))
            messages.success(
                request,
                _(
                    "Le ménage {reference} est retiré du programme : il ne recevra plus de "
                    "coupons. Ses renseignements sont conservés jusqu'à la fin de la période de "
                    "conservation du programme, à moins qu'ils ne soient rendus anonymes avant."
                ).format(reference=household.reference),
            )
        return _to_household_page(household)
    return render(
        request,
        "beneficiaires/household_withdraw.html",
        {"household": household, "already": already},
    )


@login_required
@require_http_methods(["GET", "POST"])
def household_anonymize(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    _require_program_staff(request, household)
    if request.method == "POST":
        if services.anonymize_household(household=household, by=_user(request)):
            messages.success(
                request,
                _(
                    "Le ménage {reference} est maintenant anonyme : ses renseignements "
                    "personnels sont effacés, ses coupons et ses échanges sont conservés."
                ).format(reference=household.reference),
            )
        else:
            messages.info(request, _("Ce ménage était déjà anonyme."))
        return _to_household_page(household)
    return render(
        request,
        "beneficiaires/household_anonymize.html",
        {
            "household": household,
            "erased": [field_label(name) for name in ERASED_FIELDS],
        },
    )


# Access log -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditRow:
    entry: AuditEntry
    who: str
    fields: list[str]
    detail: str


def describe_detail(detail: str) -> str:
    """An audit row's `detail` as people read it ("given:contact" → "Consentement donné : …")."""
    kind, _sep, value = detail.partition(":")
    purposes = dict(Consent.Purpose.choices)
    if kind == "given" and value in purposes:
        return _("Consentement donné : {purpose}").format(purpose=purposes[value])
    if kind == "withdrawn" and value in purposes:
        return _("Consentement retiré : {purpose}").format(purpose=purposes[value])
    if detail == "withdrawn":
        return _("Retrait du programme")
    if detail == "promoted":
        return _("Sortie de la liste d'attente")
    if kind == "duplicate" and value:
        return str(dict(Household.DuplicateReview.choices).get(value, detail))
    if detail == "rectification":
        return _("Formulaire de correction")
    if detail in ("json", "csv"):
        return _("Fichier {format}").format(format=detail.upper())
    phases = dict(SurveyResponse.Phase.choices)
    if kind == "survey" and value in phases:
        return _("Sondage d'évaluation : {phase}").format(phase=phases[value])
    return detail


def audit_rows(entries: Iterable[AuditEntry]) -> list[AuditRow]:
    """Audit entries as the access-log pages show them (who, which fields, what)."""
    return [
        AuditRow(
            entry=entry,
            who=entry.user.email if entry.user else _("Tâche automatique"),
            fields=sorted(field_label(name) for name in entry.fields or []),
            detail=describe_detail(entry.detail),
        )
        for entry in entries
    ]


@login_required
@require_GET
@never_cache
def household_audit(request: HttpRequest, pk: int) -> HttpResponse:
    household = _household(request, pk)
    _require_program_staff(request, household)
    entries = household.audit_entries.select_related("user").order_by("-at", "-pk")
    page_obj = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = audit_rows(page_obj.object_list)
    return render(
        request,
        "beneficiaires/household_audit.html",
        {"household": household, "page_obj": page_obj, "rows": rows},
    )


urlpatterns: list[URLPattern] = [
    path("menages/<int:pk>/modifier/", household_edit, name="household_edit"),
    path("menages/<int:pk>/export.json", household_export_json, name="household_export_json"),
    path("menages/<int:pk>/export.csv", household_export_csv_view, name="household_export_csv"),
    path(
        "menages/<int:pk>/consentements/<str:purpose>/",
        household_consent,
        name="household_consent",
    ),
    path("menages/<int:pk>/retirer/", household_withdraw, name="household_withdraw"),
    path("menages/<int:pk>/anonymiser/", household_anonymize, name="household_anonymize"),
    path("menages/<int:pk>/journal/", household_audit, name="household_audit"),
]
