from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComptesConfig(AppConfig):
    name = "comptes"
    verbose_name = _("comptes")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # `comptes` is the lowest layer: it imports no other app of ours. Higher apps register
        # their roles and workspaces with `comptes.registry` in their own `ready()`; network
        # admins get their workspaces from those providers too (the Django admin is not our UI).
        from comptes import security

        security.connect_signals()
