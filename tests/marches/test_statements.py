"""Reimbursement statements: they add up to the accepted redemptions of their period, to the
cent; each redemption is reimbursed at most once; approve, pay, discard; the local currency;
CSV and PDF; scopes; bounded queries; and a race on PostgreSQL."""

from __future__ import annotations

import csv
import datetime
import io
import threading
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marches.models import Market, Redemption, Statement, Vendor
from marches.redemptions import (
    RedemptionError,
    decide_conflict,
    redeem_coupon,
    undo_redemption,
)
from marches.statements import (
    StatementError,
    approve_statement,
    can_manage_statement,
    create_statement,
    discard_statement,
    mark_statement_paid,
    preview_statement,
    reimbursable_redemptions,
    statements_for,
)
from tests.factories import (
    CouponFactory,
    MarketFactory,
    ProgramFactory,
    UserFactory,
    VendorFactory,
)
from tests.helpers import text

TODAY = timezone.localdate


def day(days_ago: int) -> datetime.date:
    return TODAY() - datetime.timedelta(days=days_ago)


def at(days_ago: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime.datetime:
    """An aware local time `days_ago` days ago (coupons are valid from a week ago)."""
    return timezone.make_aware(
        datetime.datetime.combine(day(days_ago), datetime.time(hour, minute, second))
    )


def redeem(
    scope: Any,
    value: str = "5.00",
    *,
    when: datetime.datetime | None = None,
    vendor: Vendor | None = None,
    market: Market | None = None,
    program: Any = None,
    coupon: Any = None,
    offline: bool = False,
) -> Redemption:
    coupon = coupon or CouponFactory(program=program or scope.program, value=Decimal(value))
    verdict = redeem_coupon(
        code=coupon.code,
        vendor=vendor or scope.vendor,
        market=market or scope.market,
        client_id=uuid.uuid4(),
        scanned_at=when or at(2),
        offline=offline,
    )
    assert verdict.redemption is not None, verdict
    return verdict.redemption


def make_statement(scope: Any, start: int = 5, end: int = 1, **kwargs: Any) -> Statement:
    """A statement of scope's vendor and program from `start` to `end` days ago."""
    return create_statement(
        vendor=kwargs.pop("vendor", scope.vendor),
        program=kwargs.pop("program", scope.program),
        period_start=day(start),
        period_end=day(end),
        created_by=kwargs.pop("created_by", scope.coordinator),
    )


def lines_of(statement: Statement) -> set[int]:
    return set(statement.redemptions.values_list("pk", flat=True))


# Adding up -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_statement_adds_up_to_the_accepted_redemptions_and_honoured_conflicts_of_its_period(
    world: Any,
) -> None:
    a = world.a
    neighbour = VendorFactory(name="Ferme voisine", market=a.market)
    other_program = ProgramFactory(name="Programme c")
    a.market.programs.add(other_program)

    # Counted: accepted scans inside the period (its very first and very last second too).
    counted = [
        redeem(a, "5.00", when=at(5, 0, 0, 0)),
        redeem(a, "0.10", when=at(4, 9, 15)),
        redeem(a, "0.20", when=at(3, 10)),
        redeem(a, "3.33", when=at(2, 11)),
        redeem(a, "7.77", when=at(1, 23, 59, 59), offline=True),
    ]
    # An offline double scan of a coupon the neighbour had accepted, honoured: counted.
    shared = CouponFactory(program=a.program, value=Decimal("12.01"))
    redeem(a, coupon=shared, vendor=neighbour, when=at(3, 9))
    double = redeem(a, coupon=shared, when=at(3, 14), offline=True)
    assert double.status == Redemption.Status.CONFLICT
    honoured = decide_conflict(
        redemption=double, honour=True, reason="Donné de bonne foi", decided_by=a.coordinator
    )
    counted.append(honoured)

    # Not counted: a conflict in review, a refused one, an undone scan, scans just outside the
    # period, another vendor's, another program's.
    pending_coupon = CouponFactory(program=a.program, value=Decimal("2.00"))
    redeem(a, coupon=pending_coupon, vendor=neighbour, when=at(2, 8))
    pending = redeem(a, coupon=pending_coupon, when=at(2, 9), offline=True)
    refused_coupon = CouponFactory(program=a.program, value=Decimal("2.00"))
    redeem(a, coupon=refused_coupon, vendor=neighbour, when=at(2, 8))
    refused = decide_conflict(
        redemption=redeem(a, coupon=refused_coupon, when=at(2, 9), offline=True),
        honour=False,
        reason="Coupon photocopié",
        decided_by=a.coordinator,
    )
    undone = redeem(a, "5.00", when=at(2, 15))
    undo_redemption(redemption=undone, undone_by=a.vendor_user)
    before = redeem(a, "5.00", when=at(6, 23, 59, 59))
    after = redeem(a, "5.00", when=at(0, 0, 0, 0))
    theirs = redeem(a, "5.00", vendor=neighbour, when=at(2))
    other = redeem(a, "5.00", program=other_program, when=at(2))
    assert pending.status == Redemption.Status.CONFLICT
    assert refused.status == Redemption.Status.REFUSED

    statement = make_statement(a, start=5, end=1)

    expected = sum((r.value for r in counted), Decimal("0.00"))
    assert expected == Decimal("28.41")
    assert statement.total == expected
    assert statement.redemption_count == len(counted) == 6
    assert lines_of(statement) == {r.pk for r in counted}
    assert statement.status == Statement.Status.DRAFT
    assert statement.created_by == a.coordinator
    not_counted = [pending, refused, undone, before, after, theirs, other]
    assert not Redemption.objects.filter(
        pk__in=[r.pk for r in not_counted], statement__isnull=False
    ).exists()
    # The same sum by the database: the statement's total is its lines' total.
    assert statement.redemptions.aggregate(total=Sum("value"))["total"] == statement.total


