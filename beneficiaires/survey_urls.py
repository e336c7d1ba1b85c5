"""URLs of the evaluation survey, in the `beneficiaires` namespace (included by
beneficiaires/urls.py)."""

from django.urls import URLPattern, path

from beneficiaires import survey_views

urlpatterns: list[URLPattern] = [
    path("menages/<int:pk>/sondage/", survey_views.household_survey, name="household_survey"),
    path(
        "menages/<int:pk>/sondage/<str:phase>/",
        survey_views.household_survey_answer,
        name="household_survey_answer",
    ),
]
