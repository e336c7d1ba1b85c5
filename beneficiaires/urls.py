"""URLs of the beneficiaries app. Each views module lists its own `urlpatterns`."""

from django.urls import URLPattern, path

from beneficiaires import (
    audit_urls,
    import_views,
    incident_views,
    program_views,
    rights_views,
    survey_urls,
    views,
)

app_name = "beneficiaires"

urlpatterns: list[URLPattern] = [
    path(
        "programmes/<slug:slug>/organismes/",
        views.program_partners,
        name="program_partners",
    ),
    path("organismes/<slug:slug>/", views.organization_detail, name="organization_detail"),
    path(
        "organismes/<slug:slug>/menages/nouveau/",
        views.household_create,
        name="household_create",
    ),
]
urlpatterns += program_views.urlpatterns
urlpatterns += rights_views.urlpatterns
urlpatterns += import_views.urlpatterns
urlpatterns += incident_views.urlpatterns
urlpatterns += survey_urls.urlpatterns
urlpatterns += audit_urls.urlpatterns
