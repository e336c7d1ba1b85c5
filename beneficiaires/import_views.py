"""Pages of the household import: upload a CSV or XLSX file (checked, nothing written), see
every row's verdict, then import it once.

Thin views: scoped reads (out of scope is a 404), the form checks the shape, `imports` reads
the file and applies the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import URLPattern, path
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from beneficiaires import selectors
from beneficiaires.consent import (
    CONSENT_TEXTS,
    CONSENT_VERSIONS,
    PARTICIPATION_CONSENT_TEXT,
    PARTICIPATION_CONSENT_VERSION,
)
from beneficiaires.imports import (
    MAX_FILE_BYTES,
    MAX_ROWS,
    ImportFileError,
    Verdict,
    apply_import,
    check_import,
    discard_import,
    import_runs_for,
    previous_applied_run,
    rows_of,
)
from beneficiaires.models import ImportRun, Organization
from beneficiaires.services import criterion_field_name
from programmes.models import Program

if TYPE_CHECKING:
    from comptes.models import User

ROWS_PER_PAGE = 100
RUNS_PER_PAGE = 20


def _user(request: HttpRequest) -> User:
    return cast("User", request.user)


class ImportForm(forms.Form):
    program = forms.ModelChoiceField(
        label=gettext_lazy("Programme"),
        queryset=Program.objects.none(),
        to_field_name="slug",
        error_messages={
            "invalid_choice": gettext_lazy("Choisissez un des programmes proposés."),
            "required": gettext_lazy("Choisissez un programme."),
        },
    )
    file = forms.FileField(
        label=gettext_lazy("Fichier des ménages"),
        help_text=gettext_lazy(
            "CSV (séparé par des virgules ou des points-virgules) ou Excel (.xlsx), 2 Mo et "
            "2 000 ménages au plus, une ligne par ménage."
        ),
        error_messages={
            "required": gettext_lazy("Choisissez un fichier CSV ou Excel (.xlsx)."),
            "empty": gettext_lazy("Le fichier est vide."),
            "invalid": gettext_lazy("Choisissez un fichier CSV ou Excel (.xlsx)."),
        },
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".csv,.xlsx,text/csv,"
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )
    consent = forms.BooleanField(
        label=gettext_lazy(
            "J'atteste que chaque personne du fichier a lu ce texte (ou qu'on le lui a lu) et "
            "qu'elle a consenti sur papier à la collecte de ces renseignements pour participer "
            "au programme."
        ),
        error_messages={
            "required": gettext_lazy(
                "Le consentement de chaque personne est obligatoire pour l'inscrire : cochez la "
                "case si vous l'avez recueilli."
            )
        },
        widget=forms.CheckboxInput(attrs={"aria-describedby": "texte-consentement"}),
    )

    def __init__(self, *args: Any, programs: QuerySet[Program], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program = self.fields["program"]
        program.queryset = programs  # type: ignore[attr-defined]
        choices = list(programs[:2])
        if len(choices) == 1:
            program.empty_label = None  # type: ignore[attr-defined]
            program.initial = choices[0].slug
        else:
            program.empty_label = gettext_lazy("— Choisir un programme —")  # type: ignore[attr-defined]

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload is not None and upload.size > MAX_FILE_BYTES:
            raise forms.ValidationError(
                _("Le fichier dépasse {size} Mo : divisez-le en plusieurs fichiers.").format(
                    size=MAX_FILE_BYTES // (1024 * 1024)
                ),
                code="too_big",
            )
        return upload


def _organization(request: HttpRequest, slug: str) -> Organization:
    return get_object_or_404(selectors.organizations_for(request.user), slug=slug)


@login_required
@require_http_methods(["GET", "POST"])
def household_import(request: HttpRequest, slug: str) -> HttpResponse:
    organization = _organization(request, slug)
    programs = selectors.enrollment_programs(request.user, organization)
    if not programs.exists():
        messages.error(
            request,
            _(
                "Cet organisme n'est partenaire d'aucun programme où vous pouvez inscrire des "
                "ménages."
            ),
        )
        return redirect("beneficiaires:organization_detail", slug=organization.slug)
    form = ImportForm(request.POST or None, request.FILES or None, programs=programs)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            program = form.cleaned_data["program"]
            try:
                run, parsed = check_import(
                    organization=organization,
                    program=program,
                    filename=upload.name or "",
                    content=upload.read(MAX_FILE_BYTES + 1),
                    uploaded_by=_user(request),
                )
            except ImportFileError as error:
                form.add_error("file", error.message)
            else:
                messages.success(
                    request,
                    _(
                        "Fichier vérifié : voici ce que l'importation ferait. Rien n'est encore "
                        "inscrit."
                    ),
                )
                if parsed.ignored_columns:
                    messages.warning(
                        request,
                        _("Colonnes ignorées (inconnues) : {columns}.").format(
                            columns=", ".join(parsed.ignored_columns)
                        ),
                    )
                return redirect("beneficiaires:import_detail", slug=organization.slug, pk=run.pk)
    runs = (
        import_runs_for(request.user)
        .filter(organization=organization)
        .order_by("-created_at", "-pk")
    )
    program_list = list(programs.prefetch_related("eligibility_criteria"))
    return render(
        request,
        "beneficiaires/import_form.html",
        {
            "organization": organization,
            "form": form,
            "consent_text": PARTICIPATION_CONSENT_TEXT,
            "consent_version": PARTICIPATION_CONSENT_VERSION,
            "optional_consents": [
                (CONSENT_TEXTS[purpose], CONSENT_VERSIONS[purpose])
                for purpose in ("contact", "survey")
            ],
            "criteria_columns": [
                (program, criterion_field_name(criterion), criterion.question)
                for program in program_list
                for criterion in program.eligibility_criteria.all()
                if criterion.asks_question
            ],
            "max_rows": MAX_ROWS,
            "page_obj": Paginator(runs, RUNS_PER_PAGE).get_page(request.GET.get("page")),
        },
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def import_detail(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    organization = _organization(request, slug)
    run = get_object_or_404(import_runs_for(request.user).filter(organization=organization), pk=pk)
    status = 200
    if request.method == "POST":
        response = _act_on(request, organization, run)
        if response is not None:
            return response
        status = 400
    only_errors = request.GET.get("lignes") == "erreurs"
    rows = rows_of(run)
    if only_errors:
        rows = [row for row in rows if row.verdict == Verdict.ERROR]
    can_apply = (
        run.status == ImportRun.Status.CHECKED
        and selectors.enrollment_programs(request.user, organization)
        .filter(pk=run.program_id)
        .exists()
    )
    return render(
        request,
        "beneficiaires/import_detail.html",
        {
            "organization": organization,
            "run": run,
            "page_obj": Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page")),
            "only_errors": only_errors,
            "query_string": urlencode({"lignes": "erreurs"}) if only_errors else "",
            "can_apply": can_apply,
            "previous": (
                previous_applied_run(run) if run.status == ImportRun.Status.CHECKED else None
            ),
        },
        status=status,
    )


def _act_on(
    request: HttpRequest, organization: Organization, run: ImportRun
) -> HttpResponse | None:
    """Apply or discard the run; None for an unknown action (the page is shown again, 400)."""
    if not (
        selectors.enrollment_programs(request.user, organization).filter(pk=run.program_id).exists()
    ):
        raise PermissionDenied
    action = request.POST.get("action")
    back = redirect("beneficiaires:import_detail", slug=organization.slug, pk=run.pk)
    if action == "apply":
        result = apply_import(run=run, applied_by=_user(request))
        if not result.applied:
            messages.warning(
                request, _("Cette importation a déjà été faite : aucun ménage n'a été ajouté.")
            )
            return back
        messages.success(
            request,
            _(
                "Importation terminée. Ménages inscrits : {created} (dont {waitlisted} en liste "
                "d'attente); lignes ignorées : {skipped}; lignes en erreur : {errors}."
            ).format(
                created=len(result.created),
                waitlisted=result.waitlisted,
                skipped=len(result.skipped_lines),
                errors=len(result.error_lines),
            ),
        )
        for line, message in result.error_lines[:20]:
            messages.error(
                request,
                _("Ligne {line} non importée : {message}").format(line=line, message=message),
            )
        return back
    if action == "discard":
        if discard_import(run=run):
            messages.success(
                request,
                _("Importation abandonnée : les lignes du fichier ont été effacées."),
            )
            return redirect("beneficiaires:household_import", slug=organization.slug)
        messages.warning(request, _("Cette importation a déjà été faite : elle est conservée."))
        return back
    messages.error(request, _("Action inconnue : rien n'a été modifié."))
    return None


urlpatterns: list[URLPattern] = [
    path(
        "organismes/<slug:slug>/importer/",
        household_import,
        name="household_import",
    ),
    path(
        "organismes/<slug:slug>/importations/<int:pk>/",
        import_detail,
        name="import_detail",
    ),
]
