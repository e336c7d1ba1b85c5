"""The report pages and downloads: who reaches them, what they show, and how many queries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from financement.models import Funder
from tests import factories as f
from tests.helpers import text
from tests.rapports.conftest import BulkMaker, Season

pytestmark = pytest.mark.django_db

KINDS = ("pdf", "csv", "xlsx")


def program_url(program: Any, kind: str = "") -> str:
    name = f"rapports:report_program_{kind}" if kind else "rapports:report_program"
    return reverse(name, args=[program.slug])


def territory_url(territory: Any, kind: str = "") -> str:
    name = f"rapports:report_territory_{kind}" if kind else "rapports:report_territory"
    return reverse(name, args=[territory.pk])


def network_url(kind: str = "") -> str:
    return reverse(f"rapports:report_network_{kind}" if kind else "rapports:report_network")


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def plain(content: str) -> str:
    """Text with the non-breaking spaces of French numbers as plain spaces."""
    return content.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def admin(db: Any) -> Any:
    return f.UserFactory(email="reseau@example.org", is_network_admin=True)


@pytest.fixture
def funder_staff(season: Season) -> Any:
    """Staff of Fondation Lucie, which funds programs a and c (not b)."""
    user = f.UserFactory(email="fondation@example.org")
    Funder.objects.get(name="Fondation Lucie").members.add(user)
    return user


# Scope -------------------------------------------------------------------------------------


def test_a_coordinator_reads_the_report_of_their_program(season: Season) -> None:
    response = as_user(season.coordinator).get(program_url(season.a))

    assert response.status_code == 200
    page = plain(text(response))
    assert "Programme Portneuf" in page
    # a's funds: 3 000 + 2 000 + 500 in contributions, 50 − 20 donated, 20 sold.
    assert "5 550,00 $" in page
    assert "Fondation Lucie" in page
    assert "Marché de Saint-Casimir" in page
    assert "< 5" not in page  # a coordinator sees every figure


def test_someone_outside_gets_404_on_every_report_page_and_download(
    season: Season, admin: Any
) -> None:
    outsider = as_user(f.UserFactory(email="personne@example.org"))
    coordinator = as_user(season.coordinator)
    urls = [program_url(season.a), *(program_url(season.a, kind) for kind in KINDS)]
    for url in urls:
        assert outsider.get(url).status_code == 404, url
    group = [territory_url(season.portneuf), network_url()]
    group += [territory_url(season.portneuf, kind) for kind in KINDS]
    group += [network_url(kind) for kind in KINDS]
    for url in group:
        # Only network admins read a territory's or the network's report.
        assert outsider.get(url).status_code == 404, url
        assert coordinator.get(url).status_code == 404, url


def test_an_unknown_program_or_territory_is_404_even_for_an_admin(admin: Any) -> None:
    client = as_user(admin)
    assert client.get(reverse("rapports:report_program", args=["inconnu"])).status_code == 404
    assert client.get(reverse("rapports:report_territory", args=[999999])).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(season: Season) -> None:
    response = Client().get(program_url(season.a, "pdf"))
    assert response.status_code == 302
    assert "/comptes/login/" in response["Location"]


def test_the_pages_only_read(season: Season, admin: Any) -> None:
    client = as_user(admin)
    assert client.post(program_url(season.a)).status_code == 405
    assert client.post(network_url("csv")).status_code == 405


def test_the_admin_sees_a_territory_and_the_network_side_by_side(
    season: Season, admin: Any
) -> None:
    client = as_user(admin)

    territory = plain(text(client.get(territory_url(season.portneuf))))
    assert 'data-row="portneuf"' in territory
    assert 'data-row="portneuf-jeunesse"' in territory
    assert 'data-row="mitis"' not in territory

    network = client.get(network_url())
    assert network.status_code == 200
    page = plain(text(network))
    for program in season.programs:
        assert f'data-row="{program.slug}"' in page
    # The network's funds: a 5 550, b 1 500, c 800.
    assert "7 850,00 $" in page


def test_a_funder_reads_only_the_programs_it_funds_suppressed(
    season: Season, funder_staff: Any
) -> None:
    client = as_user(funder_staff)

    assert client.get(program_url(season.b)).status_code == 404
    assert client.get(program_url(season.b, "csv")).status_code == 404
    assert client.get(network_url()).status_code == 404

    response = client.get(program_url(season.a))
    assert response.status_code == 200
    page = plain(text(response))
    assert 'id="note-bailleur"' in page
    # Five households reached, some of them in cells of one or two: suppressed, never 0.
    assert "< 5" in page
    assert 'id="note-masquage"' in page
    raw = response.content.decode()
    suppressed = re.findall(r'<td class="num cell--suppressed"[^>]*>([^<]*)</td>', raw)
    assert suppressed and set(suppressed) == {"&lt; 5"}
    # Money is not a count of households: the funder sees it whole.
    assert "5 550,00 $" in page


def test_the_page_has_no_inline_style_or_script_and_accessible_charts(
    season: Season, admin: Any
) -> None:
    page = text(as_user(admin).get(program_url(season.a)))

    assert "style=" not in page
    assert "<script" not in page
    assert page.count('role="img"') >= 4
    for key in ("funds", "by_market", "by_week", "by_category"):
        assert f'id="chart-{key}"' in page
        assert f'<title id="chart-{key}-title">' in page
    assert 'id="table-by_market"' in page
    assert "css/reports.css" in page


def test_the_page_links_its_downloads(season: Season) -> None:
    page = text(as_user(season.coordinator).get(program_url(season.a)))
    for href in (
        program_url(season.a, "pdf") + "?lang=fr",
        program_url(season.a, "pdf") + "?lang=en",
        program_url(season.a, "csv"),
        program_url(season.a, "xlsx"),
    ):
        assert f'href="{href}"' in page


def test_the_page_speaks_english_when_asked(season: Season) -> None:
    client = as_user(season.coordinator)
    client.cookies["django_language"] = "en"
    page = plain(text(client.get(program_url(season.a))))
    assert "$5,550.00" in page


# Downloads ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type", "magic"),
    [
        ("pdf", "application/pdf", b"%PDF"),
        ("csv", "text/csv; charset=utf-8", "\ufeffsection".encode()),
        (
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK",
        ),
    ],
)
def test_each_download_is_a_file_of_its_kind(
    season: Season, kind: str, content_type: str, magic: bytes
) -> None:
    response = as_user(season.coordinator).get(program_url(season.a, kind), {"lang": "en"})

    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'attachment; filename="rapport-portneuf-en.{kind}"'
    assert response.content.startswith(magic)


def test_a_download_defaults_to_french(season: Season) -> None:
    response = as_user(season.coordinator).get(program_url(season.a, "csv"))
    assert response.status_code == 200
    assert "Fonds du programme" in response.content.decode("utf-8-sig")


@pytest.mark.parametrize("lang", ["de", "fr-ca", "<script>", "fr,en"])
def test_an_unknown_language_is_a_clear_400(season: Season, lang: str) -> None:
    response = as_user(season.coordinator).get(program_url(season.a, "pdf"), {"lang": lang})

    assert response.status_code == 400
    assert "Langue du rapport inconnue" in response.content.decode()


def test_the_territory_and_network_downloads_work_for_the_admin(season: Season, admin: Any) -> None:
    client = as_user(admin)
    response = client.get(territory_url(season.portneuf, "csv"))
    assert response.status_code == 200
    assert 'filename="rapport-portneuf-fr.csv"' in response["Content-Disposition"]
    response = client.get(network_url("xlsx"), {"lang": "fr"})
    assert response.status_code == 200
    assert 'filename="rapport-reseau-fr.xlsx"' in response["Content-Disposition"]


def test_a_funder_download_is_suppressed_too(season: Season, funder_staff: Any) -> None:
    body = as_user(funder_staff).get(program_url(season.a, "csv")).content.decode("utf-8-sig")
    assert ",1\r\n" in body  # at least one figure flagged suppressed


# Query counts ------------------------------------------------------------------------------


def _count(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize(
    "which", ["program", "program_pdf", "program_xlsx", "territory", "network", "network_csv"]
)
def test_every_page_and_download_runs_the_same_queries_with_more_data(
    season: Season,
    admin: Any,
    make_redemptions: BulkMaker,
    django_assert_max_num_queries: Any,
    which: str,
) -> None:
    urls = {
        "program": program_url(season.a),
        "program_pdf": program_url(season.a, "pdf"),
        "program_xlsx": program_url(season.a, "xlsx"),
        "territory": territory_url(season.portneuf),
        "network": network_url(),
        "network_csv": network_url("csv"),
    }
    client = as_user(admin)
    url = urls[which]
    few = _count(client, url)

    for program in season.programs:
        make_redemptions(program, 60)
    more = f.ProgramFactory(territory=season.portneuf)
    make_redemptions(more, 40)

    with django_assert_max_num_queries(few):
        assert client.get(url).status_code == 200


def test_the_funder_page_runs_the_same_queries_with_more_data(
    season: Season,
    funder_staff: Any,
    make_redemptions: BulkMaker,
    django_assert_max_num_queries: Any,
) -> None:
    client = as_user(funder_staff)
    few = _count(client, program_url(season.a))
    make_redemptions(season.a, 80)
    with django_assert_max_num_queries(few):
        assert client.get(program_url(season.a)).status_code == 200
