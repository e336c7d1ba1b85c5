"""Home page and invitations.

Included without a namespace (no `app_name`) so that `accueil` — used by LOGIN_REDIRECT_URL and
base.html — resolves as is; the other names carry a `comptes_` prefix instead.
"""

from django.urls import path

from comptes import views

urlpatterns = [
    path("", views.home, name="accueil"),
    path("invitations/", views.invitation_list, name="comptes_invitations"),
    path("invitations/nouvelle/", views.invitation_create, name="comptes_invitation_create"),
    path(
        "invitations/<int:pk>/revoquer/",
        views.invitation_revoke,
        name="comptes_invitation_revoke",
    ),
    path("invitations/<str:token>/", views.invitation_accept, name="comptes_invitation_accept"),
]
