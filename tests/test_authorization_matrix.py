"""Invariant 5: every page, every role, inside and outside its scope.

The matrix is built from Django's URL resolver: a URL pattern that has no entry here (and is not
listed as public) fails the test, so a new page cannot ship without saying who may open it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from beneficiaires.models import AuditEntry, Household
from comptes.services import create_invitation
from coupons.models import PrintJob
from coupons.services import issue_household_allotment
from marches.models import MarketDay, Redemption, Statement
from tests.conftest import Scope, World

pytestmark = pytest.mark.django_db

ADMIN = "admin"
COORDINATOR = "coordinator"
INTERVENANT = "intervenant"
MANAGER = "market_manager"
VENDOR = "vendor"
FUNDER = "funder"
ROLES = (COORDINATOR, INTERVENANT, MANAGER, VENDOR, FUNDER)


@dataclass(frozen=True)
class Entry:
    """Who may GET the page for scope a's objects (POST-only pages: who may POST)."""

    allowed: frozenset[str]
    kwargs: Callable[[Scope], dict[str, Any]]
    method: str = "get"


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


def no_kwargs(scope: Scope) -> dict[str, Any]:
    return {}


EVERYONE = roles(ADMIN, *ROLES)


def program_kwargs(scope: Scope) -> dict[str, Any]:
    return {"slug": scope.program.slug}


def territory_kwargs(scope: Scope) -> dict[str, Any]:
    return {"pk": scope.program.territory_id}


def job(scope: Scope) -> PrintJob:
    """A finished print of scope's household batch (its file is in the test's PRINT_ROOT)."""
    from coupons.printing import run_print_job

    batch = scope.household.batches.get()
    found = PrintJob.objects.filter(batch=batch).first()
    if found is None:
        found = PrintJob.objects.create(
            program=scope.program, batch=batch, requested_by=scope.intervenant, total=1
        )
        run_print_job(found.pk)
    return found


def redemption(scope: Scope) -> Redemption:
    """A fresh redemption by scope's vendor (inside the undo window)."""
    from marches.redemptions import redeem_coupon
    from tests.factories import CouponFactory

    verdict = redeem_coupon(
        code=CouponFactory(program=scope.program).code,
        vendor=scope.vendor,
        market=scope.market,
        client_id=uuid.uuid4(),
    )
    assert verdict.redemption is not None
    return verdict.redemption


def conflict(scope: Scope) -> Redemption:
    """A scan in conflict: one coupon scanned twice offline at scope's market."""
    from django.utils import timezone

    from marches.redemptions import redeem_coupon
    from tests.factories import CouponFactory

    coupon = CouponFactory(program=scope.program)
    verdicts = [
        redeem_coupon(
            code=coupon.code,
            vendor=scope.vendor,
            market=scope.market,
            client_id=uuid.uuid4(),
            scanned_at=timezone.now(),
            offline=True,
        )
        for _ in range(2)
    ]
    assert verdicts[1].status == "conflict" and verdicts[1].redemption is not None
    return verdicts[1].redemption


def day(scope: Scope) -> MarketDay:
    from django.utils import timezone

    return MarketDay.objects.get_or_create(market=scope.market, date=timezone.localdate())[0]


def statement(scope: Scope) -> Statement:
    """A draft statement of scope's vendor for today, with one redemption on it."""
    from django.utils import timezone

    from marches.redemptions import redeem_coupon
    from marches.statements import create_statement
    from tests.factories import CouponFactory

    found = Statement.objects.filter(vendor=scope.vendor).first()
    if found is not None:
        return found
    coupon = CouponFactory(program=scope.program)
    redeem_coupon(
        code=coupon.code, vendor=scope.vendor, market=scope.market, client_id=uuid.uuid4()
    )
    today = timezone.localdate()
    return create_statement(
        vendor=scope.vendor,
        program=scope.program,
        period_start=today,
        period_end=today,
        created_by=scope.coordinator,
    )


