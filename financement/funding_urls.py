"""URLs of a program's funds pages (namespace "financement"), for the program's coordinators and
the network admins."""

from django.urls import URLPattern, path

from financement import funding_views

urlpatterns: list[URLPattern] = [
    path("programmes/<slug:slug>/fonds/", funding_views.program_funds, name="program_funds"),
    path(
        "programmes/<slug:slug>/fonds/contribution/",
        funding_views.contribution_create,
        name="contribution_create",
    ),
    path(
        "programmes/<slug:slug>/fonds/registre.csv",
        funding_views.ledger_csv,
        name="ledger_csv",
    ),
    path(
        "contributions/<int:pk>/document/",
        funding_views.contribution_document,
        name="contribution_document",
    ),
    path("bailleurs-de-fonds/", funding_views.funder_list, name="funder_list"),
    path("bailleurs-de-fonds/nouveau/", funding_views.funder_create, name="funder_create"),
]
