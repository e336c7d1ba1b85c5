from django.urls import URLPattern, path

from marches import conflict_views, scanner_views, statement_views, views

app_name = "marches"

urlpatterns: list[URLPattern] = [
    path(
        "programmes/<slug:slug>/marches/",
        views.program_markets,
        name="program_markets",
    ),
    path(
        "programmes/<slug:slug>/marches/<slug:market_slug>/retirer/",
        views.program_market_remove,
        name="program_market_remove",
    ),
    path("marches/<slug:slug>/", views.market_detail, name="market_detail"),
    path("marches/<slug:slug>/modifier/", views.market_edit, name="market_edit"),
    path("marches/<slug:slug>/journees/", views.market_days, name="market_days"),
    path(
        "marches/<slug:slug>/journees/<int:pk>/retirer/",
        views.market_day_remove,
        name="market_day_remove",
    ),
    path("marches/<slug:slug>/marchands/nouveau/", views.vendor_create, name="vendor_create"),
    path("marchands/<slug:slug>/", views.vendor_detail, name="vendor_detail"),
    path("marchands/<slug:slug>/modifier/", views.vendor_edit, name="vendor_edit"),
    path(
        "marchands/<slug:slug>/echanges/<int:pk>/annuler/",
        views.redemption_undo,
        name="redemption_undo",
    ),
    path("marchands/<slug:slug>/appareils/", views.device_list, name="device_list"),
    path(
        "marchands/<slug:slug>/appareils/<int:pk>/revoquer/",
        views.device_revoke,
        name="device_revoke",
    ),
    path(
        "marchands/<slug:slug>/marches/<slug:market_slug>/scanner/",
        views.scanner,
        name="scanner",
    ),
]
urlpatterns += scanner_views.urlpatterns
urlpatterns += statement_views.urlpatterns
urlpatterns += conflict_views.urlpatterns