@pytest.mark.django_db
def test_the_preview_holds_what_the_statement_will_hold_and_writes_nothing(world: Any) -> None:
    redeem(world.a, "4.25", when=at(3))
    redeem(world.a, "0.75", when=at(2))

    preview = preview_statement(
        vendor=world.a.vendor, program=world.a.program, start=day(5), end=day(1)
    )

    assert (preview.count, preview.total, preview.local) == (2, Decimal("5.00"), None)
    assert [line.value for line in preview.lines] == [Decimal("4.25"), Decimal("0.75")]
    assert not Statement.objects.exists()
    assert make_statement(world.a).total == preview.total


# At most once ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_second_statement_over_an_overlapping_period_gets_only_the_rest(world: Any) -> None:
    early = [redeem(world.a, "5.00", when=at(4)), redeem(world.a, "2.00", when=at(3))]
    late = [redeem(world.a, "1.50", when=at(2)), redeem(world.a, "0.50", when=at(1))]

    first = make_statement(world.a, start=5, end=3)
    second = make_statement(world.a, start=5, end=1)

    assert lines_of(first) == {r.pk for r in early}
    assert first.total == Decimal("7.00")
    assert lines_of(second) == {r.pk for r in late}
    assert second.total == Decimal("2.00")
    with pytest.raises(StatementError) as excinfo:
        make_statement(world.a, start=6, end=1)
    assert excinfo.value.code == "empty_period"
    assert Statement.objects.count() == 2
    assert not reimbursable_redemptions(
        vendor=world.a.vendor, program=world.a.program, start=day(7), end=day(0)
    ).exists()


@pytest.mark.django_db
def test_a_redemption_on_a_statement_can_no_longer_be_undone_or_taken_over(world: Any) -> None:
    online = redeem(world.a, "5.00", when=at(1))
    statement = make_statement(world.a, start=1, end=1)
    # An earlier offline scan of the same coupon arriving late does not take it over.
    late = redeem(world.a, coupon=online.coupon, when=at(2), offline=True)

    with pytest.raises(RedemptionError) as excinfo:
        undo_redemption(redemption=online, undone_by=world.a.vendor_user)

    assert excinfo.value.code == "on_statement"
    assert late.status == Redemption.Status.CONFLICT
    online.refresh_from_db()
    assert (online.status, online.statement_id) == (Redemption.Status.ACCEPTED, statement.pk)


