"""Bearer batches for an organization, handing a batch over, voiding and replacing coupons,
the revocation list scanners download, and a coupon's chain of custody."""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coupons.models import Coupon, IssuanceBatch
from coupons.selectors import qr_text_for
from coupons.services import (
    BearerRequest,
    IssuanceError,
    issue_bearer_batch,
    issue_household_allotment,
    replace_coupons,
    void_coupons,
)
from tests.factories import OrganizationFactory, set_funds
from tests.helpers import text

pytestmark = pytest.mark.django_db


def bearer(world: Any, counts: dict[str, int], **fields: Any) -> BearerRequest:
    program = world.a.program
    return BearerRequest(
        program=program,
        organization=fields.pop("organization", world.a.organization),
        counts={Decimal(value): number for value, number in counts.items()},
        valid_from=fields.pop("valid_from", timezone.localdate()),
        valid_until=fields.pop("valid_until", program.season_end),
        **fields,
    )


def first_coupon(batch: IssuanceBatch) -> Coupon:
    return batch.coupons.order_by("serial")[0]


def allotment(world: Any) -> IssuanceBatch:
    return issue_household_allotment(
        household=world.a.household, issued_by=world.a.intervenant, idempotency_key=uuid.uuid4()
    )


# Bearer batches ---------------------------------------------------------------------------


def test_a_bearer_batch_issues_the_coupons_asked_once_per_key(world: Any) -> None:
    key = uuid.uuid4()
    request = bearer(world, {"5": 3, "2": 2}, note="Cuisine collective")

    first = issue_bearer_batch(request=request, issued_by=world.a.coordinator, idempotency_key=key)
    again = issue_bearer_batch(request=request, issued_by=world.a.coordinator, idempotency_key=key)

    assert first == again
    assert IssuanceBatch.objects.filter(kind="bearer").count() == 1
    coupons = first.coupons.all()
    assert sorted(c.value for c in coupons) == [Decimal("2.00")] * 2 + [Decimal("5.00")] * 3
    assert all(c.household_id is None for c in coupons)
    assert (first.coupon_count, first.total_value, first.note) == (
        5,
        Decimal("19.00"),
        "Cuisine collective",
    )
    assert len({c.serial for c in coupons}) == len({c.code for c in coupons}) == 5


def test_a_bearer_batch_past_the_funds_says_how_much_is_left_and_issues_nothing(
    world: Any,
) -> None:
    set_funds(world.a.program, Decimal("30.00"))
    allotment(world)  # 20 $ committed

    with pytest.raises(IssuanceError) as error:
        issue_bearer_batch(
            request=bearer(world, {"5": 3}),
            issued_by=world.a.coordinator,
            idempotency_key=uuid.uuid4(),
        )

    assert error.value.code == "insufficient_funds"
    assert "il reste 10,00\xa0$ au programme" in error.value.message
    assert not IssuanceBatch.objects.filter(kind="bearer").exists()


@pytest.mark.parametrize(
    ("counts", "fields", "code"),
    [
        ({}, {}, "empty_batch"),
        ({"5": 0}, {}, "empty_batch"),
        ({"3": 2}, {}, "unknown_denomination"),
        ({"5": 20_001}, {}, "batch_too_large"),
        ({"5": 1}, {"valid_until": datetime.date(2000, 1, 1)}, "invalid_validity"),
        ({"5": 1}, {"valid_from": datetime.date(2000, 1, 1)}, "validity_outside_season"),
    ],
)
def test_bad_bearer_requests_are_refused_with_a_code_and_issue_nothing(
    world: Any, counts: dict[str, int], fields: dict[str, Any], code: str
) -> None:
    with pytest.raises(IssuanceError) as error:
        issue_bearer_batch(
            request=bearer(world, counts, **fields),
            issued_by=world.a.coordinator,
            idempotency_key=uuid.uuid4(),
        )
    assert error.value.code == code
    assert not Coupon.objects.exists()


def test_only_a_partner_organization_receives_a_bearer_batch(world: Any) -> None:
    with pytest.raises(IssuanceError) as error:
        issue_bearer_batch(
            request=bearer(world, {"5": 1}, organization=OrganizationFactory()),
            issued_by=world.a.coordinator,
            idempotency_key=uuid.uuid4(),
        )
    assert error.value.code == "not_a_partner"


def test_the_coordinator_issues_a_bearer_batch_from_the_page(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    url = reverse("coupons:bearer_batch_create", kwargs={"slug": world.a.program.slug})
    form = client.get(url).context["form"]
    data = {
        "idempotency_key": str(form.initial["idempotency_key"]),
        "organization": world.a.organization.pk,
        "valid_from": timezone.localdate().isoformat(),
        "valid_until": world.a.program.season_end.isoformat(),
        "count_500": "4",
        "count_200": "",
        "note": "Fête des récoltes",
    }

    response = client.post(url, data, follow=True)
    client.post(url, data)  # a double click

    batch = IssuanceBatch.objects.get(kind="bearer")
    assert response.redirect_chain[-1][0] == reverse(
        "coupons:batch_detail", kwargs={"pk": batch.pk}
    )
    assert f"Lot {batch.pk} émis : 4 coupons au porteur, 20,00\xa0$." in text(response)
    assert batch.coupons.count() == 4


def test_the_bearer_page_explains_a_refusal_and_keeps_the_input(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    url = reverse("coupons:bearer_batch_create", kwargs={"slug": world.a.program.slug})
    response = client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            "organization": world.a.organization.pk,
            "valid_from": timezone.localdate().isoformat(),
            "valid_until": world.a.program.season_end.isoformat(),
            "count_500": "0",
            "note": "Fête",
        },
    )
    assert response.status_code == 400
    assert "Indiquez combien de coupons de chaque valeur." in text(response)
    assert 'value="Fête"' in response.content.decode()
    assert not Coupon.objects.exists()


