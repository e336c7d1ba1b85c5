from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from comptes.models import User
    from comptes.registry import Workspace


class BeneficiairesConfig(AppConfig):
    name = "beneficiaires"
    verbose_name = _("bénéficiaires")

    def ready(self) -> None:
        from django.core import checks

        from beneficiaires import selectors
        from beneficiaires.checks import check_privacy_keys
        from beneficiaires.models import Organization
        from comptes.models import Role
        from comptes.registry import RoleDefinition, register_role, register_workspace_provider

        # Admins: every organization; coordinators: the partners of their programs.
        register_role(
            RoleDefinition(
                role=Role.INTERVENANT,
                scope_model=Organization,
                invitable_scopes=selectors.invitable_organizations,
                grant=grant_intervenant,
            )
        )
        register_workspace_provider(organization_workspaces)
        checks.register(check_privacy_keys, checks.Tags.security, deploy=True)
        # The evaluation survey: its answers in the access export, unlinked at anonymization.
        from beneficiaires import survey

        survey.connect()
        # The funding app (below this one) keeps donors and Stripe event bodies for a while.
        from beneficiaires.retention import RetentionStep, register_retention_step
        from financement import retention as funding_retention

        register_retention_step(
            RetentionStep(
                "donors",
                "donation(s) whose donor was erased",
                lambda today, dry_run: funding_retention.erase_expired_donors(
                    today, dry_run=dry_run
                ),
            )
        )
        register_retention_step(
            RetentionStep(
                "stripe_events",
                "Stripe event body(ies) emptied",
                lambda today, dry_run: funding_retention.empty_expired_event_payloads(
                    today, dry_run=dry_run
                ),
            )
        )


def grant_intervenant(user: User, organization: Any) -> None:
    organization.members.add(user)


def organization_workspaces(user: User) -> Iterator[Workspace]:
    """One workspace per organization the user is a member of."""
    from django.urls import reverse

    from beneficiaires.models import Organization
    from comptes.models import Role
    from comptes.registry import Workspace

    if not user.is_authenticated:
        return
    for organization in Organization.objects.filter(members=user).only("name", "slug"):
        yield Workspace(
            role=Role.INTERVENANT,
            label=organization.name,
            url=reverse("beneficiaires:organization_detail", kwargs={"slug": organization.slug}),
        )
