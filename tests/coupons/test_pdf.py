"""Tests for the printable coupon PDF (no database, no Django)."""

from __future__ import annotations

import io
import random
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pypdf
import pypdfium2 as pdfium
import pytest

from coupons.pdf import (
    COUPONS_PER_PAGE,
    PAGE_HEIGHT,
    PrintableCoupon,
    Rect,
    coupon_slot_layout,
    format_money_fr,
    render_coupons_pdf,
    stream_coupons_pdf,
)
from tests.qr_images import crop_around, decode_qr_codes, render_pdf_page

QR_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
MANUAL_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"
CATEGORIES = ("Fruits et légumes", "Produits laitiers", "Viandes et œufs", "Pains et céréales")
DPI = 200


@pytest.fixture(autouse=True)
def _fast_and_french() -> None:
    """Shadow the project-wide autouse fixture of that name: it needs pytest-django's
    ``settings``, and these tests are Django-free (they also run with ``-p no:django``)."""


def make_coupons(count: int, *, seed: int = 1234) -> list[PrintableCoupon]:
    rng = random.Random(seed)
    coupons = []
    for number in range(1, count + 1):
        code = "".join(rng.choice(MANUAL_ALPHABET) for _ in range(14))
        coupons.append(
            PrintableCoupon(
                serial=f"PORT-{number:06d}",
                qr_text="PCN1:" + "".join(rng.choice(QR_ALPHABET) for _ in range(140)),
                manual_code=f"{code[0:4]}-{code[4:8]}-{code[8:12]}-{code[12:14]}",
                value=Decimal("5.00"),
                currency="CAD",
                valid_from=date(2026, 6, 1),
                valid_until=date(2026, 10, 31),
                program_name="Programme de coupons alimentaires – Marché Jean-Talon",
                categories=CATEGORIES,
                holder=f"Ménage M-{number:04d}" if number % 2 else None,
            )
        )
    return coupons