@pytest.mark.django_db
def test_a_discarded_draft_releases_its_lines_for_the_next_statement(world: Any) -> None:
    redemptions = [redeem(world.a, "5.00", when=at(3)), redeem(world.a, "2.00", when=at(2))]
    draft = make_statement(world.a)

    released = discard_statement(statement=draft, discarded_by=world.a.manager)

    assert released == 2
    assert not Statement.objects.filter(pk=draft.pk).exists()
    assert not Redemption.objects.filter(statement__isnull=False).exists()
    again = make_statement(world.a)
    assert lines_of(again) == {r.pk for r in redemptions}
    approve_statement(statement=again, approved_by=world.a.manager)
    with pytest.raises(StatementError) as excinfo:
        discard_statement(statement=again, discarded_by=world.a.manager)
    assert excinfo.value.code == "not_draft"
    assert lines_of(again) == {r.pk for r in redemptions}


# Approve, pay ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_statement_is_approved_then_paid_with_its_reference(world: Any) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)
    with pytest.raises(StatementError) as excinfo:
        mark_statement_paid(statement=statement, reference="VIR-1", paid_by=world.a.coordinator)
    assert excinfo.value.code == "not_approved"

    approve_statement(statement=statement, approved_by=world.a.manager)
    assert (statement.status, statement.approved_by) == ("approved", world.a.manager)
    assert statement.approved_at is not None
    with pytest.raises(StatementError) as excinfo:
        approve_statement(statement=statement, approved_by=world.a.manager)
    assert excinfo.value.code == "already_approved"

    mark_statement_paid(
        statement=statement, reference="  Virement  2026-0712 ", paid_by=world.a.coordinator
    )
    statement.refresh_from_db()
    assert statement.status == Statement.Status.PAID
    assert statement.paid_reference == "Virement 2026-0712"
    assert statement.paid_by == world.a.coordinator
    assert statement.paid_at is not None
    with pytest.raises(StatementError) as excinfo:
        mark_statement_paid(statement=statement, reference="VIR-2", paid_by=world.a.coordinator)
    assert excinfo.value.code == "already_paid"
    statement.refresh_from_db()
    assert statement.paid_reference == "Virement 2026-0712"


@pytest.mark.django_db
@pytest.mark.parametrize("reference", ["", "   ", "x" * 81])
def test_paid_without_a_reference_is_refused(world: Any, reference: str) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = approve_statement(statement=make_statement(world.a), approved_by=world.a.manager)

    with pytest.raises(StatementError) as excinfo:
        mark_statement_paid(statement=statement, reference=reference, paid_by=world.a.manager)

    assert excinfo.value.code == "reference_required"
    statement.refresh_from_db()
    assert (statement.status, statement.paid_reference) == ("approved", "")


@pytest.mark.django_db
def test_the_database_refuses_a_paid_statement_without_a_reference(world: Any) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)

    with pytest.raises(IntegrityError), transaction.atomic():
        Statement.objects.filter(pk=statement.pk).update(status=Statement.Status.PAID)


@pytest.mark.django_db
def test_a_statement_whose_lines_no_longer_add_up_is_not_approved(world: Any) -> None:
    line = redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)
    Redemption.objects.filter(pk=line.pk).update(value=Decimal("6.00"))

    with pytest.raises(StatementError) as excinfo:
        approve_statement(statement=statement, approved_by=world.a.coordinator)

    assert excinfo.value.code == "total_mismatch"
    statement.refresh_from_db()
    assert statement.status == Statement.Status.DRAFT


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("start", "end", "code"),
    [(1, 3, "invalid_period"), (2, -1, "period_in_future"), (7, 6, "empty_period")],
)
def test_a_bad_period_is_refused_and_writes_nothing(
    world: Any, start: int, end: int, code: str
) -> None:
    redeem(world.a, "5.00", when=at(2))

    with pytest.raises(StatementError) as excinfo:
        make_statement(world.a, start=start, end=end)

    assert excinfo.value.code == code
    assert not Statement.objects.exists()
    assert not Redemption.objects.filter(statement__isnull=False).exists()


