"""The PDF report: its text (extracted with pypdf) in each language, and its charts (rasterized
with pypdfium2 when it is installed)."""

from __future__ import annotations

import dataclasses
import io
from decimal import Decimal

import pytest
from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader

from rapports.report_pdf import pdf_text, render_report_pdf
from rapports.report_sections import layout
from rapports.report_types import Breakdown
from tests.rapports import report_samples as samples


def pdf(language: str, *, scope: str = "program", funder: bool = False) -> bytes:
    impact = samples.impact_report(scope)
    if funder:
        impact = samples.suppressed(impact)
    return render_report_pdf(
        layout(samples.funding_report(scope), impact, language=language, min_cell=5)
    )


def extracted(content: bytes) -> str:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return text.replace("\xa0", " ").replace("\u202f", " ")


def translated(message: str, language: str) -> str:
    with translation.override(language):
        return gettext(message)


def test_the_french_pdf_holds_the_title_the_figures_and_the_chart_labels() -> None:
    text = extracted(pdf("fr"))

    assert "Rapport de financement et d'impact" in text
    assert "Programme de Portneuf" in text
    assert "Au 14 août 2026" in text
    # Figures, formatted fr_CA.
    assert "12 510,00 $" in text  # funds
    assert "5 500,00 $" in text  # issued
    assert "1 234,50 $" in text  # Deschambault-Grondines
    assert "78,5 %" in text  # share used
    assert "587" in text
    # The charts' labels and values.
    assert "Où vont les fonds" in text
    assert "Engagés (coupons en circulation) : 1 500,00 $" in text
    assert "Dépensés (coupons échangés) : 3 734,50 $" in text
    assert "Marché de Saint-Casimir" in text
    assert "Semaine du 8 juin" in text
    assert "Fondation Lucie" in text


def test_the_english_pdf_speaks_english() -> None:
    text = extracted(pdf("en"))

    assert translated("Rapport de financement et d'impact", "en") in text
    assert "August 14, 2026" in text
    assert "$12,510.00" in text
    assert "$1,234.50" in text
    assert "78.5%" in text
    assert "12 510,00 $" not in text
    assert translated("Où vont les fonds", "en") in text


def test_the_pdf_names_its_language_and_title() -> None:
    reader = PdfReader(io.BytesIO(pdf("en")))
    assert reader.metadata is not None
    assert "Programme de Portneuf" in (reader.metadata.title or "")
    assert len(reader.pages) >= 3


def test_the_funders_pdf_shows_suppressed_cells_as_less_than_five_with_the_note() -> None:
    text = extracted(pdf("fr", funder=True))

    assert "< 5" in text
    assert "moins de 5 ménages" in text
    # The full copy has no such cell.
    assert "< 5" not in extracted(pdf("fr"))


def test_a_network_pdf_lists_every_program_side_by_side() -> None:
    text = extracted(pdf("fr", scope="network"))

    assert "Programmes côte à côte" in text
    assert "Kamouraska" in text
    assert "25 020,00 $" in text  # the second program's funds


def test_a_long_breakdown_runs_over_several_pages() -> None:
    impact = samples.impact_report()
    markets = [
        Breakdown(f"m{i}", f"Marché {i}", 10, samples.amount(i, f"{i}.00")) for i in range(120)
    ]
    impact = dataclasses.replace(impact, by_market=markets)
    content = render_report_pdf(layout(samples.funding_report(), impact, language="fr"))

    text = extracted(content)
    assert "Marché 119" in text
    assert len(PdfReader(io.BytesIO(content)).pages) >= 5


def test_text_outside_the_pdf_fonts_is_approximated_not_dropped() -> None:
    assert pdf_text("Œufs · 1\u202f234 ≥ ﬁ ✓") == "Œufs · 1\xa0234 ? fi ?"
    impact = dataclasses.replace(
        samples.impact_report(),
        by_category=[Breakdown("x", "Légumes ✓ bio", None, samples.amount(1, "2.00"))],
    )
    text = extracted(render_report_pdf(layout(samples.funding_report(), impact, language="fr")))
    assert "Légumes ? bio" in text


def test_the_rasterized_first_page_shows_the_funds_chart() -> None:
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument(pdf("fr"))
    try:
        image = document[0].render(scale=1).to_pil().convert("RGB")
    finally:
        document.close()
    width, height = image.size
    pixels = image.load()
    assert pixels is not None

    def close(pixel: tuple[int, int, int], colour: tuple[int, int, int]) -> bool:
        return all(abs(a - b) <= 12 for a, b in zip(pixel, colour, strict=True))

    # The stacked bar's three segments (redeemed green, outstanding amber, available pale).
    colours = {"redeemed": (31, 95, 58), "outstanding": (208, 140, 0), "available": (143, 185, 160)}
    found = {key: 0 for key in colours}
    rows_with_chart: set[int] = set()
    for y in range(height):
        for x in range(0, width, 2):
            pixel = pixels[x, y]
            for key, colour in colours.items():
                if close(pixel, colour):
                    found[key] += 1
                    rows_with_chart.add(y)
    assert all(count > 50 for count in found.values()), found
    # Under the title, in the upper half of the page.
    assert min(rows_with_chart) > height * 0.1
    assert max(rows_with_chart) < height * 0.6
    # Its widths follow the figures: outstanding 1 500 < redeemed 3 734,50 < available 7 275,50.
    assert found["outstanding"] < found["redeemed"] < found["available"]


def test_zero_funds_draw_an_empty_chart_without_failing() -> None:
    funding = samples.funding_report()
    zero = samples.amount(0, "0.00")
    nothing = samples.amount(None, "0.00")
    totals = dataclasses.replace(
        funding.totals,
        funds=nothing,
        available=nothing,
        issued=zero,
        outstanding=zero,
        redeemed=zero,
        expired=zero,
    )
    funding = dataclasses.replace(funding, totals=totals, by_funder=[])
    impact = dataclasses.replace(
        samples.impact_report(),
        by_market=[],
        by_week=[],
        by_category=[],
        by_household_size=[],
        share_used=None,
        spent_local=zero,
        survey=[],
    )
    text = extracted(render_report_pdf(layout(funding, impact, language="fr")))
    assert "Aucune donnée pour l'instant." in text
    assert "0,00 $" in text
    assert Decimal(0) == Decimal("0.00")