def page_texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_ten_coupons_two_pages_with_text_and_one_qr_each() -> None:
    coupons = make_coupons(10)
    pdf = render_coupons_pdf(coupons, title="Coupons – lot 7", author="Équipe PCN")

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 2
    assert reader.metadata is not None
    assert reader.metadata.title == "Coupons – lot 7"
    assert reader.metadata.author == "Équipe PCN"

    texts = page_texts(pdf)
    for index, coupon in enumerate(coupons):
        page_text = texts[index // COUPONS_PER_PAGE]
        other_text = texts[1 - index // COUPONS_PER_PAGE]
        assert coupon.manual_code in page_text
        assert coupon.manual_code not in other_text
        assert coupon.serial in page_text
        assert coupon.serial not in other_text
        if coupon.holder:
            assert coupon.holder in page_text
    for page_text in texts:
        assert "5,00" in page_text
        assert "Marché Jean-Talon" in page_text
        assert "Fruits et légumes" in page_text
        assert "Code manuel / Manual code" in page_text
        assert "Valide du / Valid from 2026-06-01" in page_text
        assert "\u25a0" not in page_text  # no "black box" replacement glyphs

    for page_index, expected in enumerate((coupons[:8], coupons[8:])):
        image = render_pdf_page(pdf, page_index, dpi=DPI)
        decoded = decode_qr_codes(image)
        # Exactly one QR per coupon, nothing else, in reading order (slot order).
        assert [qr.text for qr in decoded] == [coupon.qr_text for coupon in expected]


def test_qr_codes_sit_in_their_slot_zone_at_a_phone_friendly_size() -> None:
    coupons = make_coupons(8, seed=99)
    image = render_pdf_page(render_coupons_pdf(coupons, title="Zones"), 0, dpi=DPI)

    for slot, coupon in enumerate(coupons):
        layout = coupon_slot_layout(slot)
        zone_box = layout.qr_zone.to_pixels(DPI)
        crop = crop_around(image, zone_box, 4)
        decoded = decode_qr_codes(crop)
        assert [qr.text for qr in decoded] == [coupon.qr_text]
        symbol_inches = (decoded[0].right - decoded[0].left) / DPI
        assert 1.3 <= symbol_inches <= 1.5
        assert _contains(layout.cell, layout.qr_zone)


def test_empty_list_raises() -> None:
    with pytest.raises(ValueError):
        render_coupons_pdf([], title="Rien")


def test_long_category_list_stays_in_the_cell_and_qr_still_decodes() -> None:
    long_categories = tuple(
        f"Catégorie très longue numéro {n} (fruits, légumes)" for n in range(60)
    )
    coupons = make_coupons(4, seed=7)
    coupons[3] = replace(
        coupons[3],
        categories=long_categories,
        program_name="Un nom de programme vraiment très long " * 4,
        holder="Ménage M-9999 " * 6,
    )
    pdf = render_coupons_pdf(coupons, title="Long")

    decoded = decode_qr_codes(render_pdf_page(pdf, 0, dpi=DPI))
    assert [qr.text for qr in decoded] == [coupon.qr_text for coupon in coupons]
    page_text = page_texts(pdf)[0]
    assert coupons[3].manual_code in page_text
    assert "Catégorie très longue numéro 0" in page_text

    # Every character of slot 3 lies inside its cell and outside its QR zone.
    layout = coupon_slot_layout(3)
    slot_chars = 0
    document = pdfium.PdfDocument(pdf)
    try:
        text_page = document[0].get_textpage()
        for index in range(text_page.count_chars()):
            left, bottom, right, top = text_page.get_charbox(index)
            center_x, center_y = (left + right) / 2, (bottom + top) / 2
            if not _point_in(layout.cell, center_x, center_y):
                continue
            slot_chars += 1
            box = Rect(left, bottom, right - left, top - bottom)
            assert _contains(layout.cell, box)
            assert not _overlaps(layout.qr_zone, box)
    finally:
        document.close()
    assert slot_chars > 100


def test_format_money_fr() -> None:
    assert format_money_fr(Decimal("5")) == "5,00\u00a0$"
    assert format_money_fr(Decimal("1234.5")) == "1\u202f234,50\u00a0$"
    assert format_money_fr(Decimal("1234567.005")) == "1\u202f234\u202f567,01\u00a0$"
    assert format_money_fr(Decimal("0.5")) == "0,50\u00a0$"


def test_rect_to_pixels_uses_top_left_origin() -> None:
    rect = Rect(x=36, y=PAGE_HEIGHT - 36 - 72, width=72, height=72)
    assert rect.to_pixels(144) == (72, 72, 216, 216)


def _point_in(rect: Rect, x: float, y: float) -> bool:
    return rect.x <= x <= rect.x + rect.width and rect.y <= y <= rect.y + rect.height


def _contains(outer: Rect, inner: Rect) -> bool:
    return (
        outer.x <= inner.x
        and outer.y <= inner.y
        and inner.x + inner.width <= outer.x + outer.width
        and inner.y + inner.height <= outer.y + outer.height
    )


def _overlaps(a: Rect, b: Rect) -> bool:
    return (
        a.x < b.x + b.width
        and b.x < a.x + a.width
        and a.y < b.y + b.height
        and b.y < a.y + a.height
    )


# --- Streaming, logo, progress -------------------------------------------------------------------


def png_logo(width: int = 120, height: int = 80) -> bytes:
    """A logo of random pixels: it does not compress, so its embedded size shows."""
    from PIL import Image

    noise = random.Random(width * height).randbytes(width * height * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(buffer, format="PNG")
    return buffer.getvalue()


def test_pages_can_come_from_a_generator_without_a_length() -> None:
    coupons = make_coupons(11, seed=5)

    pdf = render_coupons_pdf((coupon for coupon in coupons), title="Flux")

    texts = page_texts(pdf)
    assert len(texts) == 2
    assert [qr.text for qr in decode_qr_codes(render_pdf_page(pdf, 1, dpi=150))] == [
        coupon.qr_text for coupon in coupons[8:]
    ]
    # Without a length the pages are numbered without a total; with one, "n / N".
    assert "Page 2" in texts[1]
    assert "Page 2 / 2" not in texts[1]
    assert "Page 2 / 2" in page_texts(render_coupons_pdf(coupons, title="Liste"))[1]


def test_an_empty_generator_raises_before_writing_anything() -> None:
    out = io.BytesIO()
    with pytest.raises(ValueError):
        stream_coupons_pdf(iter([]), out, title="Rien")
    assert out.getvalue() == b""


def test_each_page_is_written_as_soon_as_it_is_drawn() -> None:
    coupons = make_coupons(20, seed=8)
    out = io.BytesIO()
    reports: list[tuple[int, int]] = []

    printed = stream_coupons_pdf(
        iter(coupons),
        out,
        title="Flux",
        total=len(coupons),
        progress=lambda done: reports.append((done, out.tell())),
    )

    assert printed == 20
    # One report per page, with the count so far; the file grows with every page (pages are
    # not held until the end), and the end of the file comes after the last report.
    assert [done for done, _ in reports] == [8, 16, 20]
    sizes = [size for _, size in reports]
    assert sizes[0] > 5_000
    assert sizes[0] < sizes[1] < sizes[2] < len(out.getvalue())
    reader = pypdf.PdfReader(io.BytesIO(out.getvalue()), strict=True)
    assert len(reader.pages) == 3
    assert coupons[19].manual_code in reader.pages[2].extract_text()


def test_the_logo_is_on_every_coupon_and_embedded_once() -> None:
    coupons = make_coupons(17, seed=3)
    pdf = render_coupons_pdf(coupons, title="Logo", logo_png=png_logo(900, 600))

    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 3
    for page in reader.pages:
        assert len(page.images) == 1
    # One image object in the whole file, drawn once per coupon (through one form).
    assert pdf.count(b"/Subtype /Image") == 1
    content = reader.pages[0].get_contents()
    assert content is not None
    assert content.get_data().count(b"/FormXob.logo Do") == COUPONS_PER_PAGE
    # A large logo (1.6 MB of pixels) is scaled down before it is embedded.
    assert len(pdf) < len(render_coupons_pdf(coupons, title="Logo")) + 100_000
    # The logo sits in its zone, and the QR codes still decode.
    image = render_pdf_page(pdf, 0, dpi=DPI)
    left, top, right, bottom = coupon_slot_layout(0).logo_zone.to_pixels(DPI)
    logo_pixels = image.crop((left, top, right, bottom)).getcolors(maxcolors=1_000_000)
    assert logo_pixels is not None and len(logo_pixels) > 100  # noise, not blank paper
    assert [qr.text for qr in decode_qr_codes(image)] == [c.qr_text for c in coupons[:8]]


def test_a_logo_that_is_not_an_image_is_refused() -> None:
    with pytest.raises(ValueError):
        render_coupons_pdf(make_coupons(1), title="Logo", logo_png=b"not a png")


def test_without_a_logo_there_is_no_image() -> None:
    pdf = render_coupons_pdf(make_coupons(3), title="Sans logo")
    assert b"/Subtype /Image" not in pdf
    assert len(pypdf.PdfReader(io.BytesIO(pdf)).pages[0].images) == 0


def test_the_value_is_the_biggest_text_on_the_coupon() -> None:
    coupons = [replace(coupon, value=Decimal("10.00")) for coupon in make_coupons(2)]
    page = pypdf.PdfReader(io.BytesIO(render_coupons_pdf(coupons, title="Valeur"))).pages[0]
    sizes: dict[str, float] = {}

    def visit(text: str, cm: object, tm: object, font: object, size: float) -> None:
        if text.strip():
            sizes[text.strip()] = max(size, sizes.get(text.strip(), 0.0))

    page.extract_text(visitor_text=visit)
    value = format_money_fr(Decimal("10.00"))
    assert sizes[value] >= 24
    assert sizes[value] == max(sizes.values())
    assert "Aucune monnaie rendue / No change given" in sizes


def test_text_outside_winansi_is_approximated_not_boxed() -> None:
    coupon = replace(
        make_coupons(1)[0],
        program_name="Programme «Ŵ» – Kuujjuaq ᐃᓄᒃᑎᑐᑦ",
        categories=("Fruits (été) \\ légumes",),
    )
    text = page_texts(render_coupons_pdf([coupon], title="Ŵ"))[0]
    assert "Programme «W» – Kuujjuaq" in text
    assert "Fruits (été) \\ légumes" in text