def contribution(scope: Scope) -> Any:
    """A contribution to scope's program with its document."""
    import datetime
    from decimal import Decimal

    from financement.models import Contribution
    from financement.services import Document, NewFunder, record_contribution

    found = Contribution.objects.filter(program=scope.program, document__isnull=False).first()
    if found is not None:
        return found
    return record_contribution(
        program=scope.program,
        funder=NewFunder(name=f"Fondation {scope.program.slug}"),
        amount=Decimal("100.00"),
        received_on=datetime.date(2026, 5, 1),
        recorded_by=scope.coordinator,
        document=Document("entente.pdf", "application/pdf", b"%PDF-1.4 entente"),
    )


def funder_token(scope: Scope) -> Any:
    from financement.access import create_funder_token

    row, _token = create_funder_token(funder=scope.funder, label="API", created_by=None)
    return row


@pytest.fixture(autouse=True)
def _print_files_in_a_temporary_folder(settings: Any, tmp_path: Any) -> None:
    settings.PRINT_ROOT = tmp_path / "print"


MATRIX: dict[str, Entry] = {
    "accueil": Entry(EVERYONE, no_kwargs),
    "comptes_invitations": Entry(EVERYONE, no_kwargs),
    "comptes_invitation_create": Entry(EVERYONE, no_kwargs),
    "comptes_invitation_revoke": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"pk": s.invitation.pk}
    ),
    "programmes:program_list": Entry(EVERYONE, no_kwargs),
    "programmes:program_create": Entry(roles(ADMIN, COORDINATOR), no_kwargs),
    "programmes:program_edit": Entry(roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}),
    "beneficiaires:program_partners": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:organization_detail": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"slug": s.organization.slug}
    ),
    "beneficiaires:household_create": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"slug": s.organization.slug}
    ),
    "beneficiaires:enrollment_settings": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:criterion_edit": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug, "pk": s.criterion.pk}
    ),
    "beneficiaires:criterion_delete": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug, "pk": s.criterion.pk}
    ),
    "beneficiaires:partner_quota": Entry(
        roles(ADMIN, COORDINATOR),
        lambda s: {"slug": s.program.slug, "organization_slug": s.organization.slug},
    ),
    "beneficiaires:waitlist": Entry(roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}),
    "beneficiaires:duplicates": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:duplicate_resolve": Entry(
        roles(ADMIN, COORDINATOR),
        lambda s: {"slug": s.program.slug, "pk": s.household.pk},
        "post",
    ),
    "beneficiaires:household_import": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"slug": s.organization.slug}
    ),
    "beneficiaires:import_detail": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT),
        lambda s: {"slug": s.organization.slug, "pk": s.import_run.pk},
    ),
    "beneficiaires:household_edit": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:household_export_json": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:household_export_csv": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:household_consent": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT),
        lambda s: {"pk": s.household.pk, "purpose": "contact"},
    ),
    "beneficiaires:household_withdraw": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    # Anonymizing before retention ends and reading the access log: the program's staff only.
    "beneficiaires:household_anonymize": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:household_audit": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:incident_list": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:incident_export": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:incident_create": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "beneficiaires:incident_edit": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug, "pk": s.incident.pk}
    ),
    "coupons:household_detail": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "coupons:household_issue": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}, "post"
    ),
    "coupons:household_pdf": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "coupons:household_void": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "coupons:program_batches": Entry(roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}),
    "coupons:bearer_batch_create": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "coupons:batch_detail": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.batches.get().pk}
    ),
    "coupons:batch_deliver": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT),
        lambda s: {"pk": s.household.batches.get().pk},
        "post",
    ),
    "coupons:batch_void": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.batches.get().pk}
    ),
    "coupons:coupon_detail": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.coupons.first().pk}
    ),
    "coupons:batch_print": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT),
        lambda s: {"pk": s.household.batches.get().pk},
        "post",
    ),
    "coupons:batch_csv": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.batches.get().pk}
    ),
    "coupons:print_job": Entry(roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": job(s).pk}),
    "coupons:print_job_download": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": job(s).pk}
    ),
    "coupons:print_job_delete": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": job(s).pk}
    ),
    "coupons:household_wallet": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    # Without a link made a moment ago by the same person, the card sends back to the page.
    "coupons:household_wallet_card": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "marches:program_markets": Entry(roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}),
    "marches:program_market_remove": Entry(
        roles(ADMIN, COORDINATOR),
        lambda s: {"slug": s.program.slug, "market_slug": s.market.slug},
    ),
    "marches:market_detail": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.market.slug}
    ),
    "marches:vendor_create": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.market.slug}
    ),
    "marches:vendor_detail": Entry(
        roles(ADMIN, COORDINATOR, MANAGER, VENDOR), lambda s: {"slug": s.vendor.slug}
    ),
    "marches:device_list": Entry(
        roles(ADMIN, COORDINATOR, MANAGER, VENDOR), lambda s: {"slug": s.vendor.slug}
    ),
    "marches:device_revoke": Entry(
        roles(ADMIN, MANAGER, VENDOR), lambda s: {"slug": s.vendor.slug, "pk": s.device.pk}
    ),
    "marches:scanner": Entry(
        roles(ADMIN, VENDOR), lambda s: {"slug": s.vendor.slug, "market_slug": s.market.slug}
    ),
    "marches:market_edit": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.market.slug}
    ),
    "marches:market_days": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.market.slug}
    ),
    "marches:market_day_remove": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.market.slug, "pk": day(s).pk}
    ),
    "marches:vendor_edit": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"slug": s.vendor.slug}
    ),
    # Only the vendor's own people (and an admin, who may scan too) undo a scan.
    "marches:redemption_undo": Entry(
        roles(ADMIN, VENDOR),
        lambda s: {"slug": s.vendor.slug, "pk": redemption(s).pk},
        "post",
    ),
    "marches:conflict_list": Entry(roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}),
    "marches:conflict_decide": Entry(
        roles(ADMIN, COORDINATOR),
        lambda s: {"slug": s.program.slug, "pk": conflict(s).pk},
        "post",
    ),
    "marches:statement_list": Entry(EVERYONE, no_kwargs),
    "marches:statement_create": Entry(roles(ADMIN, COORDINATOR, MANAGER), no_kwargs),
    "marches:statement_detail": Entry(
        roles(ADMIN, COORDINATOR, MANAGER, VENDOR), lambda s: {"pk": statement(s).pk}
    ),
    "marches:statement_csv": Entry(
        roles(ADMIN, COORDINATOR, MANAGER, VENDOR), lambda s: {"pk": statement(s).pk}
    ),
    "marches:statement_pdf": Entry(
        roles(ADMIN, COORDINATOR, MANAGER, VENDOR), lambda s: {"pk": statement(s).pk}
    ),
    # A vendor reads its statements; it never approves, pays or discards one (403).
    "marches:statement_approve": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"pk": statement(s).pk}
    ),
    "marches:statement_pay": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"pk": statement(s).pk}
    ),
    "marches:statement_discard": Entry(
        roles(ADMIN, COORDINATOR, MANAGER), lambda s: {"pk": statement(s).pk}
    ),
    # The scanner as an installable web app: pairing this browser as a device, its manifest
    # and its service worker.
    "marches:scanner_pair": Entry(
        roles(ADMIN, VENDOR),
        lambda s: {"slug": s.vendor.slug, "market_slug": s.market.slug},
        "post",
    ),
    "marches:scanner_manifest": Entry(
        roles(ADMIN, VENDOR), lambda s: {"slug": s.vendor.slug, "market_slug": s.market.slug}
    ),
    "marches:scanner_sw": Entry(roles(ADMIN, VENDOR), lambda s: {"slug": s.vendor.slug}),
    "rapports:program_dashboard": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"slug": s.program.slug}
    ),
    "rapports:network": Entry(roles(ADMIN), no_kwargs),
    "beneficiaires:household_survey": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT), lambda s: {"pk": s.household.pk}
    ),
    "beneficiaires:household_survey_answer": Entry(
        roles(ADMIN, COORDINATOR, INTERVENANT),
        lambda s: {"pk": s.household.pk, "phase": "inscription"},
    ),
    "beneficiaires:program_audit": Entry(roles(ADMIN, COORDINATOR), program_kwargs),
    "coupons:program_sales": Entry(roles(ADMIN, COORDINATOR), program_kwargs),
    "financement:program_funds": Entry(roles(ADMIN, COORDINATOR), program_kwargs),
    "financement:contribution_create": Entry(roles(ADMIN, COORDINATOR), program_kwargs),
    "financement:ledger_csv": Entry(roles(ADMIN, COORDINATOR), program_kwargs),
    "financement:contribution_document": Entry(
        roles(ADMIN, COORDINATOR), lambda s: {"pk": contribution(s).pk}
    ),
    "financement:funder_list": Entry(roles(ADMIN, COORDINATOR), no_kwargs),
    "financement:funder_create": Entry(roles(ADMIN, COORDINATOR), no_kwargs),
    "rapports:report_program": Entry(roles(ADMIN, COORDINATOR, FUNDER), program_kwargs),
    "rapports:report_program_pdf": Entry(roles(ADMIN, COORDINATOR, FUNDER), program_kwargs),
    "rapports:report_program_csv": Entry(roles(ADMIN, COORDINATOR, FUNDER), program_kwargs),
    "rapports:report_program_xlsx": Entry(roles(ADMIN, COORDINATOR, FUNDER), program_kwargs),
    "financement:funder_tokens": Entry(roles(ADMIN, COORDINATOR), lambda s: {"pk": s.funder.pk}),
    "financement:funder_token_revoke": Entry(
        roles(ADMIN, COORDINATOR),
        lambda s: {"pk": s.funder.pk, "token_id": funder_token(s).pk},
        method="post",
    ),
    "rapports:report_territory": Entry(roles(ADMIN), territory_kwargs),
    "rapports:report_territory_pdf": Entry(roles(ADMIN), territory_kwargs),
    "rapports:report_territory_csv": Entry(roles(ADMIN), territory_kwargs),
    "rapports:report_territory_xlsx": Entry(roles(ADMIN), territory_kwargs),
    "rapports:report_network": Entry(roles(ADMIN), no_kwargs),
    "rapports:report_network_pdf": Entry(roles(ADMIN), no_kwargs),
    "rapports:report_network_csv": Entry(roles(ADMIN), no_kwargs),
    "rapports:report_network_xlsx": Entry(roles(ADMIN), no_kwargs),
}

