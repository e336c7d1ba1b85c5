from django.urls import path

from beneficiaires import views

app_name = "beneficiaires"

urlpatterns = [
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
