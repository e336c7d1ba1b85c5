"""URLs of a funder's reports API tokens (namespace "financement"), for the coordinators of a
program it funds and the network admins. Included by financement/urls.py."""

from django.urls import URLPattern, path

from financement import access_views

urlpatterns: list[URLPattern] = [
    path(
        "bailleurs-de-fonds/<int:pk>/jetons/",
        access_views.funder_tokens,
        name="funder_tokens",
    ),
    path(
        "bailleurs-de-fonds/<int:pk>/jetons/<int:token_id>/revoquer/",
        access_views.funder_token_revoke,
        name="funder_token_revoke",
    ),
]
