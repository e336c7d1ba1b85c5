"""Offline scanners: batches sent in any order, any number of times, by several devices, mixed
with online scans, leave one ledger: per coupon, the earliest food-giving scan is accepted and
every other one is a conflict in the review queue; nothing is paid twice by itself."""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches.models import Redemption, ScanRejection
from marches.redemptions import (
    RedemptionError,
    Scan,
    decide_conflict,
    redeem_coupon,
    sync_scans,
    undo_redemption,
)
from tests.factories import CouponFactory, MarketFactory, ProgramFactory, VendorFactory, make_device

pytestmark = pytest.mark.django_db

HOUR_AGO = datetime.timedelta(hours=1)


def offline_scan(coupon: Coupon, minutes: int, **extra: Any) -> Scan:
    return Scan(
        code=qr_text_for(coupon),
        client_id=uuid.uuid4(),
        scanned_at=timezone.now() - HOUR_AGO + datetime.timedelta(minutes=minutes),
        offline=True,
        **extra,
    )


def ledger() -> set[tuple[str, str, str]]:
    """(coupon serial, client_id, status) of every food-giving scan."""
    return {
        (serial, str(client_id), status)
        for serial, client_id, status in Redemption.objects.values_list(
            "coupon__serial", "client_id", "status"
        )
    }


# Examples -------------------------------------------------------------------------------------


