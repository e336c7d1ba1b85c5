"""The funding and impact report pages of a program, a territory and the network, and their
downloads (PDF in French or English, CSV, XLSX).

Scopes (`rapports.scopes`): a program's report is read by the network admins, its coordinators
and the staff of the funders that fund it, who get the suppressed impact report (small cells
hidden); a territory's and the network's by the network admins only. Anything outside is a 404.

`?lang=fr|en` chooses the language of a download (the page's language when absent); any other
value is a 400 with a French message, and nothing is built.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.text import slugify
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from comptes.models import User
from programmes.models import Territory
from rapports import scopes, selectors
from rapports.charts import Chart, chart_svg, report_charts
from rapports.funding_report import (
    ReportScope,
    funding_report,
    network_scope,
    program_scope,
    territory_scope,
)
from rapports.impact_report import impact_report
from rapports.report_exports import report_csv, report_xlsx
from rapports.report_pdf import HEADLINES, render_report_pdf
from rapports.report_sections import LANGUAGES, Cell, Layout, Section, in_report_language, layout
from rapports.suppression import default_min_cell, suppress_for_funder

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _user(request: HttpRequest) -> User:
    # Behind @login_required: never anonymous.
    return cast(User, request.user)


def _page_language() -> str:
    return "en" if (get_language() or "fr").startswith("en") else "fr"


def build_layout(
    make_scope: Callable[[], ReportScope], *, as_funder: bool, language: str
) -> Layout:
    """The report of the scope `make_scope` gives (already checked against the reader) in
    `language`: the funding report, and the impact report suppressed for a funder. The reports
    name weeks, sizes and categories in the active language, hence the scope made under it."""
    with in_report_language(language):
        scope = make_scope()
        funding = funding_report(scope.programs, scope=scope.scope, label=scope.label)
        impact = impact_report(scope.programs, scope=scope.scope, label=scope.label)
        limit = default_min_cell()
        if as_funder:
            impact = suppress_for_funder(impact, limit)
        return layout(funding, impact, language=language, min_cell=limit)


# What the page shows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    key: str
    label: str
    cell: Cell


@dataclass(frozen=True)
class Block:
    """A section of the page, with its chart when it has one."""

    section: Section
    chart: Chart | None
    svg: SafeString | None


def _headlines(report: Layout) -> list[Headline]:
    found = []
    for section_key, row_key, index in HEADLINES:
        row = next((r for r in report.section(section_key).rows if r.key == row_key), None)
        if row is not None:
            found.append(Headline(row_key, row.label, row.cells[index]))
    return found


def _render_page(
    request: HttpRequest, report: Layout, downloads: dict[str, str], *, as_funder: bool
) -> HttpResponse:
    charts = report_charts(report)
    funds = next(chart for chart in charts if chart.kind == "stacked")
    by_section = {chart.section: chart for chart in charts if chart.kind == "bars"}
    blocks = []
    for section in report.sections:
        if section.key != "funding":
            chart = by_section.get(section.key)
            blocks.append(Block(section, chart, chart_svg(chart) if chart else None))
    return render(
        request,
        "rapports/report_page.html",
        {
            "report": report,
            "headlines": _headlines(report),
            "funds_chart": funds,
            "funds_svg": chart_svg(funds),
            "funding": report.section("funding"),
            "blocks": blocks,
            "downloads": downloads,
            "as_funder": as_funder,
        },
    )


def _downloads(name: str, *args: object) -> dict[str, str]:
    return {
        "pdf_fr": reverse(f"rapports:{name}_pdf", args=args) + "?lang=fr",
        "pdf_en": reverse(f"rapports:{name}_pdf", args=args) + "?lang=en",
        "csv": reverse(f"rapports:{name}_csv", args=args),
        "xlsx": reverse(f"rapports:{name}_xlsx", args=args),
    }


def _download(
    request: HttpRequest,
    make_scope: Callable[[], ReportScope],
    fmt: str,
    *,
    as_funder: bool,
    name: str,
) -> HttpResponse:
    language = request.GET.get("lang", "").strip().lower() or _page_language()
    if language not in LANGUAGES:
        return HttpResponseBadRequest(
            _("Langue du rapport inconnue : choisissez « fr » ou « en »."),
            content_type="text/plain; charset=utf-8",
        )
    report = build_layout(make_scope, as_funder=as_funder, language=language)
    if fmt == "pdf":
        body = render_report_pdf(report)
    elif fmt == "csv":
        body = report_csv(report)
    elif fmt == "xlsx":
        body = report_xlsx(report)
    else:  # only the three formats are routed
        raise Http404
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    filename = f"rapport-{slugify(name) or 'reseau'}-{language}.{fmt}"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


# A program -------------------------------------------------------------------------------------


@login_required
@require_safe
def program_report(request: HttpRequest, slug: str) -> HttpResponse:
    user = _user(request)
    program = get_object_or_404(scopes.report_programs_for(user), slug=slug)
    as_funder = scopes.reads_as_funder(user, program)
    report = build_layout(
        lambda: program_scope(program), as_funder=as_funder, language=_page_language()
    )
    downloads = _downloads("report_program", program.slug)
    return _render_page(request, report, downloads, as_funder=as_funder)


@login_required
@require_safe
def program_report_file(request: HttpRequest, slug: str, fmt: str) -> HttpResponse:
    user = _user(request)
    program = get_object_or_404(scopes.report_programs_for(user), slug=slug)
    as_funder = scopes.reads_as_funder(user, program)
    return _download(
        request, lambda: program_scope(program), fmt, as_funder=as_funder, name=program.slug
    )


# A territory and the network (network admins only) ----------------------------------------------


def _territory_for(request: HttpRequest, pk: int) -> Territory:
    if not selectors.is_network_admin(_user(request)):
        raise Http404
    return get_object_or_404(Territory, pk=pk)


@login_required
@require_safe
def territory_report(request: HttpRequest, pk: int) -> HttpResponse:
    territory = _territory_for(request, pk)
    report = build_layout(
        lambda: territory_scope(territory), as_funder=False, language=_page_language()
    )
    downloads = _downloads("report_territory", territory.pk)
    return _render_page(request, report, downloads, as_funder=False)


@login_required
@require_safe
def territory_report_file(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    territory = _territory_for(request, pk)
    return _download(
        request, lambda: territory_scope(territory), fmt, as_funder=False, name=territory.name
    )


@login_required
@require_safe
def network_report(request: HttpRequest) -> HttpResponse:
    if not selectors.is_network_admin(_user(request)):
        raise Http404
    report = build_layout(network_scope, as_funder=False, language=_page_language())
    return _render_page(request, report, _downloads("report_network"), as_funder=False)


@login_required
@require_safe
def network_report_file(request: HttpRequest, fmt: str) -> HttpResponse:
    if not selectors.is_network_admin(_user(request)):
        raise Http404
    return _download(request, network_scope, fmt, as_funder=False, name="reseau")