def test_an_intervenant_may_not_issue_a_bearer_batch(client: Client, world: Any) -> None:
    client.force_login(world.a.intervenant)
    url = reverse("coupons:bearer_batch_create", kwargs={"slug": world.a.program.slug})
    assert client.get(url).status_code == 404


# Handing over -------------------------------------------------------------------------------


def test_handing_a_batch_over_is_recorded_once(client: Client, world: Any) -> None:
    batch = allotment(world)
    client.force_login(world.a.intervenant)
    url = reverse("coupons:batch_deliver", kwargs={"pk": batch.pk})

    client.post(url)
    first = IssuanceBatch.objects.get(pk=batch.pk).delivered_at
    response = client.post(url, follow=True)

    batch.refresh_from_db()
    assert batch.delivered_by == world.a.intervenant
    assert batch.delivered_at == first is not None
    assert "Ce lot était déjà noté comme remis." in text(response)


# Void and replace -----------------------------------------------------------------------------


def test_voided_coupons_are_refused_by_the_api_and_listed_for_scanners(
    client: Client, world: Any
) -> None:
    batch = allotment(world)
    lost = first_coupon(batch)
    result = void_coupons(coupons=[lost], reason="lost", voided_by=world.a.intervenant)

    headers = {"Authorization": f"Bearer {world.a.token}"}
    scan = client.post(
        "/api/v1/redemptions",
        {"code": qr_text_for(lost), "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers=headers,
    )
    revocations = client.get("/api/v1/revocations", headers=headers)

    assert [c.pk for c in result.voided] == [lost.pk]
    lost.refresh_from_db()
    assert (lost.status, lost.void_reason, lost.voided_by) == ("void", "lost", world.a.intervenant)
    assert scan.status_code == 409 and scan.json()["reason"] == "void"
    assert revocations.status_code == 200
    assert revocations.json()["codes"] == [lost.code]


def test_the_revocation_list_leaves_out_other_programs_and_expired_coupons(
    client: Client, world: Any
) -> None:
    batch = allotment(world)
    void_coupons(coupons=list(batch.coupons.all()), reason="error", voided_by=world.a.coordinator)
    Coupon.objects.filter(batch=batch).update(
        valid_until=timezone.localdate() - datetime.timedelta(days=1),
        valid_from=timezone.localdate() - datetime.timedelta(days=5),
    )
    other = issue_household_allotment(
        household=world.b.household, issued_by=world.b.intervenant, idempotency_key=uuid.uuid4()
    )
    void_coupons(coupons=list(other.coupons.all()), reason="error", voided_by=world.b.coordinator)

    response = client.get(
        "/api/v1/revocations", headers={"Authorization": f"Bearer {world.a.token}"}
    )

    assert response.json()["codes"] == []
    assert client.get("/api/v1/revocations").status_code == 401


def test_a_redeemed_coupon_cannot_be_voided(world: Any) -> None:
    batch = allotment(world)
    spent = first_coupon(batch)
    Coupon.objects.filter(pk=spent.pk).update(status="redeemed", redeemed_at=timezone.now())

    result = void_coupons(coupons=[spent], reason="lost", voided_by=world.a.intervenant)

    assert result.voided == [] and [c.pk for c in result.refused] == [spent.pk]
    assert Coupon.objects.get(pk=spent.pk).status == "redeemed"


def test_another_reason_needs_a_precision(world: Any) -> None:
    coupon = first_coupon(allotment(world))
    with pytest.raises(IssuanceError) as error:
        void_coupons(coupons=[coupon], reason="other", note="  ", voided_by=world.a.intervenant)
    assert error.value.code == "note_required"
    assert Coupon.objects.get(pk=coupon.pk).status == "issued"


def test_a_replacement_has_the_same_value_and_validity_and_is_issued_once(world: Any) -> None:
    batch = allotment(world)
    damaged = list(batch.coupons.order_by("serial")[:2])
    key = uuid.uuid4()

    result = replace_coupons(
        coupons=damaged, reason="damaged", replaced_by=world.a.intervenant, idempotency_key=key
    )
    again = replace_coupons(
        coupons=damaged, reason="damaged", replaced_by=world.a.intervenant, idempotency_key=key
    )

    replacement = result.replacement
    assert again.replacement == replacement
    assert IssuanceBatch.objects.filter(kind="replacement").count() == 1
    new = {c.replaces_id: c for c in replacement.coupons.all()}
    for old in damaged:
        old.refresh_from_db()
        assert old.status == "void"
        copy = new[old.pk]
        assert (copy.value, copy.valid_from, copy.valid_until, copy.household_id) == (
            old.value,
            old.valid_from,
            old.valid_until,
            old.household_id,
        )
        assert copy.code != old.code
    # Voiding freed what the replacement takes: the outstanding value is unchanged.
    live = Coupon.objects.filter(household=world.a.household, status="issued")
    assert sum(c.value for c in live) == Decimal("20.00")


def test_a_coupon_is_replaced_at_most_once(world: Any) -> None:
    coupon = first_coupon(allotment(world))
    replace_coupons(
        coupons=[coupon],
        reason="lost",
        replaced_by=world.a.intervenant,
        idempotency_key=uuid.uuid4(),
    )
    with pytest.raises(IssuanceError) as error:
        replace_coupons(
            coupons=[Coupon.objects.get(pk=coupon.pk)],
            reason="lost",
            replaced_by=world.a.intervenant,
            idempotency_key=uuid.uuid4(),
        )
    assert error.value.code == "nothing_to_replace"
    assert IssuanceBatch.objects.filter(kind="replacement").count() == 1


def test_the_household_page_voids_and_replaces_a_lost_coupon(client: Client, world: Any) -> None:
    batch = allotment(world)
    lost = first_coupon(batch)
    client.force_login(world.a.intervenant)
    url = reverse("coupons:household_void", kwargs={"pk": world.a.household.pk})
    key = client.get(url).context["form"].initial["idempotency_key"]

    response = client.post(
        url,
        {
            "idempotency_key": str(key),
            "coupons": [lost.pk],
            "reason": "lost",
            "note": "",
            "action": "replace",
        },
        follow=True,
    )

    lost.refresh_from_db()
    assert lost.status == "void" and lost.replacement.status == "issued"
    assert "1 coupon remplacé" in text(response)


def test_the_void_page_refuses_a_coupon_of_another_household(client: Client, world: Any) -> None:
    allotment(world)
    other = issue_household_allotment(
        household=world.b.household, issued_by=world.b.intervenant, idempotency_key=uuid.uuid4()
    )
    stranger = other.coupons.first()
    client.force_login(world.a.intervenant)
    url = reverse("coupons:household_void", kwargs={"pk": world.a.household.pk})

    response = client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            "coupons": [stranger.pk],
            "reason": "lost",
            "action": "void",
        },
    )

    assert response.status_code == 400
    assert Coupon.objects.get(pk=stranger.pk).status == "issued"


