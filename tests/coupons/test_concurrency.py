"""Invariant 3 under real concurrency: issuing never goes past the program's funds, and one
request key issues once, however many requests arrive at the same moment (PostgreSQL)."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from coupons.models import Coupon, IssuanceBatch
from coupons.services import BearerRequest, IssuanceError, issue_bearer_batch
from financement.selectors import program_funds
from tests.factories import OrganizationFactory, ProgramFactory, UserFactory
from tests.marches.test_concurrency import run_at_once

THREADS = 8

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def setting(budget: str) -> tuple[BearerRequest, Any]:
    program = ProgramFactory(budget=Decimal(budget))
    organization = OrganizationFactory(program=program)
    request = BearerRequest(
        program=program,
        organization=organization,
        counts={Decimal("5.00"): 4},  # 20 $ a batch
        valid_from=timezone.localdate(),
        valid_until=timezone.localdate() + datetime.timedelta(days=30),
    )
    return request, UserFactory()


def outcome(request: BearerRequest, user: Any, key: uuid.UUID) -> str:
    try:
        batch = issue_bearer_batch(request=request, issued_by=user, idempotency_key=key)
    except IssuanceError as error:
        return error.code
    return f"batch {batch.pk}"


def test_concurrent_batches_never_issue_past_the_funds() -> None:
    assert connection.vendor == "postgresql"
    request, user = setting("50.00")  # room for two batches of 20 $, not three

    results = run_at_once(THREADS, lambda i: outcome(request, user, uuid.uuid4()))  # type: ignore[arg-type, return-value]

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert sorted(r.startswith("batch") for r in results).count(True) == 2
    assert [r for r in results if not r.startswith("batch")] == ["insufficient_funds"] * 6
    total = sum(c.value for c in Coupon.objects.filter(program=request.program))
    assert total == Decimal("40.00") <= program_funds(request.program)


def test_the_same_key_sent_at_once_issues_one_batch() -> None:
    assert connection.vendor == "postgresql"
    request, user = setting("1000.00")
    key = uuid.uuid4()

    results = run_at_once(THREADS, lambda i: outcome(request, user, key))  # type: ignore[arg-type, return-value]

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert len(set(results)) == 1
    assert IssuanceBatch.objects.filter(idempotency_key=key).count() == 1
    assert Coupon.objects.filter(program=request.program).count() == 4
