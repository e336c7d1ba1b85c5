"""Markets of a program, the market page and the vendor page: scopes, forms and totals."""

from __future__ import annotations

import datetime
import html
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marches.models import Market, Redemption, Vendor
from marches.redemptions import redeem_coupon
from programmes.models import ProductCategory, Program
from tests.factories import CouponFactory, MarketFactory, VendorFactory

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    return html.unescape(response.content.decode())


def redeem(scope: Any, value: str = "5.00", vendor: Vendor | None = None, **kwargs: Any) -> Any:
    coupon = CouponFactory(program=scope.program, value=Decimal(value))
    return redeem_coupon(
        code=coupon.code,
        vendor=vendor or scope.vendor,
        market=scope.market,
        client_id=uuid.uuid4(),
        **kwargs,
    )


# Markets of a program --------------------------------------------------------------------------


def program_markets_url(scope: Any) -> str:
    return reverse("marches:program_markets", args=[scope.program.slug])


def test_the_coordinator_lists_and_creates_markets_of_their_program(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    listing = client.get(program_markets_url(world.a))
    assert listing.status_code == 200
    assert "Marché a" in text(listing)

    response = client.post(
        program_markets_url(world.a),
        {
            "action": "create",
            "new-name": "Marché de Saint-Casimir",
            "new-city": "Saint-Casimir",
            "new-address": "510, boul. de la Montagne",
        },
    )

    assert response.status_code == 302
    market = Market.objects.get(name="Marché de Saint-Casimir")
    assert market.slug == "marche-de-saint-casimir"
    assert list(market.programs.all()) == [world.a.program]
    assert "Marché de Saint-Casimir" in text(client.get(program_markets_url(world.a)))


def test_a_market_that_exists_is_added_not_duplicated(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)

    duplicate = client.post(
        program_markets_url(world.a),
        {"action": "create", "new-name": "marché b", "new-city": "saint-casimir"},
    )
    assert duplicate.status_code == 400
    assert "existe déjà" in text(duplicate)
    assert Market.objects.count() == 2

    added = client.post(
        program_markets_url(world.a), {"action": "add", "existing-market": world.b.market.slug}
    )
    assert added.status_code == 302
    assert world.a.program in world.b.market.programs.all()


@pytest.mark.parametrize(
    "data",
    [
        {"action": "create", "new-name": "", "new-city": "Portneuf"},
        {"action": "create", "new-name": "X" * 300, "new-city": "Portneuf"},
        {"action": "add", "existing-market": "marche-a"},  # already in the program
        {"action": "add", "existing-market": "inexistant"},
        {"action": "autre"},
        {},
    ],
)
def test_bad_program_market_input_changes_nothing(
    client: Client, world: Any, data: dict[str, str]
) -> None:
    client.force_login(world.a.coordinator)

    response = client.post(program_markets_url(world.a), data)

    assert response.status_code == 400
    assert Market.objects.count() == 2
    assert list(world.a.program.markets.all()) == [world.a.market]


def test_removing_a_market_needs_a_confirmation(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    url = reverse("marches:program_market_remove", args=[world.a.program.slug, world.a.market.slug])

    confirmation = client.get(url)
    assert confirmation.status_code == 200
    assert "Oui, retirer ce marché" in text(confirmation)
    assert world.a.market in world.a.program.markets.all()

    assert client.post(url).status_code == 302
    assert world.a.market not in world.a.program.markets.all()
    assert client.post(url).status_code == 404  # no longer in the program


def test_program_markets_are_out_of_reach_of_other_roles(client: Client, world: Any) -> None:
    remove = reverse(
        "marches:program_market_remove", args=[world.a.program.slug, world.a.market.slug]
    )
    for user in [
        world.b.coordinator,
        world.a.manager,
        world.a.vendor_user,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.get(program_markets_url(world.a)).status_code == 404, user
        assert client.post(remove).status_code == 404, user
    assert world.a.market in world.a.program.markets.all()
    client.force_login(world.admin)
    assert client.get(program_markets_url(world.a)).status_code == 200


# Market page -----------------------------------------------------------------------------------


def market_url(scope: Any) -> str:
    return reverse("marches:market_detail", args=[scope.market.slug])


def test_the_market_page_totals_per_vendor(client: Client, world: Any) -> None:
    other = VendorFactory(name="Boulangerie a", slug="boulangerie-a", market=world.a.market)
    redeem(world.a, "5.00")
    redeem(world.a, "2.00")
    redeem(world.a, "10.00", vendor=other)
    client.force_login(world.a.manager)

    response = client.get(market_url(world.a))

    assert response.status_code == 200
    period = response.context["period"]
    assert [(t.label, t.count, t.value) for t in period.by_vendor] == [
        ("Boulangerie a", 1, Decimal("10.00")),
        ("Ferme a", 2, Decimal("7.00")),
    ]
    assert (period.count, period.value) == (3, Decimal("17.00"))
    page = text(response)
    assert "7,00\xa0$" in page and "17,00\xa0$" in page
    assert reverse("marches:vendor_detail", args=["boulangerie-a"]) in page
    assert f"/invitations/nouvelle/?role=market_manager&scope={world.a.market.pk}" in page
    assert f"/invitations/nouvelle/?role=vendor&scope={other.pk}" in page


def test_the_market_page_query_count_does_not_grow_with_redemptions(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(world.a.manager)
    redeem(world.a)
    client.get(market_url(world.a))  # warm the session and caches
    with django_assert_max_num_queries(20) as few:
        client.get(market_url(world.a))
    for _ in range(30):
        redeem(world.a, "2.00")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(market_url(world.a))
    assert response.context["period"].count == 31


def test_the_period_is_chosen_and_bad_dates_fall_back_to_today(client: Client, world: Any) -> None:
    yesterday = timezone.now() - datetime.timedelta(days=1)
    redeem(world.a, "5.00", scanned_at=yesterday)
    redeem(world.a, "2.00")
    client.force_login(world.a.manager)
    today = timezone.localdate()
    day_before = today - datetime.timedelta(days=1)

    default = client.get(market_url(world.a)).context["period"]
    assert (default.start, default.end, default.value) == (today, today, Decimal("2.00"))

    both = client.get(market_url(world.a), {"du": day_before.isoformat(), "au": today.isoformat()})
    assert both.context["period"].value == Decimal("7.00")

    for bad in [{"du": "hier"}, {"au": "2026-02-30"}, {"du": "0001-01-01"}, {"du": "9999-12-31"}]:
        response = client.get(market_url(world.a), bad)
        assert response.status_code == 200, bad
        assert response.context["period"].start == today, bad
        assert "Date invalide" in text(response), bad
    reversed_period = client.get(
        market_url(world.a), {"du": today.isoformat(), "au": day_before.isoformat()}
    )
    assert "après la date de fin" in text(reversed_period)


def test_a_coordinator_sees_only_redemptions_of_their_programs(client: Client, world: Any) -> None:
    # Market a also accepts program b: its coordinator sees program b's redemptions only.
    world.a.market.programs.add(world.b.program)
    redeem(world.a, "5.00")
    coupon_b = CouponFactory(program=world.b.program, value=Decimal("2.00"))
    redeem_coupon(
        code=coupon_b.code, vendor=world.a.vendor, market=world.a.market, client_id=uuid.uuid4()
    )

    client.force_login(world.b.coordinator)
    assert client.get(market_url(world.a)).context["period"].value == Decimal("2.00")
    client.force_login(world.a.manager)
    assert client.get(market_url(world.a)).context["period"].value == Decimal("7.00")


def test_the_market_page_scope(client: Client, world: Any) -> None:
    for user in [world.a.coordinator, world.a.manager, world.admin]:
        client.force_login(user)
        assert client.get(market_url(world.a)).status_code == 200, user
    for user in [
        world.b.coordinator,
        world.b.manager,
        world.a.vendor_user,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.get(market_url(world.a)).status_code == 404, user


def test_a_vendor_is_added_to_the_market(client: Client, world: Any) -> None:
    client.force_login(world.a.manager)
    url = reverse("marches:vendor_create", args=[world.a.market.slug])
    category = world.a.program.categories.get()

    response = client.post(url, {"name": "Fromagerie du Terroir", "categories": [category.pk]})

    vendor = Vendor.objects.get(name="Fromagerie du Terroir")
    assert response.status_code == 302
    assert response["Location"] == reverse("marches:vendor_detail", args=[vendor.slug])
    assert list(vendor.markets.all()) == [world.a.market]
    assert list(vendor.categories.all()) == [category]

    for bad in [{"name": ""}, {"name": "ferme a"}, {"name": "X", "categories": ["999999"]}]:
        assert client.post(url, bad).status_code == 400, bad
    assert Vendor.objects.count() == 3
    client.force_login(world.b.manager)
    assert client.post(url, {"name": "Intrus"}).status_code == 404


# Vendor page -----------------------------------------------------------------------------------


def vendor_url(scope: Any) -> str:
    return reverse("marches:vendor_detail", args=[scope.vendor.slug])


def test_my_day_shows_todays_total_by_category_and_the_scanner_links(
    client: Client, world: Any
) -> None:
    category = world.a.program.categories.get()
    redeem(world.a, "5.00", category=category)
    redeem(world.a, "2.00")
    redeem(world.a, "10.00", scanned_at=timezone.now() - datetime.timedelta(days=1))
    client.force_login(world.a.vendor_user)

    response = client.get(vendor_url(world.a))

    assert response.status_code == 200
    day = response.context["day"]
    assert (day.count, day.value) == (2, Decimal("7.00"))
    assert [(t.label, t.count, t.value) for t in day.by_category] == [
        ("Fruits et légumes", 1, Decimal("5.00")),
        ("Sans catégorie", 1, Decimal("2.00")),
    ]
    page = text(response)
    assert "Ma journée" in page
    assert reverse("marches:scanner", args=[world.a.vendor.slug, world.a.market.slug]) in page
    assert f"/invitations/nouvelle/?role=vendor&scope={world.a.vendor.pk}" in page

    yesterday = (timezone.localdate() - datetime.timedelta(days=1)).isoformat()
    assert client.get(vendor_url(world.a), {"jour": yesterday}).context["day"].value == Decimal(
        "10.00"
    )
    bad = client.get(vendor_url(world.a), {"jour": "demain"})
    assert bad.status_code == 200 and "Date invalide" in text(bad)


def test_the_vendor_page_scope(client: Client, world: Any) -> None:
    for user in [world.a.vendor_user, world.a.manager, world.a.coordinator, world.admin]:
        client.force_login(user)
        assert client.get(vendor_url(world.a)).status_code == 200, user
    for user in [world.b.vendor_user, world.b.manager, world.b.coordinator, world.a.intervenant]:
        client.force_login(user)
        assert client.get(vendor_url(world.a)).status_code == 404, user
    # Only the vendor's members (and admins) get the scanner links.
    client.force_login(world.a.manager)
    scanner = reverse("marches:scanner", args=[world.a.vendor.slug, world.a.market.slug])
    assert scanner not in text(client.get(vendor_url(world.a)))


def test_a_manager_sees_the_vendors_day_at_their_market_only(client: Client, world: Any) -> None:
    second = MarketFactory(name="Marché c", slug="marche-c", program=world.a.program)
    world.a.vendor.markets.add(second)
    redeem(world.a, "5.00")
    coupon = CouponFactory(program=world.a.program, value=Decimal("2.00"))
    redeem_coupon(code=coupon.code, vendor=world.a.vendor, market=second, client_id=uuid.uuid4())

    client.force_login(world.a.manager)
    assert client.get(vendor_url(world.a)).context["day"].value == Decimal("5.00")
    client.force_login(world.a.vendor_user)
    assert client.get(vendor_url(world.a)).context["day"].value == Decimal("7.00")
    assert Redemption.objects.count() == 2


def test_anonymous_visitors_are_sent_to_log_in(client: Client, world: Any) -> None:
    for url in [market_url(world.a), vendor_url(world.a), program_markets_url(world.a)]:
        response = client.get(url)
        assert response.status_code == 302 and "/comptes/login/" in response["Location"]


# Editing a vendor ------------------------------------------------------------------------------


def vendor_edit_url(vendor: Vendor) -> str:
    return reverse("marches:vendor_edit", args=[vendor.slug])


def vendor_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "Ferme a", "payout": "dollars", "categories": [], "markets": []}
    data.update(overrides)
    return data


def test_a_manager_edits_a_vendor_and_its_markets_among_theirs(client: Client, world: Any) -> None:
    second = MarketFactory(name="Marché c", slug="marche-c", program=world.a.program)
    second.managers.add(world.a.manager)
    # The vendor also sells at market b, which the manager of market a does not manage.
    world.a.vendor.markets.add(world.b.market)
    categories = list(ProductCategory.objects.filter(slug__in=["miel-erable", "pain-cereales"]))
    client.force_login(world.a.manager)

    form = client.get(vendor_edit_url(world.a.vendor))
    assert form.status_code == 200
    page = text(form)
    assert "Marché c (Saint-Casimir)" in page and "Marché b (Saint-Casimir)" not in page
    assert "ils restent tels quels" in page  # market b is named as out of reach

    response = client.post(
        vendor_edit_url(world.a.vendor),
        vendor_data(
            name="  Ferme a et fils ",
            categories=[c.pk for c in categories],
            markets=[world.a.market.pk, second.pk],
        ),
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("marches:vendor_detail", args=[world.a.vendor.slug])
    vendor = Vendor.objects.get(pk=world.a.vendor.pk)
    assert vendor.name == "Ferme a et fils"
    assert vendor.slug == "ferme-a"
    assert set(vendor.categories.all()) == set(categories)
    assert set(vendor.markets.all()) == {world.a.market, second, world.b.market}


def test_the_local_currency_payout_is_offered_only_with_a_local_currency(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    assert 'value="local"' not in text(client.get(vendor_edit_url(world.a.vendor)))
    refused = client.post(
        vendor_edit_url(world.a.vendor), vendor_data(payout="local", markets=[world.a.market.pk])
    )
    assert refused.status_code == 400
    assert "Choisissez parmi les modes proposés." in text(refused)
    assert Vendor.objects.get(pk=world.a.vendor.pk).payout == "dollars"

    Program.objects.filter(pk=world.a.program.pk).update(
        local_currency="Le Napoléon", local_rate=Decimal("1.0000")
    )
    page = text(client.get(vendor_edit_url(world.a.vendor)))
    assert 'value="local"' in page
    assert "Monnaie locale offerte : Le Napoléon (Programme a)." in page

    response = client.post(
        vendor_edit_url(world.a.vendor), vendor_data(payout="local", markets=[world.a.market.pk])
    )

    assert response.status_code == 302
    assert Vendor.objects.get(pk=world.a.vendor.pk).payout == "local"
    assert "En monnaie locale" in text(client.get(vendor_url(world.a)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "Ce champ est obligatoire."),
        ({"name": "Ferme b", "_at_b": True}, "Une autre entreprise nommée Ferme b vend déjà à"),
        ({"markets": []}, "L'entreprise doit vendre à au moins un marché."),
        ({"markets": ["marche-b"]}, "Choisissez parmi les marchés proposés."),
        ({"categories": ["999999"]}, "Sélectionnez un choix valide."),
        ({"payout": "bitcoin"}, "Choisissez parmi les modes proposés."),
    ],
)
def test_bad_vendor_edits_are_explained_and_change_nothing(
    client: Client, world: Any, data: dict[str, Any], message: str
) -> None:
    data = dict(data)
    if data.pop("_at_b", False):
        world.b.vendor.markets.add(world.a.market)
    if data.get("markets") == ["marche-b"]:
        data["markets"] = [str(world.b.market.pk)]
    client.force_login(world.a.manager)

    response = client.post(
        vendor_edit_url(world.a.vendor), vendor_data(**{"markets": [world.a.market.pk], **data})
    )

    assert response.status_code == 400
    assert message in text(response)
    vendor = Vendor.objects.get(pk=world.a.vendor.pk)
    assert (vendor.name, vendor.payout) == ("Ferme a", "dollars")
    assert list(vendor.markets.all()) == [world.a.market]


def test_update_vendor_refuses_with_codes(world: Any) -> None:
    from marches.services import MarketError, update_vendor

    base = {
        "vendor": world.a.vendor,
        "name": "Ferme a",
        "categories": [],
        "markets": [world.a.market],
        "allowed_markets": [world.a.market],
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"payout": "local"}, "no_local_currency"),
        ({"payout": "autre"}, "invalid_payout"),
        ({"markets": [world.b.market]}, "market_not_allowed"),
        ({"markets": []}, "no_market"),
        ({"name": " "}, "missing_fields"),
    ]
    for overrides, code in cases:
        with pytest.raises(MarketError) as raised:
            update_vendor(**{**base, **overrides})
        assert raised.value.code == code, overrides
    assert list(world.a.vendor.markets.all()) == [world.a.market]


def test_a_manager_who_takes_the_vendor_from_their_market_goes_home(
    client: Client, world: Any
) -> None:
    world.a.vendor.markets.add(world.b.market)
    client.force_login(world.a.manager)

    response = client.post(vendor_edit_url(world.a.vendor), vendor_data(markets=[]))

    assert response.status_code == 302
    assert response["Location"] == reverse("accueil")
    assert list(Vendor.objects.get(pk=world.a.vendor.pk).markets.all()) == [world.b.market]
    assert client.get(vendor_url(world.a)).status_code == 404


def test_who_may_edit_a_vendor(client: Client, world: Any) -> None:
    for user in [world.a.manager, world.a.coordinator, world.admin]:
        client.force_login(user)
        assert client.get(vendor_edit_url(world.a.vendor)).status_code == 200, user
        assert "Modifier l'entreprise" in text(client.get(vendor_url(world.a))), user
    # The vendor's own people see their page but do not change what markets vouch for.
    for user in [
        world.a.vendor_user,
        world.b.manager,
        world.b.coordinator,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        assert client.get(vendor_edit_url(world.a.vendor)).status_code == 404, user
        response = client.post(vendor_edit_url(world.a.vendor), vendor_data(name="Intrus"))
        assert response.status_code == 404, user
    client.force_login(world.a.vendor_user)
    assert "Modifier l'entreprise" not in text(client.get(vendor_url(world.a)))
    assert Vendor.objects.get(pk=world.a.vendor.pk).name == "Ferme a"


def test_the_invitation_link_shows_only_to_those_who_may_invite(client: Client, world: Any) -> None:
    invite = f"/invitations/nouvelle/?role=vendor&scope={world.a.vendor.pk}"
    for user in [world.a.manager, world.a.vendor_user, world.a.coordinator]:
        client.force_login(user)
        assert invite in text(client.get(vendor_url(world.a))), user
    # A vendor that also sells at another program's market is not the coordinator's to staff.
    world.a.vendor.markets.add(world.b.market)
    client.force_login(world.a.coordinator)
    assert invite not in text(client.get(vendor_url(world.a)))
    client.force_login(world.a.manager)
    assert invite not in text(client.get(vendor_url(world.a)))
    client.force_login(world.a.vendor_user)
    assert invite in text(client.get(vendor_url(world.a)))


def test_the_market_page_links_the_season_days_and_vendor_editing(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.manager)

    page = text(client.get(market_url(world.a)))

    assert reverse("marches:market_edit", args=[world.a.market.slug]) in page
    assert reverse("marches:market_days", args=[world.a.market.slug]) in page
    assert reverse("marches:vendor_edit", args=[world.a.vendor.slug]) in page
    assert "Aucune journée de marché à venir au calendrier." in page
    assert "Programme a" in page
