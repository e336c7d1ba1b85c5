"""The report pages and their downloads (included by `rapports.urls`)."""

from django.urls import path

from rapports import report_views as views

FORMATS = ("pdf", "csv", "xlsx")

urlpatterns = [
    path("rapports/programmes/<slug:slug>/", views.program_report, name="report_program"),
    path("rapports/territoires/<int:pk>/", views.territory_report, name="report_territory"),
    path("rapports/reseau/", views.network_report, name="report_network"),
]
for fmt in FORMATS:
    urlpatterns += [
        path(
            f"rapports/programmes/<slug:slug>/rapport.{fmt}",
            views.program_report_file,
            {"fmt": fmt},
            name=f"report_program_{fmt}",
        ),
        path(
            f"rapports/territoires/<int:pk>/rapport.{fmt}",
            views.territory_report_file,
            {"fmt": fmt},
            name=f"report_territory_{fmt}",
        ),
        path(
            f"rapports/reseau/rapport.{fmt}",
            views.network_report_file,
            {"fmt": fmt},
            name=f"report_network_{fmt}",
        ),
    ]
