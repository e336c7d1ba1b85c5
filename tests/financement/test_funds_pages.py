"""A program's funds page: received, committed, spent and available to the cent, the sale's
subsidy, the ledger paginated in bounded queries, the funders list, and who may see them."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon, CouponSale
from coupons.services import BearerRequest, issue_bearer_batch
from financement.funds import funds_summary
from financement.models import Funder, LedgerEntry
from financement.services import NewFunder, record_contribution, record_entry
from marches.redemptions import redeem_coupon
from programmes.models import Program
from tests import factories as f
from tests.helpers import text

pytestmark = pytest.mark.django_db

D = Decimal


def funds_url(program: Program) -> str:
    return reverse("financement:program_funds", kwargs={"slug": program.slug})


def contribute(program: Program, amount: str, funder: str = "Fondation Chagnon") -> None:
    found = Funder.objects.filter(name=funder).first()
    record_contribution(
        program=program,
        funder=found or NewFunder(name=funder, kind=Funder.Kind.FOUNDATION),
        amount=D(amount),
        received_on=timezone.localdate() - datetime.timedelta(days=3),
        recorded_by=None,
        reference="ENT-2026-01",
    )


def bearer_batch(scope: Any, counts: dict[Decimal, int]) -> list[Coupon]:
    program = scope.program
    batch = issue_bearer_batch(
        request=BearerRequest(
            program=program,
            organization=scope.organization,
            counts=counts,
            valid_from=program.season_start,
            valid_until=program.season_end,
        ),
        issued_by=scope.coordinator,
        idempotency_key=uuid.uuid4(),
    )
    return list(batch.coupons.order_by("pk"))


def figure(page: str, name: str) -> str:
    """The value shown in the stat block `data-figure=name`."""
    block = page.split(f'data-figure="{name}"', 1)[1]
    return block.split('class="stat__value">', 1)[1].split("<", 1)[0]


# The figures -----------------------------------------------------------------------------------


def test_the_funds_page_shows_received_committed_spent_and_available_to_the_cent(
    client: Client, world: Any
) -> None:
    a = world.a  # 10 000,00 $ from the factory's contribution
    contribute(a.program, "2500.50")
    record_entry(program=a.program, kind=LedgerEntry.Kind.DONATION, amount=D("40.00"), memo="Don")
    record_entry(program=a.program, kind=LedgerEntry.Kind.REFUND, amount=D("-10.25"), memo="R")
    coupons = bearer_batch(a, {D("5.00"): 4, D("2.00"): 3})  # 26,00 $
    verdict = redeem_coupon(
        code=coupons[0].code, vendor=a.vendor, market=a.market, client_id=uuid.uuid4()
    )
    assert verdict.status == "accepted", verdict
    # Two coupons that expired unused: their money is free again.
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    for _ in range(2):
        f.CouponFactory(
            program=a.program,
            value=D("5.00"),
            valid_from=yesterday - datetime.timedelta(days=30),
            valid_until=yesterday,
        )
    client.force_login(a.coordinator)

    response = client.get(funds_url(a.program))

    assert response.status_code == 200
    summary = response.context["summary"]
    assert summary.contributions == D("12500.50")
    assert summary.donations == D("40.00")
    assert summary.sales == D("0.00")
    assert summary.refunds == D("-10.25")
    assert summary.received == D("12530.25")
    assert summary.committed == D("21.00")  # 26 issued − 5 redeemed
    assert summary.spent == D("5.00")
    assert summary.available == D("12504.25")  # received − (committed + spent)
    assert summary.coupons.expired == D("10.00")
    assert summary.shortfall == D("0.00")
    page = text(response)
    assert figure(page, "received") == "12\u00a0530,25\u00a0$"
    assert figure(page, "committed") == "21,00\u00a0$"
    assert figure(page, "spent") == "5,00\u00a0$"
    assert figure(page, "available") == "12\u00a0504,25\u00a0$"
    assert "2 coupons expirés sans être utilisés (10,00\u00a0$)" in page
    assert "Fondation Chagnon" in page and "ENT-2026-01" in page
    assert 'id="manque"' not in page


def test_a_shortfall_is_shown_when_the_coupons_exceed_the_funds(client: Client, world: Any) -> None:
    a = world.a
    f.set_funds(a.program, D("30.00"))
    bearer_batch(a, {D("5.00"): 6})  # 30,00 $: every dollar committed
    record_entry(program=a.program, kind=LedgerEntry.Kind.REFUND, amount=D("-12.50"), memo="R")
    client.force_login(a.coordinator)

    page = text(client.get(funds_url(a.program)))

    assert funds_summary(a.program).available == D("-12.50")
    assert "Les coupons émis dépassent les fonds reçus de 12,50\u00a0$" in page


def test_the_sale_subsidy_is_shown_while_the_sale_is_open(client: Client, world: Any) -> None:
    a = world.a
    Program.objects.filter(pk=a.program.pk).update(
        sale_enabled=True,
        sale_price=D("20.00"),
        sale_value=D("30.00"),
        sale_subsidy_cap=D("500.00"),
    )
    client.force_login(a.coordinator)

    response = client.get(funds_url(a.program))

    page = text(response)
    assert reverse("coupons:sale_form", kwargs={"slug": a.program.slug}) in page
    assert reverse("coupons:program_sales", kwargs={"slug": a.program.slug}) in page
    assert response.context["summary"].sale_subsidy_left == D("500.00")
    assert 'data-figure="sale-cap">500,00\u00a0$' in page
    assert 'data-figure="sale-used">0,00\u00a0$' in page
    assert 'data-figure="sale-left">500,00\u00a0$' in page


def test_a_sale_being_paid_holds_its_subsidy_out_of_the_funds_available(
    client: Client, world: Any
) -> None:
    """What the page calls available is what the budget guard of issuance lets through."""
    a = world.a  # 10 000,00 $
    Program.objects.filter(pk=a.program.pk).update(
        sale_enabled=True,
        sale_price=D("20.00"),
        sale_value=D("30.00"),
        sale_subsidy_cap=D("500.00"),
    )
    CouponSale.objects.create(
        program=a.program,
        buyer_name="Camille Roy",
        buyer_email="camille@example.org",
        packs=2,
        price=D("40.00"),
        value=D("60.00"),
        expires_at=timezone.now() + datetime.timedelta(minutes=30),
    )
    client.force_login(a.coordinator)

    page = text(client.get(funds_url(a.program)))

    assert 'data-figure="sale-reserved">20,00\u00a0$' in page
    assert figure(page, "available") == "9\u00a0980,00\u00a0$"


def test_the_sale_subsidy_is_not_shown_for_a_program_without_a_sale(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    page = text(client.get(funds_url(world.a.program)))

    assert "Subvention de la vente solidaire" not in page


def test_a_program_without_funds_shows_empty_states(client: Client, world: Any) -> None:
    program = f.ProgramFactory(budget=D("0"))
    program.coordinators.add(world.a.coordinator)
    client.force_login(world.a.coordinator)

    page = text(client.get(funds_url(program)))

    assert "Aucune contribution pour l'instant" in page
    assert figure(page, "received") == "0,00\u00a0$"


def test_the_funds_page_links_to_its_actions(client: Client, world: Any) -> None:
    slug = world.a.program.slug
    client.force_login(world.a.coordinator)

    page = text(client.get(funds_url(world.a.program)))

    assert reverse("financement:contribution_create", kwargs={"slug": slug}) in page
    assert reverse("financement:ledger_csv", kwargs={"slug": slug}) in page
    assert reverse("financement:donation_form", kwargs={"slug": slug}) in page


def test_the_dashboard_links_to_the_funds_and_the_public_pages(client: Client, world: Any) -> None:
    slug = world.a.program.slug
    dashboard = reverse("rapports:program_dashboard", kwargs={"slug": slug})
    sale = reverse("coupons:sale_form", kwargs={"slug": slug})
    client.force_login(world.a.coordinator)

    page = text(client.get(dashboard))

    assert reverse("financement:program_funds", kwargs={"slug": slug}) in page
    assert reverse("financement:donation_form", kwargs={"slug": slug}) in page
    assert sale not in page  # the program sells no coupons
    Program.objects.filter(pk=world.a.program.pk).update(
        sale_enabled=True, sale_price=D("20.00"), sale_value=D("30.00")
    )
    assert sale in text(client.get(dashboard))


# The ledger ------------------------------------------------------------------------------------


def test_the_ledger_is_newest_first_50_to_a_page(client: Client, world: Any) -> None:
    a = world.a
    for index in range(60):
        record_entry(
            program=a.program, kind=LedgerEntry.Kind.DONATION, amount=D("1.00"), memo=f"d{index}"
        )
    client.force_login(a.coordinator)

    first = client.get(funds_url(a.program))
    second = client.get(funds_url(a.program), {"page": 2})

    rows = list(first.context["page_obj"].object_list)
    assert len(rows) == 50
    assert rows[0].memo == "d59"
    # 61 rows: the factory's contribution is the oldest, alone on page 2 with the first gifts.
    assert [row.memo for row in second.context["page_obj"].object_list][-1] == "Fondation a"
    assert client.get(funds_url(a.program), {"page": "abc"}).status_code == 200


def test_the_funds_page_takes_the_same_queries_for_1_and_60_rows(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    a = world.a
    client.force_login(a.coordinator)
    url = funds_url(a.program)
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as one_row:
        assert client.get(url).status_code == 200
    assert LedgerEntry.objects.filter(program=a.program).count() == 1

    funders = [Funder.objects.create(name=f"Bailleur {n}") for n in range(30)]
    for funder in funders:
        record_contribution(
            program=a.program,
            funder=funder,
            amount=D("10.00"),
            received_on=timezone.localdate(),
            recorded_by=a.coordinator,
        )
    for _ in range(29):
        record_entry(program=a.program, kind=LedgerEntry.Kind.DONATION, amount=D("2.00"))

    with django_assert_max_num_queries(len(one_row.captured_queries)):
        response = client.get(url)
    assert response.status_code == 200
    assert len(response.context["page_obj"].object_list) == 50
    # Session, user, program; the ledger by kind, the coupon totals, the sale's subsidy; the
    # ledger's count and its page; the layout's five (the user's workspaces).
    assert len(one_row.captured_queries) <= 14


# Who may see it --------------------------------------------------------------------------------


def test_an_admin_reads_any_program_funds(client: Client, world: Any) -> None:
    client.force_login(world.admin)

    assert client.get(funds_url(world.b.program)).status_code == 200


def test_a_coordinator_of_another_program_gets_404(client: Client, world: Any) -> None:
    client.force_login(world.b.coordinator)

    assert client.get(funds_url(world.a.program)).status_code == 404
    csv_url = reverse("financement:ledger_csv", kwargs={"slug": world.a.program.slug})
    assert client.get(csv_url).status_code == 404


@pytest.mark.parametrize("role", ["intervenant", "market_manager", "vendor"])
def test_the_program_s_other_people_get_404(client: Client, world: Any, role: str) -> None:
    client.force_login(world.a.users()[role])

    assert client.get(funds_url(world.a.program)).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client: Client, world: Any) -> None:
    response = client.get(funds_url(world.a.program))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_an_unknown_program_is_404(client: Client, world: Any) -> None:
    client.force_login(world.admin)

    assert client.get("/programmes/inconnu/fonds/").status_code == 404


# Funders ---------------------------------------------------------------------------------------


def test_a_coordinator_sees_what_each_funder_gave_to_their_programs_only(
    client: Client, world: Any
) -> None:
    contribute(world.a.program, "700.00", "Ministère de l'Agriculture")
    contribute(world.b.program, "900.00", "Ministère de l'Agriculture")
    contribute(world.b.program, "300.00", "Caisse Desjardins")
    Funder.objects.create(name="Fondation toute neuve", kind=Funder.Kind.FOUNDATION)
    client.force_login(world.a.coordinator)

    response = client.get(reverse("financement:funder_list"))

    assert response.status_code == 200
    rows = {row.funder.name: row for row in response.context["rows"]}
    # Caisse Desjardins funds only b; the factory's funder gave to a (and to b).
    assert set(rows) == {
        "Fondation a",
        "Ministère de l'Agriculture",
        "Fondation toute neuve",
    }
    assert rows["Ministère de l'Agriculture"].total == D("700.00")
    assert [p.slug for p in rows["Ministère de l'Agriculture"].programs] == [world.a.program.slug]
    assert rows["Fondation toute neuve"].programs == []
    page = text(response)
    assert "900,00" not in page and "Caisse Desjardins" not in page


def test_an_admin_sees_every_funder_and_every_program(client: Client, world: Any) -> None:
    contribute(world.b.program, "300.00", "Caisse Desjardins")
    client.force_login(world.admin)

    response = client.get(reverse("financement:funder_list"))

    rows = {row.funder.name: row for row in response.context["rows"]}
    assert rows["Caisse Desjardins"].total == D("300.00")
    assert rows["Fondation a"].total == rows["Fondation b"].total == D("10000.00")


def test_the_funders_list_takes_bounded_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.admin)
    url = reverse("financement:funder_list")
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for n in range(20):
        contribute(world.a.program if n % 2 else world.b.program, "5.00", f"Bailleur {n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(url).status_code == 200


@pytest.mark.parametrize("role", ["intervenant", "market_manager", "vendor"])
def test_people_who_run_no_program_may_not_see_the_funders(
    client: Client, world: Any, role: str
) -> None:
    client.force_login(world.a.users()[role])

    assert client.get(reverse("financement:funder_list")).status_code == 403
    assert client.get(reverse("financement:funder_create")).status_code == 403
    response = client.post(reverse("financement:funder_create"), {"name": "X", "kind": "other"})
    assert response.status_code == 403
    assert not Funder.objects.filter(name="X").exists()


def test_a_coordinator_adds_a_funder(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(
        reverse("financement:funder_create"),
        {"name": "  Fondation   Lucie et André Chagnon ", "kind": "foundation"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("financement:funder_list")
    funder = Funder.objects.get(name="Fondation Lucie et André Chagnon")
    assert funder.kind == Funder.Kind.FOUNDATION


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "FONDATION A", "kind": "other"}, "existe déjà"),
        ({"name": "", "kind": "other"}, "obligatoire"),
        ({"name": "X" * 161, "kind": "other"}, "160 caractères au plus"),
        ({"name": "Y", "kind": "martian"}, "choix valide"),
        ({"name": "Y", "kind": "other", "contact_email": "pas-un-courriel"}, "courriel"),
    ],
)
def test_a_funder_with_bad_input_is_refused_and_nothing_is_written(
    client: Client, world: Any, data: dict[str, str], message: str
) -> None:
    client.force_login(world.a.coordinator)
    before = Funder.objects.count()

    response = client.post(reverse("financement:funder_create"), data)

    assert response.status_code == 400
    assert message in text(response)
    assert Funder.objects.count() == before