def test_two_devices_offline_give_one_accepted_scan_and_one_conflict(world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    other_vendor = VendorFactory(market=world.a.market)
    other_device, _token = make_device(other_vendor, world.a.market)
    first = offline_scan(coupon, 10)
    later = offline_scan(coupon, 20)

    # The later scan arrives first, the earlier one after it.
    [late_answer] = sync_scans(scans=[later], device=other_device)
    [early_answer] = sync_scans(scans=[first], device=world.a.device)

    assert late_answer.status == "accepted"
    assert early_answer.status == "accepted"
    rows = {row.client_id: row for row in Redemption.objects.all()}
    assert rows[first.client_id].status == Redemption.Status.ACCEPTED
    assert rows[later.client_id].status == Redemption.Status.CONFLICT
    # Replaying the later scan now tells its vendor that it is under review.
    [replay] = sync_scans(scans=[later], device=other_device)
    assert (replay.status, replay.reason, replay.replayed) == ("conflict", "in_review", True)
    assert "la coordination décidera" in replay.detail


def test_an_online_scan_of_a_coupon_already_redeemed_is_refused_not_a_conflict(
    world: Any,
) -> None:
    coupon = CouponFactory(program=world.a.program)
    sync_scans(scans=[offline_scan(coupon, 5)], device=world.a.device)

    verdict = redeem_coupon(
        code=coupon.code,
        vendor=world.a.vendor,
        market=world.a.market,
        client_id=uuid.uuid4(),
    )

    assert (verdict.status, verdict.reason) == ("rejected", "already_redeemed")
    assert Redemption.objects.filter(status=Redemption.Status.CONFLICT).count() == 0


def test_an_offline_scan_is_judged_on_the_day_it_was_made(world: Any) -> None:
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    coupon = CouponFactory(
        program=world.a.program,
        valid_from=yesterday - datetime.timedelta(days=5),
        valid_until=yesterday,
    )
    scan = Scan(
        code=qr_text_for(coupon),
        client_id=uuid.uuid4(),
        scanned_at=timezone.now() - datetime.timedelta(days=1),
        offline=True,
    )

    [answer] = sync_scans(scans=[scan], device=world.a.device)

    assert answer.status == "accepted"
    # The same coupon scanned today would be expired.
    later = redeem_coupon(
        code=CouponFactory(
            program=world.a.program, valid_from=coupon.valid_from, valid_until=yesterday
        ).code,
        vendor=world.a.vendor,
        market=world.a.market,
        client_id=uuid.uuid4(),
    )
    assert later.reason == "expired"


def test_a_coupon_voided_after_an_offline_scan_goes_to_review(world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    scan = offline_scan(coupon, 5)
    Coupon.objects.filter(pk=coupon.pk).update(status="void", voided_at=timezone.now())

    [answer] = sync_scans(scans=[scan], device=world.a.device)

    assert (answer.status, answer.reason) == ("conflict", "void")
    assert Redemption.objects.get().status == Redemption.Status.CONFLICT


def test_an_acceptance_on_a_statement_is_never_taken_over(world: Any) -> None:
    from marches.models import Statement

    coupon = CouponFactory(program=world.a.program)
    later = offline_scan(coupon, 20)
    sync_scans(scans=[later], device=world.a.device)
    statement = Statement.objects.create(
        program=world.a.program,
        vendor=world.a.vendor,
        period_start=timezone.localdate(),
        period_end=timezone.localdate(),
        total=coupon.value,
        payout="dollars",
        created_by=world.a.coordinator,
    )
    Redemption.objects.update(statement=statement)
    other_device, _token = make_device(VendorFactory(market=world.a.market), world.a.market)

    [earlier] = sync_scans(scans=[offline_scan(coupon, 10)], device=other_device)

    assert earlier.status == "conflict"
    assert Redemption.objects.get(client_id=later.client_id).status == Redemption.Status.ACCEPTED


def test_undo_within_the_window_frees_the_coupon_or_promotes_the_waiting_scan(
    world: Any,
) -> None:
    coupon = CouponFactory(program=world.a.program)
    verdict = redeem_coupon(
        code=coupon.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
    )
    assert verdict.redemption is not None

    undone = undo_redemption(redemption=verdict.redemption, undone_by=world.a.vendor_user)

    coupon.refresh_from_db()
    assert undone.status == Redemption.Status.UNDONE and undone.decided_by == world.a.vendor_user
    assert (coupon.status, coupon.redeemed_at) == ("issued", None)
    # It can be spent again.
    again = redeem_coupon(
        code=coupon.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
    )
    assert again.status == "accepted"

    # With a second offline scan waiting in review, undoing makes that one the accepted scan.
    device_b, _token = make_device(VendorFactory(market=world.a.market), world.a.market)
    later = Scan(
        code=qr_text_for(coupon), client_id=uuid.uuid4(), scanned_at=timezone.now(), offline=True
    )
    [waiting] = sync_scans(scans=[later], device=device_b)
    assert waiting.status == "conflict"
    assert again.redemption is not None
    undo_redemption(redemption=again.redemption, undone_by=world.a.vendor_user)
    assert Redemption.objects.get(pk=waiting.redemption.pk).status == Redemption.Status.ACCEPTED
    assert Coupon.objects.get(pk=coupon.pk).status == "redeemed"


def test_undo_after_the_window_is_refused(world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    verdict = redeem_coupon(
        code=coupon.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
    )
    assert verdict.redemption is not None

    with pytest.raises(RedemptionError) as error:
        undo_redemption(
            redemption=verdict.redemption,
            undone_by=world.a.vendor_user,
            now=timezone.now() + datetime.timedelta(minutes=6),
        )

    assert error.value.code == "undo_window_passed"
    assert Coupon.objects.get(pk=coupon.pk).status == "redeemed"


def test_a_conflict_is_decided_once_with_a_reason(world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)
    device_b, _token = make_device(VendorFactory(market=world.a.market), world.a.market)
    sync_scans(scans=[offline_scan(coupon, 1)], device=world.a.device)
    [second] = sync_scans(scans=[offline_scan(coupon, 2)], device=device_b)
    assert second.redemption is not None

    with pytest.raises(RedemptionError) as no_reason:
        decide_conflict(
            redemption=second.redemption, honour=True, reason=" ", decided_by=world.a.coordinator
        )
    honoured = decide_conflict(
        redemption=second.redemption,
        honour=True,
        reason="Deux kiosques, même famille",
        decided_by=world.a.coordinator,
    )
    with pytest.raises(RedemptionError) as twice:
        decide_conflict(
            redemption=second.redemption,
            honour=False,
            reason="Changement d'avis",
            decided_by=world.a.coordinator,
        )

    assert no_reason.value.code == "reason_required"
    assert twice.value.code == "already_decided"
    assert honoured.status == Redemption.Status.HONOURED
    assert set(Redemption.objects.values_list("status", flat=True)) == {"accepted", "honoured"}


def test_the_batch_api_answers_each_item_in_order_and_replays_the_same(
    client: Client, world: Any
) -> None:
    coupons = CouponFactory.create_batch(2, program=world.a.program)
    items = [
        {
            "code": qr_text_for(coupon),
            "client_id": str(uuid.uuid4()),
            "scanned_at": (timezone.now() - datetime.timedelta(minutes=30 - i)).isoformat(),
        }
        for i, coupon in enumerate(coupons)
    ]
    items.append({"code": "ABCD-EFGH-JKMN-PQ", "client_id": str(uuid.uuid4())})
    headers = {"Authorization": f"Bearer {world.a.token}"}

    first = client.post(
        "/api/v1/redemptions/batch",
        {"items": items},
        content_type="application/json",
        headers=headers,
    )
    again = client.post(
        "/api/v1/redemptions/batch",
        {"items": list(reversed(items))},
        content_type="application/json",
        headers=headers,
    )

    assert first.status_code == again.status_code == 200
    results = first.json()["results"]
    assert [r["client_id"] for r in results] == [item["client_id"] for item in items]
    assert [(r["status"], r["http_status"]) for r in results] == [
        ("accepted", 201),
        ("accepted", 201),
        ("rejected", 422),
    ]
    replayed = {r["client_id"]: r for r in again.json()["results"]}
    assert all(replayed[item["client_id"]]["replayed"] for item in items)
    assert Redemption.objects.count() == 2 and ScanRejection.objects.count() == 1


def test_the_batch_api_refuses_an_oversized_batch_and_writes_nothing(
    client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    items = [{"code": coupon.code, "client_id": str(uuid.uuid4())} for _ in range(501)]
    response = client.post(
        "/api/v1/redemptions/batch",
        {"items": items},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.a.token}"},
    )
    assert response.status_code == 422
    assert response.json()["reason"] == "invalid_request"
    assert not Redemption.objects.exists()


# The ledger does not depend on how the scans arrive ------------------------------------------


@dataclass(frozen=True)
class Setting:
    coupons: list[Coupon]
    devices: list[Any]


def the_setting() -> Setting:
    program = ProgramFactory()
    market = MarketFactory(program=program)
    devices = [make_device(VendorFactory(market=market), market)[0] for _ in range(5)]
    return Setting(coupons=CouponFactory.create_batch(4, program=program), devices=devices)


def test_duplicated_and_reordered_uploads_give_the_ledger_of_one_clean_upload(db: Any) -> None:
    setting = the_setting()

    @st.composite
    def plans(draw: Any) -> tuple[list[tuple[int, Scan]], list[list[tuple[int, Scan]]]]:
        scans = [
            (
                draw(st.integers(0, 4)),
                offline_scan(
                    setting.coupons[draw(st.integers(0, 3))], minutes=draw(st.integers(0, 50))
                ),
            )
            for _ in range(draw(st.integers(1, 10)))
        ]
        # The same scans in pieces, shuffled, some sent several times.
        pieces = draw(
            st.lists(st.lists(st.sampled_from(scans), min_size=1, max_size=6), max_size=6)
        )
        return scans, [*pieces, draw(st.permutations(scans))]

    def upload(pieces: list[list[tuple[int, Scan]]]) -> set[tuple[str, str, str]]:
        with transaction.atomic():
            for piece in pieces:
                by_device: dict[int, list[Scan]] = defaultdict(list)
                for device, scan in piece:
                    by_device[device].append(scan)
                for device, scans in by_device.items():
                    sync_scans(scans=scans, device=setting.devices[device])
            result = ledger()
            transaction.set_rollback(True)
        return result

    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(plans())
    def check(plan: tuple[list[tuple[int, Scan]], list[list[tuple[int, Scan]]]]) -> None:
        scans, pieces = plan
        clean = upload([sorted(scans, key=lambda item: item[1].scanned_at)])
        assert upload(pieces) == clean

    check()


class SyncMachine(RuleBasedStateMachine):
    """Up to five devices scan four coupons offline, send their queues in pieces, again and in
    any order, while vendors also scan online; the ledger stays right after every step."""

    queued = Bundle("queued")

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.setting = the_setting()
        # What the server has received, and which online scans were accepted when they came.
        self.received: dict[uuid.UUID, Scan] = {}
        self.online_accepted: dict[uuid.UUID, Coupon] = {}
        self.minute = 0

    @initialize()
    def nothing_yet(self) -> None:
        assert not Redemption.objects.exists()

    @rule(
        target=queued,
        device=st.integers(0, 4),
        coupon=st.integers(0, 3),
        minutes=st.integers(0, 50),
    )
    def scan_offline(self, device: int, coupon: int, minutes: int) -> tuple[int, Scan]:
        return device, offline_scan(self.setting.coupons[coupon], minutes)

    @rule(items=st.lists(queued, min_size=1, max_size=5), data=st.data())
    def sync_some(self, items: list[tuple[int, Scan]], data: Any) -> None:
        device = data.draw(st.sampled_from([d for d, _scan in items]))
        scans = data.draw(st.permutations([scan for d, scan in items if d == device]))
        answers = sync_scans(scans=scans, device=self.setting.devices[device])
        for scan, answer in zip(scans, answers, strict=True):
            assert answer.status in {"accepted", "conflict"}, answer
            self.received[scan.client_id] = scan

    @rule(device=st.integers(0, 4), coupon=st.integers(0, 1))
    def scan_online(self, device: int, coupon: int) -> None:
        vendor_device = self.setting.devices[device]
        target = self.setting.coupons[coupon]
        client_id = uuid.uuid4()
        verdict = redeem_coupon(
            code=target.code,
            vendor=vendor_device.vendor,
            market=vendor_device.market,
            client_id=client_id,
            device=vendor_device,
        )
        already = Redemption.objects.filter(
            coupon=target, status=Redemption.Status.ACCEPTED
        ).exclude(client_id=client_id)
        if verdict.status == "accepted":
            assert not already.exists()
            self.online_accepted[client_id] = target
        else:
            assert verdict.reason == "already_redeemed"

    @invariant()
    def one_accepted_scan_per_coupon_the_earliest(self) -> None:
        for coupon in self.setting.coupons:
            rows = list(
                Redemption.objects.filter(coupon=coupon).values_list(
                    "status", "scanned_at", "client_id"
                )
            )
            accepted = [row for row in rows if row[0] == Redemption.Status.ACCEPTED]
            assert len(accepted) <= 1
            status = Coupon.objects.get(pk=coupon.pk).status
            assert (status == "redeemed") == bool(accepted)
            if accepted:
                earliest = min(rows, key=lambda row: (row[1], str(row[2])))
                assert earliest[0] == Redemption.Status.ACCEPTED
            # Every other food-giving scan is in the review queue: none is paid by itself.
            assert all(row[0] in {"accepted", "conflict"} for row in rows)

    @invariant()
    def every_received_scan_is_a_row(self) -> None:
        rows = set(Redemption.objects.values_list("client_id", flat=True))
        assert set(self.received) | set(self.online_accepted) == rows

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)


def test_the_ledger_stays_right_whatever_devices_send_and_when(db: Any) -> None:
    run_state_machine_as_test(
        SyncMachine,
        settings=settings(
            max_examples=60,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
