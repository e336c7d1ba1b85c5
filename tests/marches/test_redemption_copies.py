"""`Redemption.program` and `Redemption.household` are its coupon's, whichever way the
redemption was made.

The reports read a program's redemptions by the first (bench/reports.py), so a row with the
wrong program would move money from one program's report to another's; the impact report counts
the households that came back by the second. No CHECK can compare two
tables: `marches.redemptions._Attempt.redemption` is the one place a row is made, and these tests
go through every path that reaches it (the one-statement take on PostgreSQL and its SQLite
variant, the locked write, conflicts, take-overs, voided coupons, batches), then a property over
random histories of scans of two programs' coupons (of a household or bearer) at one market.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import F
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches import redemptions as redemptions_module
from marches.models import Redemption
from marches.redemptions import Scan, redeem_coupon, sync_scans, undo_redemption
from tests.factories import (
    CouponFactory,
    HouseholdFactory,
    MarketFactory,
    ProgramFactory,
    UserFactory,
    VendorFactory,
    make_device,
)

pytestmark = pytest.mark.django_db


def assert_every_program_is_its_coupons() -> None:
    wrong = Redemption.objects.exclude(program_id=F("coupon__program_id"))
    assert list(wrong.values_list("pk", "program_id", "coupon__program_id")) == []
    # NULL = NULL is not true in SQL: a bearer coupon's redemption has no household either.
    wrong = Redemption.objects.exclude(household_id=F("coupon__household_id")).exclude(
        household__isnull=True, coupon__household__isnull=True
    )
    assert list(wrong.values_list("pk", "household_id", "coupon__household_id")) == []


def migrate_to_the_latest() -> None:
    """Back to every app's latest migration, as the other tests expect the schema."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def household_coupon(program: Any) -> Coupon:
    household = HouseholdFactory(program=program)
    return CouponFactory(program=program, household=household)


def shared_market() -> tuple[Any, Any, Any, Any]:
    """Two programs whose coupons are both taken at one market, by one vendor."""
    first, second = ProgramFactory(), ProgramFactory()
    market = MarketFactory(program=first)
    market.programs.add(second)
    vendor = VendorFactory(market=market)
    return first, second, market, vendor


def offline(coupon: Coupon, minutes_ago: int) -> Scan:
    return Scan(
        code=qr_text_for(coupon),
        client_id=uuid.uuid4(),
        scanned_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
        offline=True,
    )


def test_an_accepted_scan_takes_its_coupons_program_and_household() -> None:
    _first, second, market, vendor = shared_market()
    coupon = household_coupon(second)

    verdict = redeem_coupon(code=coupon.code, vendor=vendor, market=market, client_id=uuid.uuid4())

    assert verdict.status == "accepted"
    assert verdict.redemption is not None
    assert verdict.redemption.program_id == second.pk
    assert verdict.redemption.household_id == coupon.household_id
    assert Redemption.objects.get().program_id == second.pk


@pytest.mark.postgres
def test_the_one_statement_take_on_postgresql_records_the_program_and_household() -> None:
    assert connection.vendor == "postgresql"
    _first, second, market, vendor = shared_market()
    coupon = household_coupon(second)

    verdict = redeem_coupon(
        code=qr_text_for(coupon), vendor=vendor, market=market, client_id=uuid.uuid4()
    )

    assert verdict.status == "accepted"
    assert Redemption.objects.values_list("program_id", "household_id").get() == (
        second.pk,
        coupon.household_id,
    )