@pytest.mark.django_db
def test_only_the_programs_staff_and_the_vendors_market_managers_make_statements(
    world: Any,
) -> None:
    redeem(world.a, "5.00", when=at(2))

    for user, code in [
        (world.a.vendor_user, "not_allowed"),
        (world.a.intervenant, "not_allowed"),
        (world.b.manager, "not_allowed"),
        (world.b.coordinator, "not_allowed"),
    ]:
        with pytest.raises(StatementError) as excinfo:
            make_statement(world.a, created_by=user)
        assert excinfo.value.code == code, user
    with pytest.raises(StatementError) as excinfo:
        make_statement(world.a, vendor=world.b.vendor)
    assert excinfo.value.code == "not_a_vendor_of_program"
    assert not Statement.objects.exists()

    assert make_statement(world.a, created_by=world.a.manager).total == Decimal("5.00")


# The local currency ----------------------------------------------------------------------------


def with_local_currency(scope: Any, rate: str = "1.0500", payout: str = "local") -> None:
    scope.program.local_currency = "Demi"
    scope.program.local_rate = Decimal(rate)
    scope.program.save()
    scope.vendor.payout = payout
    scope.vendor.save()


@pytest.mark.django_db
def test_a_vendor_paid_in_local_currency_sees_both_amounts_at_the_rate_of_the_statement(
    client: Client, world: Any
) -> None:
    with_local_currency(world.a, rate="1.0500")
    redeem(world.a, "5.05", when=at(3))
    redeem(world.a, "5.05", when=at(2))

    statement = make_statement(world.a)
    # The program's rate changes afterwards: the statement keeps the one it was made with.
    world.a.program.local_rate = Decimal("2.0000")
    world.a.program.save()
    statement.refresh_from_db()

    assert statement.total == Decimal("10.10")
    assert statement.payout == Vendor.Payout.LOCAL
    assert (statement.local_currency, statement.local_rate) == ("Demi", Decimal("1.0500"))
    assert statement.local_total == Decimal("10.61")  # 10.605, rounded half up
    client.force_login(world.a.vendor_user)
    page = text(client.get(reverse("marches:statement_detail", args=[statement.pk])))
    assert "10,10\xa0$" in page
    assert "10,61 Demi" in page
    assert "1,0500" in page


@pytest.mark.django_db
@pytest.mark.parametrize("case", ["dollars", "no local currency"])
def test_a_statement_in_dollars_has_no_local_amount(world: Any, case: str) -> None:
    if case == "dollars":
        with_local_currency(world.a, payout="dollars")
    else:
        world.a.vendor.payout = Vendor.Payout.LOCAL
        world.a.vendor.save()
    redeem(world.a, "5.00", when=at(2))

    statement = make_statement(world.a)

    assert statement.payout == Vendor.Payout.DOLLARS
    assert (statement.local_currency, statement.local_rate, statement.local_total) == (
        "",
        None,
        None,
    )


# Exports ---------------------------------------------------------------------------------------


def csv_rows(response: Any) -> list[list[str]]:
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))


