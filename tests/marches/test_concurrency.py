"""Invariant 1 under real concurrency: a coupon is redeemed at most once.

Each thread has its own database connection. On PostgreSQL this is the real race (the
conditional UPDATE and the partial unique index decide); on SQLite the writers queue up.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections

from coupons.models import Coupon
from marches.models import Redemption
from marches.redemptions import Verdict, redeem_coupon
from tests.factories import CouponFactory, MarketFactory, ProgramFactory, VendorFactory

THREADS = 20


def run_at_once(count: int, work: Callable[[int], Verdict]) -> list[Verdict | BaseException]:
    barrier = threading.Barrier(count)
    results: list[Verdict | BaseException] = [RuntimeError("did not run")] * count

    def target(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as error:  # reported by the assertions below
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def the_world() -> tuple[Coupon, Any, Any]:
    program = ProgramFactory()
    market = MarketFactory(program=program)
    vendor = VendorFactory(market=market)
    return CouponFactory(program=program), vendor, market


def assert_one_accepted(results: list[Verdict | BaseException], coupon: Coupon) -> None:
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    outcomes = Counter(
        r.status if r.status == "accepted" else r.reason for r in results if isinstance(r, Verdict)
    )
    assert outcomes == {"accepted": 1, "already_redeemed": THREADS - 1}
    assert Redemption.objects.filter(coupon=coupon).count() == 1
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED


def twenty_scanners_race(coupon: Coupon, vendor: Any, market: Any) -> None:
    results = run_at_once(
        THREADS,
        lambda i: redeem_coupon(
            code=coupon.code, vendor=vendor, market=market, client_id=uuid.uuid4()
        ),
    )
    assert_one_accepted(results, coupon)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_twenty_scanners_on_postgresql_redeem_a_coupon_exactly_once() -> None:
    assert connection.vendor == "postgresql"
    twenty_scanners_race(*the_world())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_scan_sent_five_times_at_once_on_postgresql_writes_one_row() -> None:
    assert connection.vendor == "postgresql"
    coupon, vendor, market = the_world()
    client_id = uuid.uuid4()

    results = run_at_once(
        5,
        lambda i: redeem_coupon(
            code=coupon.code, vendor=vendor, market=market, client_id=client_id
        ),
    )

    assert all(isinstance(r, Verdict) and r.status == "accepted" for r in results), results
    assert Redemption.objects.filter(coupon=coupon).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_database_refuses_a_second_accepted_redemption_on_postgresql() -> None:
    from django.db import IntegrityError
    from django.utils import timezone

    assert connection.vendor == "postgresql"
    coupon, vendor, market = the_world()
    redeem_coupon(code=coupon.code, vendor=vendor, market=market, client_id=uuid.uuid4())

    with pytest.raises(IntegrityError):
        Redemption.objects.create(
            coupon=coupon,
            program_id=coupon.program_id,
            vendor=vendor,
            market=market,
            client_id=uuid.uuid4(),
            value=coupon.value,
            scanned_at=timezone.now(),
        )


@pytest.mark.django_db(transaction=True)
def test_on_sqlite_twenty_threads_never_redeem_twice() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite variant of the race")
    twenty_scanners_race(*the_world())


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_five_devices_syncing_one_coupon_at_once_give_one_acceptance_the_earliest() -> None:
    import datetime

    from django.utils import timezone

    from marches.redemptions import Scan, sync_scans
    from tests.factories import make_device

    assert connection.vendor == "postgresql"
    coupon, _vendor, market = the_world()
    devices = [make_device(VendorFactory(market=market), market)[0] for _ in range(5)]
    start = timezone.now() - datetime.timedelta(hours=1)
    scans = [
        Scan(
            code=coupon.code,
            client_id=uuid.uuid4(),
            scanned_at=start + datetime.timedelta(minutes=i),
            offline=True,
        )
        for i in range(5)
    ]

    results = run_at_once(5, lambda i: sync_scans(scans=[scans[i]], device=devices[i])[0])

    assert not [r for r in results if isinstance(r, BaseException)], results
    rows = {r.client_id: r.status for r in Redemption.objects.filter(coupon=coupon)}
    assert rows[scans[0].client_id] == Redemption.Status.ACCEPTED
    assert sorted(rows.values()) == ["accepted"] + ["conflict"] * 4
