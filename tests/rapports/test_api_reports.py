"""GET /api/v1/reports/programs/<slug>: a funder's token reads the aggregates of a program it
funds, small cells suppressed, and nothing about a person."""

from __future__ import annotations

import datetime
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from financement import access
from financement.models import Funder
from financement.services import create_funder, record_contribution
from marches.redemptions import redeem_coupon
from programmes.models import Program
from tests import factories as f

pytestmark = pytest.mark.django_db

AMOUNTS = ("funds", "issued", "redeemed", "outstanding", "expired", "reimbursed")


def url(slug: str) -> str:
    return f"/api/v1/reports/programs/{slug}"


def get(client: Any, slug: str, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return client.get(url(slug), headers=headers)


def households(world: Any, count: int, *, spend: bool = True) -> list[Any]:
    """`count` households of program a, each with two coupons, one of them redeemed."""
    scope = world.a
    made = []
    for _ in range(count):
        household = f.HouseholdFactory(
            program=scope.program, organization=scope.organization, enrolled_by=scope.intervenant
        )
        coupons = [
            f.CouponFactory(program=scope.program, household=household, value=Decimal("5.00"))
            for _ in range(2)
        ]
        if spend:
            redeem_coupon(
                code=coupons[0].code,
                vendor=scope.vendor,
                market=scope.market,
                client_id=uuid.uuid4(),
                device=scope.device,
                scanned_at=timezone.now() - datetime.timedelta(hours=1),
            )
        made.append(household)
    return made


@pytest.fixture
def foundation(world: Any) -> Funder:
    funder = create_funder(name="Fondation Lauréat", kind="foundation")
    record_contribution(
        program=world.a.program,
        funder=funder,
        amount=Decimal("2500.00"),
        received_on=timezone.localdate() - datetime.timedelta(days=2),
        recorded_by=None,
    )
    return funder


@pytest.fixture
def token(foundation: Funder) -> str:
    return access.create_funder_token(funder=foundation, label="API", created_by=None)[1]


def test_it_answers_the_funding_figures_as_count_and_decimal_string(
    client: Any, world: Any, token: str
) -> None:
    households(world, 6)

    response = get(client, world.a.program.slug, token)

    assert response.status_code == 200
    body = response.json()
    for name in AMOUNTS:
        assert set(body[name]) == {"count", "value"}
        assert isinstance(body[name]["value"], str) and "." in body[name]["value"]
    assert body["issued"] == {"count": 12, "value": "60.00"}
    assert body["redeemed"] == {"count": 6, "value": "30.00"}
    assert body["funds"]["count"] is None
    assert body["impact"]["spent_local"] == {"count": 6, "value": "30.00"}
    assert body["program"] == world.a.program.slug
    assert body["min_cell"] == 5


def test_small_counts_are_null_for_a_funder(client: Any, world: Any, token: str) -> None:
    households(world, 3)

    impact = get(client, world.a.program.slug, token).json()["impact"]

    assert impact["households"] is None
    assert impact["people"] is None
    assert "households" in impact["suppressed"]
    assert all(
        row["households"] is None or row["households"] == 0 or row["households"] >= 5
        for row in impact["by_household_size"]
    )


def test_a_funder_never_gets_a_row_about_a_person(client: Any, world: Any, token: str) -> None:
    made = households(world, 7)

    text = get(client, world.a.program.slug, token).content.decode()

    for household in [*made, world.a.household]:
        assert household.name not in text
        assert household.reference not in text
        assert f'"id": {household.pk}' not in text
    for coupon_field in ("serial", "code", "postal_code", "email", "phone"):
        assert f'"{coupon_field}"' not in text


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer pcnf_nope", "Basic abc"])
def test_no_or_a_bad_token_is_a_401(client: Any, world: Any, token: str, header: Any) -> None:
    headers = {"Authorization": header} if header is not None else {}

    response = client.get(url(world.a.program.slug), headers=headers)

    assert response.status_code == 401
    assert response.json()["detail"] == "Jeton de bailleur de fonds absent, invalide ou révoqué."


def test_a_device_token_is_a_401(client: Any, world: Any, token: str) -> None:
    assert get(client, world.a.program.slug, world.a.token).status_code == 401


def test_a_revoked_token_is_a_401(client: Any, world: Any, foundation: Funder) -> None:
    row, token = access.create_funder_token(funder=foundation, label="x", created_by=None)
    assert get(client, world.a.program.slug, token).status_code == 200

    access.revoke_funder_token(token=row)

    assert get(client, world.a.program.slug, token).status_code == 401


def test_a_program_it_does_not_fund_is_a_404_like_one_that_does_not_exist(
    client: Any, world: Any, token: str
) -> None:
    other = get(client, world.b.program.slug, token)
    missing = get(client, "nulle-part", token)

    assert other.status_code == missing.status_code == 404
    assert other.json() == missing.json()


def test_a_token_marks_its_last_use(client: Any, world: Any, foundation: Funder) -> None:
    row, token = access.create_funder_token(funder=foundation, label="x", created_by=None)

    get(client, world.a.program.slug, token)

    row.refresh_from_db()
    assert row.last_used_at is not None


def test_the_queries_do_not_grow_with_the_data(
    client: Any, world: Any, token: str, django_assert_max_num_queries: Any
) -> None:
    households(world, 2)
    with django_assert_max_num_queries(30) as small:
        assert get(client, world.a.program.slug, token).status_code == 200
    households(world, 25)
    market = f.MarketFactory(program=world.a.program)
    world.a.vendor.markets.add(market)

    with django_assert_max_num_queries(len(small.captured_queries)) as large:
        assert get(client, world.a.program.slug, token).status_code == 200
    # The first call also marked the token as used (once a minute at most).
    assert len(large.captured_queries) <= len(small.captured_queries)


def test_the_openapi_description_has_the_path_and_its_schema(client: Any) -> None:
    schema = client.get("/api/v1/openapi.json").json()

    operation = schema["paths"]["/api/v1/reports/programs/{slug}"]["get"]
    assert {"200", "401", "404"} <= set(operation["responses"])
    report = schema["components"]["schemas"]["ProgramReportOut"]
    assert set(AMOUNTS) <= set(report["properties"])
    assert "impact" in report["properties"]
    assert schema["components"]["schemas"]["AmountOut"]["properties"]["value"]


def test_the_demo_prints_working_funder_tokens(client: Any) -> None:
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("seed_demo", "--json", stdout=out, stderr=io.StringIO())
    demo = json.loads(out.getvalue())

    assert len(demo["funder_tokens"]) >= 2
    for entry in demo["funder_tokens"]:
        assert set(entry) == {"funder", "programs", "token"}
        for slug in entry["programs"]:
            assert get(client, slug, entry["token"]).status_code == 200
        unfunded = set(Program.objects.values_list("slug", flat=True)) - set(entry["programs"])
        for slug in unfunded:
            assert get(client, slug, entry["token"]).status_code == 404
    assert any(user["role"] == "funder" for user in demo["users"])
