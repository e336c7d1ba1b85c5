from django.urls import path

from rapports import report_urls, views

app_name = "rapports"

urlpatterns = [
    path("programmes/<slug:slug>/", views.program_dashboard, name="program_dashboard"),
    path("reseau/", views.network, name="network"),
]
urlpatterns += report_urls.urlpatterns
