"""A program's access log: every audit row of its households, for its coordinators and network
admins (anyone else gets a 404: the program is fetched through `programs_for(user)`).

Read-only, paginated and filtered by date and action; a page costs a fixed number of queries
whatever its size (the count, then one page of rows with their household and person).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from beneficiaires.models import AuditEntry
from beneficiaires.rights_views import AUDIT_PAGE_SIZE, audit_rows
from beneficiaires.selectors import program_audit_entries
from programmes.selectors import programs_for


class AuditFilterForm(forms.Form):
    start = forms.DateField(
        label=_lazy("Du"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_lazy("Au"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    action = forms.ChoiceField(
        label=_lazy("Action"),
        required=False,
        choices=[("", _lazy("Toutes")), *AuditEntry.Action.choices],
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise forms.ValidationError(_("La date de début doit précéder la date de fin."))
        return data


@login_required
@require_GET
@never_cache
def program_audit(request: HttpRequest, slug: str) -> HttpResponse:
    program = get_object_or_404(programs_for(request.user), slug=slug)
    form = AuditFilterForm(request.GET or None)
    valid = form.is_bound and form.is_valid()
    filters = form.cleaned_data if valid else {}
    entries = program_audit_entries(program=program, filters=filters)
    if form.is_bound and not valid:
        # A bad filter shows its error and lists nothing rather than an unfiltered log.
        entries = entries.none()
    page_obj = Paginator(entries, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = audit_rows(page_obj.object_list)
    query = {key: request.GET.get(key, "") for key in ("start", "end", "action")}
    return render(
        request,
        "beneficiaires/program_audit.html",
        {
            "program": program,
            "form": form,
            "page_obj": page_obj,
            "rows": rows,
            "query_string": urlencode({k: v for k, v in query.items() if v}) if valid else "",
        },
    )
