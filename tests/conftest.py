"""Shared fixtures. Tests read as sentences; factories build the world they need."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

import pytest

# Playwright drives the browser from an event loop in the test thread; the live server runs
# Django in another thread, so Django's async-safety guard must let the ORM through.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "motdepasse-demo-2026"


@pytest.fixture(autouse=True)
def _fast_and_french(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LANGUAGE_CODE = "fr-ca"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Every test starts with an empty cache: the rate limits (API, public payment forms,
    allauth's sign-in) count in it, and one test's requests must not spend another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(autouse=True)
def _force_login_passes_mfa(monkeypatch: pytest.MonkeyPatch) -> None:
    """force_login skips the sign-in page and so the second factor that comptes.security
    requires of admins, coordinators and managers: mark such sessions as allauth does after
    a second factor (tests/comptes/test_mfa.py signs in through the real pages)."""
    import time

    from allauth.account.authentication import AUTHENTICATION_METHODS_SESSION_KEY
    from django.test.client import ClientMixin

    original = ClientMixin.force_login

    def force_login(self: Any, user: Any, backend: str | None = None) -> None:
        original(self, user, backend)
        session = self.session
        session[AUTHENTICATION_METHODS_SESSION_KEY] = [
            {"method": "mfa", "type": "totp", "at": time.time()}
        ]
        session["account_authentication_methods_user"] = str(user.pk)
        session.save()

    monkeypatch.setattr(ClientMixin, "force_login", force_login)


class Scope:
    """One complete corner of the world: a program and everyone who works in it."""

    def __init__(self, label: str) -> None:
        from tests import factories as f

        # Its funds (10 000 $) are the contribution of its own funder (below).
        self.program = f.ProgramFactory(
            name=f"Programme {label}", slug=f"programme-{label}", budget=Decimal("0")
        )
        self.organization = f.OrganizationFactory(
            name=f"Organisme {label}", slug=f"organisme-{label}", program=self.program
        )
        self.market = f.MarketFactory(
            name=f"Marché {label}", slug=f"marche-{label}", program=self.program
        )
        self.vendor = f.VendorFactory(
            name=f"Ferme {label}", slug=f"ferme-{label}", market=self.market
        )
        self.coordinator = f.UserFactory(email=f"coordination-{label}@example.org")
        self.intervenant = f.UserFactory(email=f"intervenant-{label}@example.org")
        self.manager = f.UserFactory(email=f"gestion-{label}@example.org")
        self.vendor_user = f.UserFactory(email=f"marchand-{label}@example.org")
        self.program.coordinators.add(self.coordinator)
        self.organization.members.add(self.intervenant)
        self.market.managers.add(self.manager)
        self.vendor.members.add(self.vendor_user)
        # A funder of this program only, and a person who reads its reports.
        self.funder = f.FunderFactory(name=f"Fondation {label}", program=self.program)
        self.funder_user = f.UserFactory(email=f"bailleur-{label}@example.org")
        self.funder.members.add(self.funder_user)
        self.household = f.HouseholdFactory(
            program=self.program, organization=self.organization, enrolled_by=self.intervenant
        )
        self.device, self.token = f.make_device(self.vendor, self.market)
        # Met by every household (sizes 1 to 40): the pages that edit a criterion need one.
        self.criterion = f.EligibilityCriterionFactory(
            program=self.program, kind="household_size", key="taille", min_size=1, max_size=40
        )
        self.incident = f.PrivacyIncidentFactory(program=self.program, recorded_by=self.coordinator)
        self.import_run = f.ImportRunFactory(
            organization=self.organization, program=self.program, uploaded_by=self.intervenant
        )

    def users(self) -> dict[str, Any]:
        return {
            "coordinator": self.coordinator,
            "intervenant": self.intervenant,
            "market_manager": self.manager,
            "vendor": self.vendor_user,
            "funder": self.funder_user,
        }


class World:
    def __init__(self) -> None:
        from tests import factories as f

        self.a = Scope("a")
        self.b = Scope("b")
        self.admin = f.UserFactory(email="admin@example.org", is_network_admin=True)
        self.nobody = f.UserFactory(email="personne@example.org")


@pytest.fixture
def world(db: Any) -> World:
    return World()


IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _real_parts_are_required_in_ci(request: pytest.FixtureRequest) -> None:
    """A suite that needs PostgreSQL fails, not skips, under CI=true when it is missing."""
    if request.node.get_closest_marker("postgres") is None:
        return
    from django.db import connection

    if connection.vendor != "postgresql":
        message = "this test needs PostgreSQL: run it with DATABASE_URL=postgres://…"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