@pytest.mark.django_db
def test_the_csv_lists_the_lines_and_totals_and_never_runs_a_formula(
    client: Client, world: Any
) -> None:
    world.a.vendor.name = '=HYPERLINK("http://exemple.org")'
    world.a.vendor.save()
    world.a.market.name = "+Marché du quai"
    world.a.market.save()
    world.a.program.name = "@Programme a"
    world.a.program.save()
    with_local_currency(world.a, rate="1.2000")
    redeem(world.a, "5.00", when=at(3))
    redeem(world.a, "2.50", when=at(2))
    statement = make_statement(world.a)
    approve_statement(statement=statement, approved_by=world.a.coordinator)
    mark_statement_paid(statement=statement, reference="-42 chèque", paid_by=world.a.coordinator)
    client.force_login(world.a.vendor_user)

    response = client.get(reverse("marches:statement_csv", args=[statement.pk]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    facts = {row[0]: row[1] for row in rows if len(row) == 2}
    assert facts["Marchand·e"] == '\'=HYPERLINK("http://exemple.org")'
    assert facts["Programme"] == "'@Programme a"
    assert facts["Référence du paiement"] == "'-42 chèque"
    assert facts["Statut"] == "Payé"
    assert facts["Du"] == day(5).isoformat()
    assert facts["Au"] == day(1).isoformat()
    assert facts["Total (CAD)"] == "7.50"
    assert facts["Total en monnaie locale (Demi)"] == "9.00"
    header = rows.index(["Date", "Heure", "Marché", "Coupon", "Catégorie", "État", "Valeur (CAD)"])
    lines = rows[header + 1 : -1]
    assert [line[0] for line in lines] == [day(3).isoformat(), day(2).isoformat()]
    assert {line[2] for line in lines} == {"'+Marché du quai"}
    assert [line[-1] for line in lines] == ["5.00", "2.50"]
    assert rows[-1] == ["Total", "", "", "", "", "", "7.50"]
    assert sum(Decimal(line[-1]) for line in lines) == statement.total


def pdf_text(response: Any) -> str:
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return " ".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


@pytest.mark.django_db
def test_the_pdf_states_the_vendor_the_period_and_the_total_in_both_currencies(
    client: Client, world: Any
) -> None:
    with_local_currency(world.a, rate="1.0500")
    redeem(world.a, "1000.00", when=at(3))
    redeem(world.a, "234.50", when=at(2))
    statement = make_statement(world.a)
    approve_statement(statement=statement, approved_by=world.a.coordinator)
    mark_statement_paid(statement=statement, reference="VIR-0712", paid_by=world.a.coordinator)
    client.force_login(world.a.vendor_user)

    response = client.get(reverse("marches:statement_pdf", args=[statement.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    found = pdf_text(response).replace("\u202f", " ")
    assert "Ferme a" in found
    assert "Programme a" in found
    assert f"{day(5).isoformat()} – {day(1).isoformat()}" in found
    assert "1 234,50 $" in found
    assert "1 296,23 Demi" in found  # 1234.50 × 1.05 = 1296.225, rounded half up
    assert "Payé / Paid" in found
    assert "VIR-0712" in found


@pytest.mark.django_db
def test_a_draft_pdf_says_it_is_not_approved_and_spans_pages_when_long(
    client: Client, world: Any
) -> None:
    for index in range(70):
        redeem(world.a, "2.00", when=at(1 + index % 5))
    statement = make_statement(world.a)
    client.force_login(world.a.coordinator)

    response = client.get(reverse("marches:statement_pdf", args=[statement.pk]))

    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert len(reader.pages) >= 2
    found = pdf_text(response)
    assert "Brouillon / Draft" in found
    assert "140,00 $" in found
    assert "monnaie locale" not in found  # paid in dollars: no local amount


# Pages -----------------------------------------------------------------------------------------


def create_url(**query: str) -> str:
    url = reverse("marches:statement_create")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def form_values(scope: Any, start: int = 5, end: int = 1) -> dict[str, str]:
    return {
        "program": scope.program.slug,
        "vendor": scope.vendor.slug,
        "period_start": day(start).isoformat(),
        "period_end": day(end).isoformat(),
    }


@pytest.mark.django_db
def test_the_manager_previews_creates_approves_and_pays_a_statement(
    client: Client, world: Any
) -> None:
    redeem(world.a, "5.00", when=at(3))
    redeem(world.a, "2.25", when=at(2))
    client.force_login(world.a.manager)

    preview = client.get(create_url(**form_values(world.a)))
    assert preview.status_code == 200
    assert "7,25\xa0$" in text(preview)
    assert preview.context["preview"].count == 2
    assert not Statement.objects.exists()

    created = client.post(reverse("marches:statement_create"), form_values(world.a))
    statement = Statement.objects.get()
    assert created.status_code == 302
    assert created["Location"] == reverse("marches:statement_detail", args=[statement.pk])
    detail = client.get(created["Location"])
    assert "7,25\xa0$" in text(detail)
    assert detail.context["page_obj"].paginator.count == 2

    approve_url = reverse("marches:statement_approve", args=[statement.pk])
    assert "Oui, approuver ce relevé" in text(client.get(approve_url))
    assert client.post(approve_url).status_code == 302
    statement.refresh_from_db()
    assert statement.status == Statement.Status.APPROVED

    pay_url = reverse("marches:statement_pay", args=[statement.pk])
    refused = client.post(pay_url, {"reference": "  "})
    assert refused.status_code == 400
    assert "Indiquez la référence du paiement" in text(refused)
    assert client.post(pay_url, {"reference": "VIR-0712"}).status_code == 302
    statement.refresh_from_db()
    assert (statement.status, statement.paid_reference) == ("paid", "VIR-0712")
    assert "VIR-0712" in text(client.get(reverse("marches:statement_detail", args=[statement.pk])))


@pytest.mark.django_db
def test_a_link_from_the_vendor_page_fills_the_form_in_without_judging_it(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    response = client.get(create_url(program="programme-a", vendor="ferme-a"))

    assert response.status_code == 200
    form = response.context["form"]
    assert not form.is_bound
    assert form.initial["vendor"] == "ferme-a"
    assert form.initial["period_end"] == TODAY()
    assert '<option value="ferme-a" selected>' in response.content.decode()
    assert response.context["preview"] is None


@pytest.mark.django_db
def test_a_draft_is_discarded_after_a_confirmation(client: Client, world: Any) -> None:
    line = redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)
    client.force_login(world.a.coordinator)
    url = reverse("marches:statement_discard", args=[statement.pk])

    assert "Oui, supprimer ce brouillon" in text(client.get(url))
    assert Statement.objects.filter(pk=statement.pk).exists()
    response = client.post(url)

    assert response.status_code == 302
    assert not Statement.objects.exists()
    line.refresh_from_db()
    assert line.statement_id is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"period_end": "pas-une-date"},
        {"period_start": day(1).isoformat(), "period_end": day(3).isoformat()},
        {"period_end": day(-2).isoformat()},
        {"period_start": "1900-01-01"},
        {"vendor": "ferme-b"},
        {"vendor": "inexistante"},
        {"program": "programme-b"},
    ],
)
def test_bad_statement_input_is_a_clear_error_and_writes_nothing(
    client: Client, world: Any, change: dict[str, str]
) -> None:
    redeem(world.a, "5.00", when=at(2))
    client.force_login(world.a.manager)
    values = {**form_values(world.a), **change}

    preview = client.get(reverse("marches:statement_create"), values)
    created = client.post(reverse("marches:statement_create"), values)

    assert preview.status_code == 400
    assert created.status_code == 400
    assert created.context["form"].errors
    assert not Statement.objects.exists()


@pytest.mark.django_db
def test_a_period_with_nothing_left_to_reimburse_has_nothing_to_create(
    client: Client, world: Any
) -> None:
    redeem(world.a, "5.00", when=at(2))
    client.force_login(world.a.manager)
    values = form_values(world.a, start=7, end=6)

    preview = client.get(reverse("marches:statement_create"), values)
    created = client.post(reverse("marches:statement_create"), values)

    assert preview.status_code == 200
    assert "Rien à rembourser pour cette période" in text(preview)
    assert "Créer le relevé" not in text(preview)
    assert created.status_code == 400
    assert "Rien à rembourser à Ferme a" in text(created)
    assert not Statement.objects.exists()


@pytest.mark.django_db
def test_the_list_is_filtered_by_program_vendor_and_status(client: Client, world: Any) -> None:
    redeem(world.a, "5.00", when=at(3))
    neighbour = VendorFactory(name="Ferme voisine", slug="ferme-voisine", market=world.a.market)
    redeem(world.a, "2.00", vendor=neighbour, when=at(3))
    mine = make_statement(world.a)
    theirs = make_statement(world.a, vendor=neighbour)
    approve_statement(statement=theirs, approved_by=world.a.coordinator)
    client.force_login(world.a.coordinator)
    url = reverse("marches:statement_list")

    def listed(**query: str) -> set[int]:
        response = client.get(url, query)
        assert response.status_code == 200
        return {s.pk for s in response.context["page_obj"].object_list}

    assert listed() == {mine.pk, theirs.pk}
    assert listed(vendor="ferme-voisine") == {theirs.pk}
    assert listed(status="draft") == {mine.pk}
    assert listed(program="programme-a", status="approved") == {theirs.pk}
    # A vendor page links to its statements before there are any.
    newcomer = VendorFactory(name="Ferme nouvelle", slug="ferme-nouvelle", market=world.a.market)
    empty = client.get(url, {"vendor": newcomer.slug})
    assert not empty.context["form"].errors
    assert listed(vendor=newcomer.slug) == set()
    bad = client.get(url, {"status": "inconnu"})
    assert "Ce statut n'existe pas." in text(bad)
    assert {s.pk for s in bad.context["page_obj"].object_list} == {mine.pk, theirs.pk}


# Scopes ----------------------------------------------------------------------------------------


def statement_urls(statement: Statement) -> dict[str, str]:
    return {
        name: reverse(f"marches:{name}", args=[statement.pk])
        for name in (
            "statement_detail",
            "statement_csv",
            "statement_pdf",
            "statement_approve",
            "statement_pay",
            "statement_discard",
        )
    }


@pytest.mark.django_db
def test_people_outside_the_scope_get_a_404_on_every_statement_page(
    client: Client, world: Any
) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)
    # Vendor a also sells at market b, which does not take program a: market b's manager
    # still sees nothing of it.
    world.a.vendor.markets.add(world.b.market)
    outsiders = {
        "manager of another market": world.b.manager,
        "coordinator of another program": world.b.coordinator,
        "vendor of another business": world.b.vendor_user,
        "intervenant": world.a.intervenant,
        "nobody": world.nobody,
    }

    for label, user in outsiders.items():
        client.force_login(user)
        for name, url in statement_urls(statement).items():
            assert client.get(url).status_code == 404, (label, name)
            assert client.post(url, {"reference": "VIR"}).status_code in {404, 405}, (label, name)
        listing = client.get(reverse("marches:statement_list"))
        assert not listing.context["page_obj"].object_list, label
        assert f'data-statement="{statement.pk}"' not in text(listing), label
        assert not statements_for(user).exists(), label
    statement.refresh_from_db()
    assert statement.status == Statement.Status.DRAFT


@pytest.mark.django_db
def test_a_vendor_reads_and_downloads_its_statements_but_never_approves_or_pays(
    client: Client, world: Any
) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)
    client.force_login(world.a.vendor_user)
    urls = statement_urls(statement)

    detail = client.get(urls["statement_detail"])
    assert detail.status_code == 200
    assert "Approuver" not in text(detail)
    assert client.get(urls["statement_csv"]).status_code == 200
    assert client.get(urls["statement_pdf"]).status_code == 200
    for name in ("statement_approve", "statement_discard", "statement_pay"):
        assert client.get(urls[name]).status_code == 403, name
        assert client.post(urls[name], {"reference": "VIR"}).status_code == 403, name
    assert client.get(reverse("marches:statement_create")).status_code == 404
    assert client.post(reverse("marches:statement_create"), form_values(world.a)).status_code == (
        404
    )
    statement.refresh_from_db()
    assert statement.status == Statement.Status.DRAFT
    assert Statement.objects.count() == 1
    assert not can_manage_statement(world.a.vendor_user, statement)
    listing = client.get(reverse("marches:statement_list"))
    assert {s.pk for s in listing.context["page_obj"].object_list} == {statement.pk}
    assert "Préparer un relevé" not in text(listing)


