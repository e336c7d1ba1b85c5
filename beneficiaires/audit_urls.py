"""URL of a program's access log, in the `beneficiaires` namespace (included by
beneficiaires/urls.py)."""

from django.urls import URLPattern, path

from beneficiaires import audit_views

urlpatterns: list[URLPattern] = [
    path("programmes/<slug:slug>/journal/", audit_views.program_audit, name="program_audit"),
]