# Reachable without an account, or guarded by their own secret (a token in the link, a device
# token), each tested in its own module.
PUBLIC = {
    "comptes_invitation_accept",
    "set_language",
    "javascript-catalog",
    "api:openapi-json",
    "api:openapi-view",
    "api:api-root",
    "api:create_redemption",
    "api:create_redemptions_batch",
    "api:get_coupon_verdict",
    "api:get_revocations",
    "api:get_scanner_config",
    # A funder's token (tests/rapports/test_api_reports.py).
    "api:program_report",
    # The household's wallet: no account, guarded by the signed link (tests/coupons/test_wallet.py).
    "coupons:wallet",
    "coupons:wallet_manifest",
    "coupons:wallet_sw",
    "api:health",
    # Online donations: public pages; the receipt behind a signed link; Stripe's webhook is
    # verified by its signature (tests/financement/).
    "financement:donation_form",
    "financement:donation_thanks",
    "financement:donation_receipt",
    "financement:stripe_webhook",
    # The public solidarity sale; the buyer's PDF behind the wallet's signed link
    # (tests/coupons/test_sale*.py).
    "coupons:sale_form",
    "coupons:sale_thanks",
    "coupons:sale_pdf",
}


def named_patterns(patterns: list[Any], namespace: str | None = None) -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue  # Django's admin: staff only, its own permissions.
            yield from named_patterns(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            module = getattr(pattern.callback, "__module__", "")
            if module.startswith("allauth."):
                continue  # sign-in, sign-out and password pages of allauth
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_url_pattern_has_an_entry_in_the_matrix() -> None:
    names = set(named_patterns(get_resolver().url_patterns))

    missing = names - set(MATRIX) - PUBLIC
    stale = (set(MATRIX) | PUBLIC) - names

    assert not missing, f"add these URL names to MATRIX or PUBLIC: {sorted(missing)}"
    assert not stale, f"these entries name no URL any more: {sorted(stale)}"


def prepare(world: World) -> None:
    for scope in (world.a, world.b):
        scope.invitation, _ = create_invitation(
            inviter=scope.coordinator,
            email=f"nouvelle-{scope.program.slug}@example.org",
            role="coordinator",
            scope=scope.program,
        )
        issue_household_allotment(
            household=scope.household, issued_by=scope.intervenant, idempotency_key=uuid.uuid4()
        )


def request(client: Client, name: str, entry: Entry, scope: Scope) -> Any:
    url = reverse(name, kwargs=entry.kwargs(scope))
    if entry.method == "post":
        return client.post(url, {"idempotency_key": str(uuid.uuid4())})
    return client.get(url)


def users_of(world: World, scope: Scope) -> dict[str, Any]:
    return {**scope.users(), ADMIN: world.admin}


# Pages tied to one object of scope a; the others show lists, scoped (see the list tests).
SCOPED = sorted(name for name, entry in MATRIX.items() if entry.kwargs is not no_kwargs)


@pytest.mark.parametrize("name", SCOPED)
def test_roles_outside_the_scope_get_404_or_403(client: Client, world: World, name: str) -> None:
    prepare(world)
    entry = MATRIX[name]
    outsiders = {**{f"b-{k}": v for k, v in world.b.users().items()}, "nobody": world.nobody}

    for label, user in outsiders.items():
        client.force_login(user)
        response = request(client, name, entry, world.a)
        assert response.status_code in {403, 404}, (name, label, response.status_code)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_roles_inside_the_scope_get_what_the_matrix_says(
    client: Client, world: World, name: str
) -> None:
    prepare(world)
    entry = MATRIX[name]

    for role, user in users_of(world, world.a).items():
        client.force_login(user)
        response = request(client, name, entry, world.a)
        if role in entry.allowed:
            assert response.status_code in {200, 201, 302}, (name, role, response.status_code)
        else:
            assert response.status_code in {403, 404}, (name, role, response.status_code)


@pytest.mark.parametrize("name", sorted(MATRIX))
def test_anonymous_visitors_are_sent_to_the_sign_in_page(
    client: Client, world: World, name: str
) -> None:
    prepare(world)

    response = request(client, name, MATRIX[name], world.a)

    assert response.status_code == 302, (name, response.status_code)
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize(
    "name",
    [
        "programmes:program_list",
        "accueil",
        "comptes_invitations",
        "rapports:network",
    ],
)
def test_lists_never_show_another_scope(client: Client, world: World, name: str) -> None:
    prepare(world)
    secrets_of_a = [
        world.a.program.name,
        world.a.organization.name,
        world.a.market.name,
        world.a.vendor.name,
        world.a.household.name,
    ]
    for label, user in world.b.users().items():
        client.force_login(user)
        response = client.get(reverse(name))
        page = response.content.decode()
        for secret in secrets_of_a:
            assert secret not in page, (name, label, secret)


def household_pages(scope: Scope) -> list[tuple[str, str]]:
    """(name, URL) of every page and action of the matrix that is about one household."""
    pages = []
    for name, entry in MATRIX.items():
        if entry.kwargs is no_kwargs:
            continue
        url = reverse(name, kwargs=entry.kwargs(scope))
        if url.startswith("/menages/"):
            pages.append((name, url))
    return pages


def test_no_one_outside_the_households_organization_reaches_any_of_its_pages(
    client: Client, world: World
) -> None:
    from tests import factories as f

    prepare(world)
    household = world.a.household
    # A second organization of the same program, its intervenant, and people with no household
    # in their scope at all: a vendor and a funder.
    neighbour = f.OrganizationFactory(name="Organisme voisin", program=world.a.program)
    neighbour_worker = f.UserFactory(email="voisin@example.org")
    neighbour.members.add(neighbour_worker)
    funder = f.UserFactory(email="fondation@example.org")
    pages = household_pages(world.a)
    assert len(pages) >= 10, pages  # the household's page, its coupons, rights and log
    before = Household.objects.values().get(pk=household.pk)
    audit_rows = AuditEntry.objects.count()

    for user in (neighbour_worker, world.a.vendor_user, world.a.manager, funder):
        client.force_login(user)
        for name, url in pages:
            response = request(client, name, MATRIX[name], world.a)
            assert response.status_code == 404, (user.email, name)
            # Any write the page takes: refused before it reads the household (405 where the
            # page takes no POST at all).
            response = client.post(url, {"action": "withdraw", "confirm": "on"})
            assert response.status_code in {404, 405}, (user.email, name)

    assert Household.objects.values().get(pk=household.pk) == before
    assert AuditEntry.objects.count() == audit_rows