@pytest.mark.django_db
def test_who_sees_and_manages_a_statement(world: Any) -> None:
    redeem(world.a, "5.00", when=at(2))
    statement = make_statement(world.a)

    for user in (world.admin, world.a.coordinator, world.a.manager, world.a.vendor_user):
        assert list(statements_for(user)) == [statement], user
    for user in (world.admin, world.a.coordinator, world.a.manager):
        assert can_manage_statement(user, statement), user
    for user in (world.a.vendor_user, world.a.intervenant, world.b.manager, world.b.coordinator):
        assert not can_manage_statement(user, statement), user


# Bounded queries -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_list_takes_the_same_queries_for_one_statement_or_forty(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    with_local_currency(world.a)
    redeem(world.a, "5.00", when=at(2))
    make_statement(world.a)
    client.force_login(world.a.manager)
    url = reverse("marches:statement_list")
    client.get(url)  # warm the session and caches
    with django_assert_max_num_queries(30) as few:
        assert client.get(url).status_code == 200

    for index in range(39):
        vendor = VendorFactory(market=world.a.market, payout="local" if index % 2 else "dollars")
        redeem(world.a, "2.00", vendor=vendor, when=at(3))
        make_statement(world.a, vendor=vendor)

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.context["page_obj"].paginator.count == 40


