"""Pages of a program's register of confidentiality incidents: the list (and its CSV export),
recording an incident and completing it as the risk is assessed and notices go out.

Only the program's coordinators and network admins see the register: the program is fetched
through `programs_for(user)`, so anyone else gets a 404.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from beneficiaires.incident_forms import IncidentForm
from beneficiaires.incidents import IncidentError, record_incident, update_incident
from beneficiaires.models import PrivacyIncident
from programmes.models import Program
from programmes.selectors import programs_for

if TYPE_CHECKING:
    from comptes.models import User

PAGE_SIZE = 25
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


def _program(request: HttpRequest, slug: str) -> Program:
    return get_object_or_404(programs_for(request.user), slug=slug)


def _register(program: Program) -> QuerySet[PrivacyIncident]:
    return PrivacyIncident.objects.filter(program=program).order_by("-discovered_on", "-pk")


@login_required
@require_GET
def incident_list(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    if request.GET.get("format") == "csv":
        return _csv(program)
    page_obj = Paginator(_register(program), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "beneficiaires/incident_list.html",
        {"program": program, "page_obj": page_obj},
    )


@login_required
@require_GET
def incident_export(request: HttpRequest, slug: str) -> HttpResponse:
    return _csv(_program(request, slug))


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def _csv(program: Program) -> HttpResponse:
    """The whole register as a spreadsheet: one row per incident, one column per fact."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"registre-incidents-{program.slug}-{timezone.localdate():%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response.write("\ufeff")  # so that a spreadsheet reads the accents as UTF-8
    writer = csv.writer(response)
    writer.writerow(
        [
            _("Numéro"),
            _("Renseignements visés"),
            _("Circonstances"),
            _("Date ou début de l'incident"),
            _("Fin de la période"),
            _("Constaté le"),
            _("Personnes concernées"),
            _("Risque de préjudice sérieux"),
            _("Évaluation du risque"),
            _("Avis à la Commission le"),
            _("Avis aux personnes le"),
            _("Avis transmis"),
            _("Mesures prises"),
            _("Inscrit le"),
            _("Mis à jour le"),
        ]
    )
    for incident in _register(program):
        writer.writerow(
            _cell(value)
            for value in (
                incident.pk,
                incident.description,
                incident.circumstances,
                incident.occurred_on,
                incident.occurred_until,
                incident.discovered_on,
                incident.people_affected,
                incident.get_risk_display(),
                incident.risk_assessment,
                incident.commission_notified_on,
                incident.people_notified_on,
                incident.notices,
                incident.measures,
                timezone.localtime(incident.created_at).date(),
                timezone.localtime(incident.updated_at).date(),
            )
        )
    return response


def _show_error(form: IncidentForm, error: IncidentError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@login_required
@require_http_methods(["GET", "POST"])
def incident_create(request: HttpRequest, slug: str) -> HttpResponse:
    program = _program(request, slug)
    form = IncidentForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                incident = record_incident(
                    program=program, facts=form.facts(), recorded_by=_user(request)
                )
            except IncidentError as error:
                _show_error(form, error)
            else:
                messages.success(
                    request,
                    _("L'incident constaté le {date} est inscrit au registre.").format(
                        date=date_format(incident.discovered_on)
                    ),
                )
                return redirect("beneficiaires:incident_list", slug=program.slug)
    return render(
        request,
        "beneficiaires/incident_form.html",
        {"program": program, "form": form, "incident": None},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def incident_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    program = _program(request, slug)
    incident = get_object_or_404(_register(program), pk=pk)
    if request.method == "POST":
        form = IncidentForm(request.POST)
    else:
        form = IncidentForm(initial=IncidentForm.initial_for(incident))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                changed = update_incident(incident=incident, facts=form.facts())
            except IncidentError as error:
                _show_error(form, error)
            else:
                if changed:
                    messages.success(request, _("L'incident est mis à jour au registre."))
                else:
                    messages.info(request, _("Rien n'a changé."))
                return redirect("beneficiaires:incident_list", slug=program.slug)
    return render(
        request,
        "beneficiaires/incident_form.html",
        {"program": program, "form": form, "incident": incident},
        status=status,
    )


urlpatterns: list[URLPattern] = [
    path("programmes/<slug:slug>/incidents/", incident_list, name="incident_list"),
    path(
        "programmes/<slug:slug>/incidents/registre.csv",
        incident_export,
        name="incident_export",
    ),
    path("programmes/<slug:slug>/incidents/nouveau/", incident_create, name="incident_create"),
    path("programmes/<slug:slug>/incidents/<int:pk>/", incident_edit, name="incident_edit"),
]
