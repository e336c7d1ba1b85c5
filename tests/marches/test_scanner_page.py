"""The web scanner page: manual codes, replays, verdicts, the fetch fragment and its scope."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from coupons.models import Coupon
from coupons.selectors import qr_text_for
from marches.models import Redemption, ScanRejection
from tests.factories import CouponFactory

pytestmark = pytest.mark.django_db


def scanner_url(scope: Any) -> str:
    return reverse("marches:scanner", args=[scope.vendor.slug, scope.market.slug])


def scan(client: Client, scope: Any, code: str, client_id: Any = None, **extra: Any) -> Any:
    data = {"code": code, "client_id": str(client_id or uuid.uuid4()), **extra}
    return client.post(scanner_url(scope), data)


def fetch_scan(client: Client, scope: Any, code: str, client_id: Any = None) -> Any:
    data = {"code": code, "client_id": str(client_id or uuid.uuid4())}
    return client.post(scanner_url(scope), data, headers={"X-Scanner": "fetch"})


@pytest.fixture
def vendor_client(client: Client, world: Any) -> Client:
    client.force_login(world.a.vendor_user)
    return client


def test_the_page_follows_the_dom_contract_of_scanner_js(vendor_client: Client, world: Any) -> None:
    response = vendor_client.get(scanner_url(world.a))

    assert response.status_code == 200
    html = response.content.decode()
    for fragment in [
        'class="scanner" data-scanner data-wasm-url="/static/vendor/barcode-detector/'
        'zxing_reader.wasm"',
        'id="camera-section" hidden',
        '<video id="scanner-video" playsinline muted></video>',
        'id="camera-start"',
        'id="camera-status" role="status"',
        f'<form id="scan-form" method="post" action="{scanner_url(world.a)}"',
        'name="client_id"',
        'id="id_code"',
        'autocapitalize="characters"',
        'id="id_category"',
        '<option value="fruits-legumes">Fruits et légumes</option>',
        'id="verdict" aria-live="assertive" tabindex="-1"',
        "/static/css/scanner.css",
        "/static/vendor/barcode-detector/barcode-detector.iife.js",
        "/static/js/scanner.js",
        "Aujourd'hui : 0 coupons",
    ]:
        assert fragment in html, fragment
    assert "style=" not in html
    assert "<script>" not in html


def test_a_manual_code_is_accepted_once(vendor_client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = scan(vendor_client, world.a, coupon.code)

    assert response.status_code == 200
    assert 'data-status="accepted"' in response.content.decode()
    assert "Accepté" in response.content.decode()
    assert coupon.serial in response.content.decode()
    redemption = Redemption.objects.get()
    assert redemption.vendor == world.a.vendor
    assert redemption.market == world.a.market
    assert redemption.recorded_by == world.a.vendor_user
    assert redemption.device is None
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.REDEEMED
    assert "Aujourd'hui : 1 coupon, total 5,00" in response.content.decode()


def test_the_same_client_id_twice_gives_one_redemption_and_the_same_answer(
    vendor_client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    client_id = uuid.uuid4()

    first = scan(vendor_client, world.a, coupon.code, client_id)
    second = scan(vendor_client, world.a, coupon.code, client_id)

    assert Redemption.objects.count() == 1
    for response in (first, second):
        assert 'data-status="accepted"' in response.content.decode()


def test_a_second_scan_says_already_redeemed_with_the_market(
    vendor_client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.a.program)
    scan(vendor_client, world.a, coupon.code)

    response = scan(vendor_client, world.a, coupon.code)

    html = response.content.decode()
    assert 'data-status="rejected"' in html
    assert 'data-reason="already_redeemed"' in html
    assert "Déjà échangé" in html
    assert "Déjà échangé par vous à" in html
    assert Redemption.objects.count() == 1


def test_the_fetch_mode_answers_with_the_fragment_only(vendor_client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    accepted = fetch_scan(vendor_client, world.a, qr_text_for(coupon))
    again = fetch_scan(vendor_client, world.a, coupon.code)

    html = accepted.content.decode()
    assert accepted.status_code == 201
    assert html.lstrip().startswith('<div class="verdict verdict--accepted"')
    assert 'id="scan-next"' in html
    assert "<html" not in html and "scan-form" not in html
    assert again.status_code == 409
    assert 'class="verdict verdict--rejected"' in again.content.decode()
    assert "Déjà échangé" in again.content.decode()


def test_each_fetch_answer_carries_the_days_updated_totals(
    vendor_client: Client, world: Any
) -> None:
    first, second = CouponFactory.create_batch(2, program=world.a.program)

    fetch_scan(vendor_client, world.a, first.code)
    html = fetch_scan(vendor_client, world.a, second.code).content.decode()

    assert "data-today-summary" in html
    assert "Aujourd'hui : 2 coupons, total 10,00" in html.replace("\xa0", " ")


def test_an_invalid_code_is_refused(vendor_client: Client, world: Any) -> None:
    response = fetch_scan(vendor_client, world.a, "ABCD-EFGH-JKMN-PQ")

    assert response.status_code == 422
    assert "Code abîmé" in response.content.decode()
    assert 'data-reason="invalid_code"' in response.content.decode()
    assert Redemption.objects.count() == 0


def test_a_coupon_of_another_program_is_not_accepted_here(
    vendor_client: Client, world: Any
) -> None:
    coupon = CouponFactory(program=world.b.program)

    response = scan(vendor_client, world.a, coupon.code)

    assert "Non accepté ici" in response.content.decode()
    assert Redemption.objects.count() == 0
    coupon.refresh_from_db()
    assert coupon.status == Coupon.Status.ISSUED


@pytest.mark.parametrize("code", ["", "   ", "\t\n"])
def test_an_empty_code_is_a_form_error_and_writes_nothing(
    vendor_client: Client, world: Any, code: str
) -> None:
    response = scan(vendor_client, world.a, code)
    fetched = fetch_scan(vendor_client, world.a, code)

    assert response.status_code == 422
    assert "Entrez le code du coupon" in response.content.decode()
    assert fetched.status_code == 422
    assert 'data-status="rejected"' in fetched.content.decode()
    assert Redemption.objects.count() == 0
    assert ScanRejection.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"code": "X" * 600},
        {"code": "ABC\x00DEF"},
        {"code": "ABCDEFGHJKMNPQ", "category": "inconnue"},
    ],
)
def test_bad_input_is_a_clear_error_never_a_500(
    vendor_client: Client, world: Any, data: dict[str, str]
) -> None:
    response = vendor_client.post(scanner_url(world.a), data)

    assert response.status_code == 422
    assert "field__error" in response.content.decode()
    assert Redemption.objects.count() == 0
    assert ScanRejection.objects.count() == 0


def test_a_malformed_client_id_is_a_new_scan(vendor_client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = scan(vendor_client, world.a, coupon.code, client_id="pas-un-uuid")

    assert 'data-status="accepted"' in response.content.decode()
    assert Redemption.objects.count() == 1


def test_the_chosen_category_is_recorded(vendor_client: Client, world: Any) -> None:
    coupon = CouponFactory(program=world.a.program)

    response = scan(vendor_client, world.a, coupon.code, category="fruits-legumes")

    assert 'data-status="accepted"' in response.content.decode()
    assert Redemption.objects.get().category == world.a.program.categories.get()
    # The next scan keeps the category selected.
    assert '<option value="fruits-legumes" selected>' in response.content.decode()


def test_only_members_of_the_vendor_and_admins_may_scan(client: Client, world: Any) -> None:
    url = scanner_url(world.a)
    for user in [
        world.b.vendor_user,
        world.a.manager,
        world.a.coordinator,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.get(url).status_code == 404, user
        assert client.post(url, {"code": "X"}).status_code == 404, user
    client.force_login(world.admin)
    assert client.get(url).status_code == 200


def test_the_vendor_must_sell_at_the_market(vendor_client: Client, world: Any) -> None:
    url = reverse("marches:scanner", args=[world.a.vendor.slug, world.b.market.slug])

    assert vendor_client.get(url).status_code == 404


def test_anonymous_people_are_sent_to_the_login_page(client: Client, world: Any) -> None:
    response = client.post(scanner_url(world.a), {"code": "X"}, headers={"X-Scanner": "fetch"})

    assert response.status_code == 302
    assert "/comptes/login/" in response["Location"]
