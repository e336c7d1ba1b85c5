"""A scan whose connection drops mid-request, then is sent again with the same client_id, ends
with exactly one redemption (invariant 2, issue 8 part 9).

A real server (pytest-django's live_server) and a raw socket client that sends the whole request
and hangs up with a reset before reading a byte of the answer. Two orders:

- dropped after the commit: the server writes the redemption, the phone never hears it;
- dropped before the commit: the server's database connection breaks as the redemption is
  written (on PostgreSQL its backend is really terminated; on SQLite the driver's error is
  raised in place of the INSERT), so nothing is committed and the phone hears nothing either.

Either way the phone's retry, with the same client_id, must leave one redemption per scan.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.signals import request_finished, request_started
from django.db import OperationalError, connection

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches.models import Redemption
from tests.factories import CouponFactory, MarketFactory, ProgramFactory, VendorFactory, make_device

pytestmark = pytest.mark.django_db(transaction=True)

SERVER_TIMEOUT = 20  # seconds: a request the server has not finished by then fails the test


def hang_up_after_sending(url: str, path: str, token: str, body: dict[str, Any]) -> None:
    """Send a whole POST, then drop the connection (RST) without reading the answer."""
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection((host, int(port)), timeout=5)
    # Linger on, for 0 seconds: close() resets the connection instead of closing it cleanly.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.sendall(head + data)
    sock.close()


def post(url: str, path: str, token: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SERVER_TIMEOUT) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


class ServerRequests:
    """Follows the requests the live server handles (signals sent in its thread), and can break
    the database connection of the next one as it writes a redemption."""

    def __init__(self) -> None:
        self.finished = threading.Event()
        self.faults: list[Callable[..., Any]] = []
        self.broken = 0

    def started(self, **kwargs: Any) -> None:
        self.finished.clear()
        if self.faults:
            connection.execute_wrappers.append(self.faults.pop())

    def ended(self, **kwargs: Any) -> None:
        connection.execute_wrappers[:] = [
            w for w in connection.execute_wrappers if w is not self._break
        ]
        self.finished.set()

    def break_connection_on_redemption(self, after: int = 0) -> None:
        """The next request's database connection breaks at its (after+1)-th redemption write."""
        self.writes_before_fault = after
        self.faults.append(self._break)

    def _break(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, ctx: Any
    ) -> Any:
        writes_redemption = "INSERT INTO" in sql and Redemption._meta.db_table in sql
        if not writes_redemption or self.broken:
            return execute(sql, params, many, ctx)
        if self.writes_before_fault:
            self.writes_before_fault -= 1
            return execute(sql, params, many, ctx)
        self.broken += 1
        if connection.vendor == "postgresql":
            # The server's backend dies before the INSERT reaches it, its transaction with it.
            return execute("SELECT pg_terminate_backend(pg_backend_pid())", None, False, ctx)
        raise OperationalError("the database connection broke (simulated)")

    def wait(self) -> None:
        assert self.finished.wait(SERVER_TIMEOUT), "the server did not finish the request"


@pytest.fixture
def server() -> Iterator[ServerRequests]:
    tracker = ServerRequests()
    request_started.connect(tracker.started, weak=False)
    request_finished.connect(tracker.ended, weak=False)
    try:
        yield tracker
    finally:
        request_started.disconnect(tracker.started)
        request_finished.disconnect(tracker.ended)


@pytest.fixture
def scanner() -> tuple[Any, str]:
    program = ProgramFactory()
    market = MarketFactory(program=program)
    vendor = VendorFactory(market=market)
    _device, token = make_device(vendor, market)
    return program, token


def scan_of(coupon: Coupon) -> dict[str, Any]:
    return {"code": qr_text_for(coupon), "client_id": str(uuid.uuid4())}


def assert_one_redemption_each(coupons: list[Any], scans: list[dict[str, Any]]) -> None:
    for coupon, scan in zip(coupons, scans, strict=True):
        rows = Redemption.objects.filter(coupon=coupon)
        assert [str(row.client_id) for row in rows] == [scan["client_id"]]
        coupon.refresh_from_db()
        assert coupon.status == Coupon.Status.REDEEMED


def test_a_redemption_dropped_after_its_commit_is_replayed_on_retry(
    live_server: Any, server: ServerRequests, scanner: tuple[Any, str]
) -> None:
    program, token = scanner
    coupon = CouponFactory(program=program)
    scan = scan_of(coupon)

    hang_up_after_sending(live_server.url, "/api/v1/redemptions", token, scan)
    server.wait()
    assert Redemption.objects.filter(coupon=coupon).count() == 1  # committed, never answered

    status, body = post(live_server.url, "/api/v1/redemptions", token, scan)

    assert (status, body["status"], body["replayed"]) == (201, "accepted", True)
    assert_one_redemption_each([coupon], [scan])


def test_a_redemption_dropped_before_its_commit_is_redeemed_on_retry(
    live_server: Any, server: ServerRequests, scanner: tuple[Any, str]
) -> None:
    program, token = scanner
    coupon = CouponFactory(program=program)
    scan = scan_of(coupon)
    server.break_connection_on_redemption()

    hang_up_after_sending(live_server.url, "/api/v1/redemptions", token, scan)
    server.wait()
    assert server.broken == 1
    assert not Redemption.objects.filter(coupon=coupon).exists()  # nothing committed
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED

    status, body = post(live_server.url, "/api/v1/redemptions", token, scan)

    assert (status, body["status"], body["replayed"]) == (201, "accepted", False)
    assert_one_redemption_each([coupon], [scan])


def test_a_sync_dropped_after_its_commit_is_replayed_on_retry(
    live_server: Any, server: ServerRequests, scanner: tuple[Any, str]
) -> None:
    program, token = scanner
    coupons = [CouponFactory(program=program) for _ in range(3)]
    scans = [scan_of(coupon) for coupon in coupons]

    hang_up_after_sending(live_server.url, "/api/v1/redemptions/batch", token, {"items": scans})
    server.wait()
    assert Redemption.objects.filter(coupon__in=coupons).count() == 3

    status, body = post(live_server.url, "/api/v1/redemptions/batch", token, {"items": scans})

    assert status == 200
    assert [(r["status"], r["replayed"]) for r in body["results"]] == [("accepted", True)] * 3
    assert_one_redemption_each(coupons, scans)


def test_a_sync_dropped_in_the_middle_is_completed_on_retry(
    live_server: Any, server: ServerRequests, scanner: tuple[Any, str]
) -> None:
    """The connection breaks at the second scan of three: the first is committed, the second
    rolled back, the third never tried; the retry of the whole queue settles all three."""
    program, token = scanner
    coupons = [CouponFactory(program=program) for _ in range(3)]
    scans = [scan_of(coupon) for coupon in coupons]
    server.break_connection_on_redemption(after=1)

    hang_up_after_sending(live_server.url, "/api/v1/redemptions/batch", token, {"items": scans})
    server.wait()
    assert server.broken == 1
    assert Redemption.objects.filter(coupon__in=coupons).count() == 1

    status, body = post(live_server.url, "/api/v1/redemptions/batch", token, {"items": scans})

    assert status == 200
    assert [r["status"] for r in body["results"]] == ["accepted"] * 3
    assert sum(r["replayed"] for r in body["results"]) == 1
    assert_one_redemption_each(coupons, scans)