@pytest.mark.django_db
def test_the_statement_page_takes_the_same_queries_for_one_line_or_forty(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    redeem(world.a, "5.00", when=at(2))
    small = make_statement(world.a, start=2, end=2)
    for index in range(40):
        redeem(world.a, "2.00", when=at(3, 8, index))
    large = make_statement(world.a, start=3, end=3)
    client.force_login(world.a.coordinator)
    client.get(reverse("marches:statement_detail", args=[small.pk]))  # warm up
    with django_assert_max_num_queries(30) as few:
        assert client.get(reverse("marches:statement_detail", args=[small.pk])).status_code == 200

    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("marches:statement_detail", args=[large.pk]))

    assert response.context["page_obj"].paginator.count == 40


# A race on PostgreSQL --------------------------------------------------------------------------


def run_at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in `count` threads released together (each its own connection)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [RuntimeError("did not run")] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported by the assertions
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def a_vendor_with_a_week_of_redemptions() -> tuple[Any, Vendor, Any, list[Redemption]]:
    program = ProgramFactory()
    market = MarketFactory(program=program)
    vendor = VendorFactory(market=market)
    coordinator = UserFactory()
    program.coordinators.add(coordinator)
    redemptions = []
    for index in range(60):
        coupon = CouponFactory(program=program, value=Decimal("1.00") + Decimal(index) / 100)
        verdict = redeem_coupon(
            code=coupon.code,
            vendor=vendor,
            market=market,
            client_id=uuid.uuid4(),
            scanned_at=at(1 + index % 6, 9, index),
        )
        assert verdict.redemption is not None
        redemptions.append(verdict.redemption)
    return program, vendor, coordinator, redemptions


