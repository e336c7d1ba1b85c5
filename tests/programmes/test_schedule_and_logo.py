"""A program's distribution schedule, its coupons' validity and the logo printed on them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from PIL import Image

from programmes.models import Program, ProgramLogo
from tests.helpers import text
from tests.programmes.test_programs import CREATE_URL, program_data

pytestmark = pytest.mark.django_db


def image_bytes(kind: str = "JPEG", size: tuple[int, int] = (1200, 800)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (20, 120, 60)).save(out, format=kind)
    return out.getvalue()


def edit_url(program: Program) -> str:
    return reverse("programmes:program_edit", kwargs={"slug": program.slug})


def test_a_monthly_program_with_a_validity_is_saved_and_its_dates_shown(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)

    client.post(
        CREATE_URL,
        program_data(
            distribution_frequency="monthly", distribution_count="4", coupon_validity_days="30"
        ),
    )

    program = Program.objects.get(name="Coupons Portneuf 2026")
    assert (program.distribution_frequency, program.distribution_count) == ("monthly", 4)
    assert program.coupon_validity_days == 30
    page = text(client.get(edit_url(program)))
    for day in ("1 juin 2026", "1 juillet 2026", "1 août 2026", "1 septembre 2026"):
        assert day in page


def test_once_means_a_single_distribution(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    client.post(CREATE_URL, program_data(distribution_frequency="once", distribution_count="12"))
    assert Program.objects.get(name="Coupons Portneuf 2026").distribution_count == 1


def test_monthly_distributions_past_the_season_are_refused(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    response = client.post(
        CREATE_URL, program_data(distribution_frequency="monthly", distribution_count="6")
    )
    assert response.status_code == 400
    assert "La dernière distribution aurait lieu le 1 novembre 2026" in text(response)
    assert not Program.objects.filter(name="Coupons Portneuf 2026").exists()


def test_an_unknown_frequency_is_refused(client: Client, world: Any) -> None:
    client.force_login(world.a.coordinator)
    response = client.post(CREATE_URL, program_data(distribution_frequency="daily"))
    assert response.status_code == 400
    assert not Program.objects.filter(name="Coupons Portneuf 2026").exists()


def test_an_uploaded_logo_is_kept_as_a_small_png_and_can_be_removed(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    program = world.a.program
    upload = SimpleUploadedFile("logo.jpg", image_bytes(), content_type="image/jpeg")

    client.post(edit_url(program), {**program_data(), "logo": upload})

    logo = ProgramLogo.objects.get(program=program)
    with Image.open(io.BytesIO(bytes(logo.png))) as image:
        assert image.format == "PNG"
        assert max(image.size) == 600
    assert "Retirer le logo actuel" in text(client.get(edit_url(program)))

    client.post(edit_url(program), {**program_data(), "remove_logo": "on"})
    assert not ProgramLogo.objects.filter(program=program).exists()


def test_a_file_that_is_not_an_image_is_refused_and_changes_nothing(
    client: Client, world: Any
) -> None:
    client.force_login(world.a.coordinator)
    program = world.a.program
    name = program.name
    upload = SimpleUploadedFile("logo.png", b"%PDF-1.4 not an image", content_type="image/png")

    response = client.post(edit_url(program), {**program_data(name="Nouveau nom"), "logo": upload})

    assert response.status_code == 400
    assert "Le logo doit être une image PNG, JPEG, GIF ou WebP." in text(response)
    program.refresh_from_db()
    assert program.name == name
    assert not ProgramLogo.objects.exists()