def test_the_locked_write_records_the_program_and_household(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A coupon read as redeemed, then undone before the write: the locked path takes it."""
    _first, second, market, vendor = shared_market()
    coupon = household_coupon(second)
    stale = Coupon.objects.get(pk=coupon.pk)
    stale.status = Coupon.Status.REDEEMED
    monkeypatch.setattr(redemptions_module, "resolve_scanned_code", lambda code: stale)

    verdict = redeem_coupon(code=coupon.code, vendor=vendor, market=market, client_id=uuid.uuid4())

    assert verdict.status == "accepted"
    assert Redemption.objects.values_list("program_id", "household_id").get() == (
        second.pk,
        coupon.household_id,
    )


def test_conflicts_and_take_overs_record_the_program_and_household() -> None:
    _first, second, market, vendor = shared_market()
    other_vendor = VendorFactory(market=market)
    device, _token = make_device(vendor, market)
    other_device, _token = make_device(other_vendor, market)
    coupon = household_coupon(second)

    # A later offline scan arrives first; the earlier one takes the acceptance over; a third
    # scan is a conflict.
    sync_scans(scans=[offline(coupon, 10)], device=other_device)
    sync_scans(scans=[offline(coupon, 20)], device=device)
    sync_scans(scans=[offline(coupon, 5)], device=device)

    statuses = sorted(Redemption.objects.values_list("status", flat=True))
    assert statuses == ["accepted", "conflict", "conflict"]
    assert set(Redemption.objects.values_list("program_id", "household_id")) == {
        (second.pk, coupon.household_id)
    }


def test_a_coupon_voided_after_an_offline_scan_records_the_program_and_household() -> None:
    _first, second, market, vendor = shared_market()
    device, _token = make_device(vendor, market)
    coupon = household_coupon(second)
    scan = offline(coupon, 30)
    Coupon.objects.filter(pk=coupon.pk).update(status="void", voided_at=timezone.now())

    [verdict] = sync_scans(scans=[scan], device=device)

    assert verdict.status == "conflict"
    assert Redemption.objects.values_list("program_id", "household_id").get() == (
        second.pk,
        coupon.household_id,
    )


SCANS = st.lists(
    st.tuples(
        st.integers(0, 3),  # which coupon (0 and 1: the first program's; 2 and 3: the second's)
        st.booleans(),  # offline
        st.integers(0, 120),  # minutes ago
        st.booleans(),  # the second device
        st.booleans(),  # then undo it
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=SCANS)
def test_whatever_the_history_every_redemption_has_its_coupons_program_and_household(
    history: list[tuple[int, bool, int, bool, bool]],
) -> None:
    Redemption.objects.all().delete()
    first, second, market, vendor = shared_market()
    other_vendor = VendorFactory(market=market)
    devices = [make_device(vendor, market)[0], make_device(other_vendor, market)[0]]
    # A bearer coupon and a household's in each program.
    coupons = [
        CouponFactory(program=first),
        household_coupon(first),
        CouponFactory(program=second),
        household_coupon(second),
    ]
    user = UserFactory()
    for which, is_offline, minutes_ago, second_device, undo in history:
        device = devices[second_device]
        coupon = coupons[which]
        verdict = redeem_coupon(
            code=qr_text_for(coupon),
            vendor=device.vendor,
            market=market,
            client_id=uuid.uuid4(),
            scanned_at=timezone.now() - datetime.timedelta(minutes=minutes_ago),
            device=device,
            offline=is_offline,
        )
        if undo and verdict.status == "accepted" and verdict.redemption is not None:
            undo_redemption(redemption=verdict.redemption, undone_by=user)

    assert_every_program_is_its_coupons()
    assert (
        Redemption.objects.filter(program=first).count()
        == Redemption.objects.filter(coupon__program=first).count()
    )


def old_redemption(before: list[tuple[str, str]], coupon: Coupon, **values: Any) -> None:
    """A redemption of `coupon` written, at migration `before`, through the model as it was
    then; the schema goes back to the latest migration, which fills in what was missing."""
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps.get_model("marches", "Redemption")
        old.objects.create(
            coupon_id=coupon.pk,
            client_id=uuid.uuid4(),
            value=coupon.value,
            scanned_at=timezone.now(),
            **values,
        )
    finally:
        migrate_to_the_latest()


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_program_of_existing_redemptions() -> None:
    """marches 0004 adds the column and copies each coupon's program in one UPDATE (0005, the
    household, runs after it)."""
    _first, program, market, vendor = shared_market()
    coupon = CouponFactory(
        program=program, status=Coupon.Status.REDEEMED, redeemed_at=timezone.now()
    )

    old_redemption(
        [("marches", "0003_undone_label")], coupon, vendor_id=vendor.pk, market_id=market.pk
    )

    assert Redemption.objects.values_list("program_id", flat=True).get() == program.pk
    assert_every_program_is_its_coupons()


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_household_of_existing_redemptions() -> None:
    """marches 0005 adds the column and copies each coupon's household in one UPDATE; a bearer
    coupon's redemption keeps none."""
    _first, program, market, vendor = shared_market()
    held = household_coupon(program)
    bearer = CouponFactory(program=program)

    for coupon in (held, bearer):
        old_redemption(
            [("marches", "0004_redemption_program")],
            coupon,
            program_id=program.pk,
            vendor_id=vendor.pk,
            market_id=market.pk,
        )

    copied = dict(Redemption.objects.values_list("coupon_id", "household_id"))
    assert copied == {held.pk: held.household_id, bearer.pk: None}
    assert held.household_id is not None
    assert_every_program_is_its_coupons()