def assert_each_redemption_on_exactly_one_statement(
    results: list[Any], redemptions: list[Redemption]
) -> None:
    made = [r for r in results if isinstance(r, Statement)]
    failures = [r for r in results if not isinstance(r, Statement)]
    assert made, results
    assert all(isinstance(f, StatementError) and f.code == "empty_period" for f in failures), (
        failures
    )
    assert Statement.objects.count() == len(made)
    on_statement = Redemption.objects.filter(pk__in=[r.pk for r in redemptions])
    assert not on_statement.filter(statement__isnull=True).exists()
    for statement in Statement.objects.all():
        lines = statement.redemptions.all()
        assert statement.redemption_count == lines.count()
        assert statement.total == lines.aggregate(total=Sum("value"))["total"]
    statements_total = Statement.objects.aggregate(total=Sum("total"))["total"]
    assert statements_total == sum((r.value for r in redemptions), Decimal("0.00"))


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_made_at_once_on_postgresql_share_out_every_redemption_exactly_once() -> None:
    assert connection.vendor == "postgresql"
    program, vendor, coordinator, redemptions = a_vendor_with_a_week_of_redemptions()

    results = run_at_once(
        8,
        lambda i: create_statement(
            vendor=vendor,
            program=program,
            period_start=day(6),
            period_end=day(1),
            created_by=coordinator,
        ),
    )

    assert_each_redemption_on_exactly_one_statement(results, redemptions)
    assert Statement.objects.count() == 1  # the same period: the first takes everything


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_statements_made_at_once_on_postgresql_never_share_a_redemption() -> None:
    assert connection.vendor == "postgresql"
    program, vendor, coordinator, redemptions = a_vendor_with_a_week_of_redemptions()
    periods = [(6, 1), (4, 1), (6, 3), (2, 1), (5, 5), (6, 1), (3, 2), (6, 4)]

    results = run_at_once(
        len(periods),
        lambda i: create_statement(
            vendor=vendor,
            program=program,
            period_start=day(periods[i][0]),
            period_end=day(periods[i][1]),
            created_by=coordinator,
        ),
    )

    assert_each_redemption_on_exactly_one_statement(results, redemptions)