def test_a_lost_bearer_batch_is_voided_whole(client: Client, world: Any) -> None:
    batch = issue_bearer_batch(
        request=bearer(world, {"2": 250}),
        issued_by=world.a.coordinator,
        idempotency_key=uuid.uuid4(),
    )
    client.force_login(world.a.coordinator)
    url = reverse("coupons:batch_void", kwargs={"pk": batch.pk})
    page = client.get(url)

    response = client.post(
        url,
        {
            "idempotency_key": str(page.context["form"].initial["idempotency_key"]),
            "everything": "on",
            "reason": "stolen",
            "action": "void",
        },
        follow=True,
    )

    assert page.context["too_many"]
    assert batch.coupons.filter(status="void").count() == 250
    assert "250 coupons annulés" in text(response)


def test_a_bearer_batch_is_voided_by_serials(client: Client, world: Any) -> None:
    batch = issue_bearer_batch(
        request=bearer(world, {"2": 250}),
        issued_by=world.a.coordinator,
        idempotency_key=uuid.uuid4(),
    )
    serials = list(batch.coupons.order_by("serial").values_list("serial", flat=True)[:2])
    client.force_login(world.a.intervenant)
    url = reverse("coupons:batch_void", kwargs={"pk": batch.pk})
    page = client.get(url, {"serials": " ".join(serials).lower()})
    chosen = [c.pk for c in page.context["form"].fields["coupons"].queryset]

    client.post(
        url,
        {
            "idempotency_key": str(uuid.uuid4()),
            "serials": " ".join(serials),
            "coupons": chosen,
            "reason": "damaged",
            "action": "void",
        },
    )

    assert sorted(batch.coupons.filter(status="void").values_list("serial", flat=True)) == serials


# Chain of custody -------------------------------------------------------------------------------


def test_a_coupons_page_tells_its_chain_of_custody(client: Client, world: Any) -> None:
    batch = allotment(world)
    coupon = first_coupon(batch)
    client.post(
        "/api/v1/redemptions",
        {"code": qr_text_for(coupon), "client_id": str(uuid.uuid4())},
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.a.token}"},
    )
    client.force_login(world.a.coordinator)

    page = text(client.get(reverse("coupons:coupon_detail", kwargs={"pk": coupon.pk})))

    assert "Allocation d'un ménage" in page and world.a.intervenant.email in page
    assert "Échangé" in page and world.a.vendor.name in page and world.a.market.name in page
    assert world.a.household.name not in page
