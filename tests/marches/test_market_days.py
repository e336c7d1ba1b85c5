"""A market's season and its market days: bulk additions, removals, scopes and query counts."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marches.models import Market, MarketDay
from marches.redemptions import redeem_coupon
from marches.services import MarketError, add_market_days, remove_market_day, update_market
from tests.factories import CouponFactory, MarketFactory
from tests.helpers import messages_of, text

pytestmark = pytest.mark.django_db

SATURDAY = 5


def today() -> datetime.date:
    return timezone.localdate()


def days(n: int) -> datetime.timedelta:
    return datetime.timedelta(days=n)


def with_season(market: Market, start: int = -7, end: int = 90) -> Market:
    market.season_start, market.season_end = today() + days(start), today() + days(end)
    market.save()
    return market


def days_url(market: Market) -> str:
    return reverse("marches:market_days", args=[market.slug])


def saturdays(start: datetime.date, end: datetime.date) -> list[datetime.date]:
    return [
        start + days(n) for n in range((end - start).days + 1) if (start + days(n)).weekday() == 5
    ]


def form_data(**overrides: Any) -> dict[str, str]:
    data = {
        "weekday": str(SATURDAY),
        "start": today().isoformat(),
        "end": (today() + days(27)).isoformat(),
        "opens_at": "08:30",
        "closes_at": "12:30",
        "note": "",
    }
    data.update(overrides)
    return data


# Adding days -----------------------------------------------------------------------------------


def test_a_manager_adds_every_saturday_of_a_period_with_its_hours(
    client: Client, world: Any
) -> None:
    market = with_season(world.a.market)
    client.force_login(world.a.manager)

    response = client.post(days_url(market), form_data(note="Sous le chapiteau"))

    assert response.status_code == 302
    expected = saturdays(today(), today() + days(27))
    assert len(expected) == 4
    added = list(MarketDay.objects.filter(market=market).order_by("date"))
    assert [day.date for day in added] == expected
    assert {(day.opens_at, day.closes_at, day.note) for day in added} == {
        (datetime.time(8, 30), datetime.time(12, 30), "Sous le chapiteau")
    }
    page = client.get(days_url(market))
    assert "Journées de marché ajoutées : 4." in messages_of(page)
    assert [day.date for day in page.context["page_obj"].object_list] == expected
    # The market's page shows the next days.
    assert expected[0] in [
        day.date
        for day in client.get(reverse("marches:market_detail", args=[market.slug])).context[
            "upcoming_days"
        ]
    ]


def test_dates_already_on_the_calendar_are_skipped_and_kept_as_they_are(
    client: Client, world: Any
) -> None:
    market = with_season(world.a.market)
    first_saturday = saturdays(today(), today() + days(6))[0]
    MarketDay.objects.create(
        market=market,
        date=first_saturday,
        opens_at=datetime.time(9),
        closes_at=datetime.time(13),
        note="Fête des récoltes",
    )
    client.force_login(world.a.manager)

    client.post(days_url(market), form_data())

    assert MarketDay.objects.filter(market=market).count() == 4
    kept = MarketDay.objects.get(market=market, date=first_saturday)
    assert (kept.opens_at, kept.note) == (datetime.time(9), "Fête des récoltes")
    assert "Déjà au calendrier, laissées telles quelles : 1." in messages_of(
        client.get(days_url(market))
    )


def test_every_day_of_a_period_and_a_single_day_without_hours(world: Any) -> None:
    market = with_season(world.a.market)

    week = add_market_days(market=market, start=today(), end=today() + days(6))
    single = add_market_days(market=market, start=today() + days(10), end=today() + days(10))

    assert len(week.created) == 7 and week.skipped == []
    assert single.created == [today() + days(10)]
    assert MarketDay.objects.get(date=today() + days(10)).opens_at is None


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"start": -8, "end": 0}, "outside_season"),  # the season starts 7 days ago
        ({"start": 80, "end": 91}, "outside_season"),
        ({"start": 10, "end": 3}, "range_ends_before_start"),
        ({"start": 0, "end": 1, "weekday": SATURDAY, "_no_saturday": True}, "no_dates"),
        ({"start": 0, "end": 6, "opens_at": datetime.time(8)}, "incomplete_hours"),
        (
            {"start": 0, "end": 6, "opens_at": datetime.time(12), "closes_at": datetime.time(8)},
            "closes_before_opening",
        ),
        ({"start": 0, "end": 6, "note": "x" * 121}, "note_too_long"),
        ({"start": 0, "end": 6, "weekday": 7}, "invalid_weekday"),
    ],
)
def test_bad_additions_are_refused_with_a_code_and_add_nothing(
    world: Any, kwargs: dict[str, Any], code: str
) -> None:
    market = with_season(world.a.market)
    kwargs = dict(kwargs)
    start, end = today() + days(kwargs.pop("start")), today() + days(kwargs.pop("end"))
    if kwargs.pop("_no_saturday", False):
        # Two days that are not a Saturday: a Monday and a Tuesday.
        start = today() + days((0 - today().weekday()) % 7)
        end = start + days(1)

    with pytest.raises(MarketError) as raised:
        add_market_days(market=market, start=start, end=end, **kwargs)

    assert raised.value.code == code
    assert not MarketDay.objects.exists()


def test_a_market_without_a_season_gets_no_days_and_a_long_range_is_refused(world: Any) -> None:
    with pytest.raises(MarketError) as raised:
        add_market_days(market=world.a.market, start=today(), end=today())
    assert raised.value.code == "no_season"

    market = with_season(world.a.market, start=-400, end=400)
    with pytest.raises(MarketError) as raised:
        add_market_days(market=market, start=today() - days(300), end=today() + days(300))
    assert raised.value.code == "range_too_long"
    assert not MarketDay.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"start": (today() - days(30)).isoformat()},
            "Les journées de marché doivent tomber dans la saison du marché",
        ),
        ({"weekday": "8"}, "Choisissez un jour de la semaine."),
        ({"start": "bientôt"}, "Saisissez une date valide."),
        ({"end": ""}, "Ce champ est obligatoire."),
        ({"opens_at": "25:00"}, "Saisissez une heure valide."),
        ({"closes_at": ""}, "Indiquez l'heure d'ouverture et celle de fermeture"),
        ({"note": "x" * 121}, "Assurez-vous que cette valeur comporte au plus 120 caractères"),
    ],
)
def test_bad_input_on_the_days_page_is_explained_and_adds_nothing(
    client: Client, world: Any, overrides: dict[str, str], message: str
) -> None:
    market = with_season(world.a.market)
    client.force_login(world.a.manager)

    response = client.post(days_url(market), form_data(**overrides))

    assert response.status_code == 400
    assert message in text(response)
    assert not MarketDay.objects.exists()


def test_the_days_page_explains_that_a_season_is_needed(client: Client, world: Any) -> None:
    client.force_login(world.a.manager)

    response = client.post(days_url(world.a.market), form_data())

    assert response.status_code == 400
    assert "Indiquez d'abord la saison du marché" in text(response)
    assert not MarketDay.objects.exists()


# Removing days ---------------------------------------------------------------------------------


def test_removing_a_day_needs_a_confirmation(client: Client, world: Any) -> None:
    market = with_season(world.a.market)
    day = MarketDay.objects.create(market=market, date=today() + days(3))
    url = reverse("marches:market_day_remove", args=[market.slug, day.pk])
    client.force_login(world.a.coordinator)

    confirmation = client.get(url)
    assert confirmation.status_code == 200
    assert "Oui, retirer cette journée" in text(confirmation)
    assert MarketDay.objects.filter(pk=day.pk).exists()

    assert client.post(url).status_code == 302
    assert not MarketDay.objects.filter(pk=day.pk).exists()
    assert client.post(url).status_code == 404


def test_a_day_on_which_coupons_were_redeemed_stays(client: Client, world: Any) -> None:
    market = with_season(world.a.market)
    day = MarketDay.objects.create(market=market, date=today())
    coupon = CouponFactory(program=world.a.program)
    redeem_coupon(code=coupon.code, vendor=world.a.vendor, market=market, client_id=uuid.uuid4())
    client.force_login(world.a.manager)

    with pytest.raises(MarketError) as raised:
        remove_market_day(day=day)
    assert raised.value.code == "day_has_redemptions"

    listing = client.get(days_url(market))
    assert day.date in listing.context["kept"]
    assert "Coupons échangés ce jour-là" in text(listing)
    response = client.post(reverse("marches:market_day_remove", args=[market.slug, day.pk]))
    assert response.status_code == 302
    assert MarketDay.objects.filter(pk=day.pk).exists()
    assert any("reste au calendrier" in m for m in messages_of(client.get(days_url(market))))


# Season ----------------------------------------------------------------------------------------


def test_a_manager_edits_the_address_city_and_season(client: Client, world: Any) -> None:
    client.force_login(world.a.manager)
    url = reverse("marches:market_edit", args=[world.a.market.slug])
    assert client.get(url).status_code == 200

    response = client.post(
        url,
        {
            "city": "Deschambault-Grondines",
            "address": "Quai de Deschambault",
            "season_start": "2026-06-06",
            "season_end": "2026-10-10",
        },
    )

    assert response.status_code == 302
    market = Market.objects.get(pk=world.a.market.pk)
    assert (market.city, market.address) == ("Deschambault-Grondines", "Quai de Deschambault")
    assert (market.season_start, market.season_end) == (
        datetime.date(2026, 6, 6),
        datetime.date(2026, 10, 10),
    )
    page = text(client.get(reverse("marches:market_detail", args=[market.slug])))
    assert "Quai de Deschambault" in page and "6 juin 2026" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"city": "X", "season_start": "2026-10-10", "season_end": "2026-06-06"},
            "La fin de la saison doit être le même jour que son début ou après.",
        ),
        (
            {"city": "X", "season_start": "2026-06-06"},
            "Indiquez le début et la fin de la saison, ou laissez les deux vides.",
        ),
        ({"city": ""}, "Ce champ est obligatoire."),
        ({"city": "X", "season_end": "hier"}, "Saisissez une date valide."),
        ({"city": "X", "address": "a" * 256}, "au plus 255 caractères"),
    ],
)
def test_bad_market_edits_are_explained_and_change_nothing(
    client: Client, world: Any, data: dict[str, str], message: str
) -> None:
    client.force_login(world.a.manager)

    response = client.post(reverse("marches:market_edit", args=[world.a.market.slug]), data)

    assert response.status_code == 400
    assert message in text(response)
    market = Market.objects.get(pk=world.a.market.pk)
    assert (market.city, market.season_start) == ("Saint-Casimir", None)


def test_a_season_that_would_leave_days_outside_is_refused(world: Any) -> None:
    market = with_season(world.a.market)
    MarketDay.objects.create(market=market, date=today() + days(60))

    with pytest.raises(MarketError) as raised:
        update_market(
            market=market,
            city=market.city,
            season_start=today() - days(7),
            season_end=today() + days(30),
        )
    assert raised.value.code == "days_outside_season"
    assert "serait hors de la saison" in raised.value.message
    with pytest.raises(MarketError) as raised:
        update_market(market=market, city=market.city)
    assert raised.value.code == "days_outside_season"
    market.refresh_from_db()
    assert market.season_end == today() + days(90)


def test_a_city_change_may_not_duplicate_another_market(world: Any) -> None:
    MarketFactory(name="Marché a", slug="autre", city="Portneuf")
    with pytest.raises(MarketError) as raised:
        update_market(market=world.a.market, city="portneuf")
    assert raised.value.code == "duplicate_market"


# Scopes and query counts -----------------------------------------------------------------------


def test_the_days_and_edit_pages_are_for_the_markets_people_only(
    client: Client, world: Any
) -> None:
    market = with_season(world.a.market)
    day = MarketDay.objects.create(market=market, date=today() + days(3))
    urls = [
        days_url(market),
        reverse("marches:market_edit", args=[market.slug]),
        reverse("marches:market_day_remove", args=[market.slug, day.pk]),
    ]
    for user in [world.a.manager, world.a.coordinator, world.admin]:
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 200, (user, url)
    for user in [
        world.b.manager,
        world.b.coordinator,
        world.a.vendor_user,
        world.a.intervenant,
        world.nobody,
    ]:
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
            assert client.post(url, form_data(city="Ailleurs")).status_code == 404, (user, url)
    assert MarketDay.objects.filter(pk=day.pk).exists()
    assert MarketDay.objects.count() == 1
    assert Market.objects.get(pk=market.pk).city == "Saint-Casimir"


def test_a_day_of_another_market_is_not_found_through_this_one(client: Client, world: Any) -> None:
    other = with_season(world.b.market)
    day = MarketDay.objects.create(market=other, date=today() + days(3))
    client.force_login(world.admin)

    url = reverse("marches:market_day_remove", args=[world.a.market.slug, day.pk])

    assert client.post(url).status_code == 404
    assert MarketDay.objects.filter(pk=day.pk).exists()


def test_the_days_page_is_paginated_with_a_bounded_number_of_queries(
    client: Client, world: Any, django_assert_max_num_queries: Any
) -> None:
    market = with_season(world.a.market, start=-200, end=200)
    add_market_days(market=market, start=today(), end=today() + days(2))
    client.force_login(world.a.manager)
    client.get(days_url(market))
    with django_assert_max_num_queries(20) as few:
        client.get(days_url(market))

    add_market_days(market=market, start=today() + days(3), end=today() + days(100))
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(days_url(market))

    assert len(response.context["page_obj"].object_list) == 25
    assert response.context["page_obj"].paginator.count == 101
    past = client.get(days_url(market), {"passees": "1", "page": "2"})
    assert past.context["show_past"] is True
