"""The solidarity sale under real concurrency (PostgreSQL): buyers who press "pay" at the same
moment never share the last subsidy or the last funds, and a payment delivered five times at
once issues one batch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from coupons.models import Coupon, CouponSale, IssuanceBatch
from coupons.sale import SaleError
from coupons.services import committed_value
from financement.models import LedgerEntry
from financement.selectors import program_funds
from tests.coupons.test_sale import sale_program, session_of, start
from tests.financement.stripe_fakes import (
    FakeStripe,
    completed,
    post_event,
    signed_event,
)
from tests.marches.test_concurrency import run_at_once

THREADS = 5

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def attempt(program: Any) -> str:
    try:
        sale = start(program)
    except SaleError as error:
        return error.code
    return f"sale {sale.pk}"


def test_five_buyers_at_once_for_the_last_pack_of_subsidy_make_one_pending_sale(
    fake_stripe: FakeStripe,
) -> None:
    assert connection.vendor == "postgresql"
    program = sale_program(sale_subsidy_cap=Decimal("15.00"))  # one pack of 10 $, not two

    results = run_at_once(THREADS, lambda i: attempt(program))  # type: ignore[arg-type, return-value]

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert [r for r in results if not str(r).startswith("sale ")] == ["sale_sold_out"] * (
        THREADS - 1
    ), results
    assert CouponSale.objects.filter(status=CouponSale.Status.PENDING).count() == 1


def test_five_buyers_at_once_never_reserve_past_the_funds(fake_stripe: FakeStripe) -> None:
    # 25 $ of funds, a cap far above: two packs of 10 $ of subsidy fit, not three.
    program = sale_program(budget=Decimal("25.00"), sale_subsidy_cap=Decimal("1000.00"))

    results = run_at_once(THREADS, lambda i: attempt(program))  # type: ignore[arg-type, return-value]

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert [r for r in results if not str(r).startswith("sale ")] == ["insufficient_funds"] * 3
    assert CouponSale.objects.filter(status=CouponSale.Status.PENDING).count() == 2


def test_a_payment_delivered_five_times_at_once_issues_one_batch(
    fake_stripe: FakeStripe,
) -> None:
    program = sale_program()
    sale = start(program)
    event = signed_event("checkout.session.completed", completed(session_of(fake_stripe, sale)))

    def deliver(_index: int) -> str:
        return post_event(Client(), event).content.decode()

    results = run_at_once(THREADS, deliver)  # type: ignore[arg-type]

    assert sorted(map(str, results)) == ["already received"] * (THREADS - 1) + ["applied"]
    assert IssuanceBatch.objects.count() == 1
    assert Coupon.objects.count() == 6
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.SALE).count() == 1
    assert committed_value(program=program) <= program_funds(program)
