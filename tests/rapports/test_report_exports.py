"""CSV and XLSX: a parse round trip, numbers as numbers, suppressed cells never 0, formula-like
text neutralised; and the SVG charts' markup."""

from __future__ import annotations

import csv
import dataclasses
import io
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from django.utils.translation import gettext
from openpyxl import load_workbook

from rapports.charts import chart_svg, report_charts
from rapports.report_exports import (
    CSV_HEADER,
    neutralise,
    report_csv,
    report_xlsx,
    sheet_title,
)
from rapports.report_sections import Layout, layout
from rapports.report_types import Breakdown
from tests.rapports import report_samples as samples


def sample(language: str = "fr", *, scope: str = "program", funder: bool = False) -> Layout:
    impact = samples.impact_report(scope)
    if funder:
        impact = samples.suppressed(impact)
    return layout(samples.funding_report(scope), impact, language=language, min_cell=5)


def csv_rows(report: Layout) -> list[dict[str, str]]:
    content = report_csv(report)
    assert content.startswith("\ufeff".encode())  # spreadsheet software reads it as UTF-8
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def find(rows: list[dict[str, str]], section: str, row: str, measure: str) -> dict[str, str]:
    [found] = [r for r in rows if (r["section"], r["row"], r["measure"]) == (section, row, measure)]
    return found


# CSV -----------------------------------------------------------------------------------------


def test_the_csv_reads_back_every_figure() -> None:
    rows = csv_rows(sample())

    assert list(rows[0]) == CSV_HEADER
    funds = find(rows, "funding", "funds", "value")
    assert Decimal(funds["value"]) == Decimal("12510.00")
    assert funds["unit"] == "CAD"
    assert funds["label"] == "Fonds du programme"
    assert find(rows, "funding", "funds", "count")["value"] == ""  # no count applies
    assert int(find(rows, "funding", "issued", "count")["value"]) == 1100
    assert Decimal(find(rows, "funding", "refunds", "value")["value"]) == Decimal("-20.00")
    assert Decimal(find(rows, "impact", "share_used", "value")["value"]) == Decimal("0.7850")
    market = find(rows, "by_market", "deschambault", "value")
    assert Decimal(market["value"]) == Decimal("1234.50")
    assert int(find(rows, "by_market", "deschambault", "households")["value"]) == 70
    assert int(find(rows, "by_funder", "Fondation Lucie", "value")["value"].split(".")[0]) == 10000
    for row in rows:
        if row["unit"] in {"CAD", "share", "score"} and row["value"]:
            Decimal(row["value"])  # every number is a plain number
        if row["unit"] == "count" and row["value"]:
            int(row["value"])


def test_the_csv_sums_reconcile_with_the_totals() -> None:
    rows = csv_rows(sample())
    by_market = sum(
        Decimal(r["value"]) for r in rows if r["section"] == "by_market" and r["measure"] == "value"
    )
    assert by_market == Decimal(find(rows, "impact", "spent_local", "value")["value"])


def test_suppressed_cells_are_flagged_empty_never_zero_in_the_csv() -> None:
    rows = csv_rows(sample(funder=True))

    hidden = find(rows, "by_market", "deschambault", "households")
    assert (hidden["value"], hidden["suppressed"]) == ("", "1")
    assert find(rows, "impact", "households_with_children", "count")["suppressed"] == "1"
    shown = find(rows, "by_market", "saint-casimir", "households")
    assert (shown["value"], shown["suppressed"]) == ("80", "0")
    # Money is kept whole in a funder's copy.
    assert find(rows, "by_market", "deschambault", "value")["value"] == "1234.50"


def test_formula_like_text_is_neutralised_in_the_csv() -> None:
    rows = csv_rows(sample(scope="network"))
    program = find(rows, "programs", "=cmd", "funds")
    assert program["label"] == "'=cmd|' /C calc'!A0"
    for row in rows:
        for value in (row["label"], row["title"]):
            assert not value.startswith(("=", "+", "-", "@")), value


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6", "'+33 6"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("Marché = bon", "Marché = bon"),
    ],
)
def test_neutralise(text: str, safe: str) -> None:
    assert neutralise(text) == safe


def test_the_csv_speaks_the_language_asked() -> None:
    rows = csv_rows(sample("en"))
    funds = find(rows, "funding", "funds", "value")
    assert funds["value"] == "12510.00"  # numbers do not change with the language
    with translation.override("en"):
        assert funds["title"] == gettext("Valeur")
        assert funds["label"] == gettext("Fonds du programme")


# XLSX ----------------------------------------------------------------------------------------


def workbook(report: Layout) -> Any:
    return load_workbook(io.BytesIO(report_xlsx(report)))


def test_the_xlsx_has_a_cover_and_one_sheet_per_section() -> None:
    report = sample()
    book = workbook(report)

    assert book.sheetnames[0] == "Rapport"
    assert book.sheetnames[1:] == [section.title[:31] for section in report.sections]
    cover = book["Rapport"]
    assert cover["A1"].value == "Rapport de financement et d'impact"
    assert cover["A2"].value == "Programme de Portneuf"


def test_xlsx_numbers_are_numbers() -> None:
    book = workbook(sample())
    sheet = book["Financement"]
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}

    funds = rows["Fonds du programme"]
    assert isinstance(funds[2].value, int | float | Decimal)
    assert Decimal(str(funds[2].value)) == Decimal("12510.00")
    assert funds[1].value is None  # no count applies
    assert "0.00" in funds[2].number_format
    issued = rows["Coupons émis"]
    assert issued[1].value == 1100
    assert issued[1].data_type == "n"
    impact = {row[0].value: row for row in book["Impact"].iter_rows(min_row=2)}
    share = impact["Part des coupons utilisés"][2]
    assert float(share.value) == pytest.approx(0.785)
    assert share.number_format == "0.0%"


def test_xlsx_suppressed_cells_say_less_than_five_with_the_note() -> None:
    book = workbook(sample(funder=True))
    sheet = book["Échanges par marché"]
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]

    by_label = {row[0]: row for row in values if row and row[0]}
    assert by_label["Marché de Deschambault-Grondines"][1] == "< 5"
    assert by_label["Marché de Saint-Casimir"][1] == 80
    assert any(row[0] and "moins de 5 ménages" in str(row[0]) for row in values)
    assert "moins de 5 ménages" in str(book["Rapport"]["A6"].value)


def test_xlsx_formula_like_text_stays_text() -> None:
    book = workbook(sample(scope="network"))
    sheet = book["Programmes côte à côte"]
    labels = [row[0] for row in sheet.iter_rows(min_row=2)]

    [cell] = [c for c in labels if "cmd" in str(c.value)]
    assert cell.value == "'=cmd|' /C calc'!A0"
    assert cell.data_type == "s"
    for row in sheet.iter_rows():
        for c in row:
            assert c.data_type != "f"


def test_sheet_titles_are_valid_and_unique() -> None:
    taken: set[str] = set()
    first = sheet_title("Échanges par catégorie de produits [bio]: 2026/27?", taken)
    second = sheet_title("Échanges par catégorie de produits [bio]: 2026/27?", taken)

    assert len(first) <= 31 and len(second) <= 31
    assert not set("[]:*?/\\") & set(first + second)
    assert first != second


# SVG charts ----------------------------------------------------------------------------------


def test_the_svg_charts_are_accessible_and_escaped() -> None:
    impact = samples.impact_report()
    impact = type(impact)(
        **{
            **impact.__dict__,
            "by_market": [
                Breakdown("x", "<script>alert(1)</script>", 10, samples.amount(2, "10.00")),
                *impact.by_market,
            ],
        }
    )
    report = layout(samples.funding_report(), impact, language="fr")
    charts = {chart.key: chart for chart in report_charts(report)}

    markup = str(chart_svg(charts["by_market"]))
    assert 'role="img"' in markup
    assert '<title id="chart-by_market-title">Valeur échangée par marché</title>' in markup
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    assert "style=" not in markup
    assert "1 500,00 $".replace(" ", "\xa0") in markup

    funds = str(chart_svg(charts["funds"]))
    assert 'class="chart__segment chart__segment--redeemed"' in funds
    assert "Disponibles : 7\xa0275,50\xa0$" in funds


def test_the_bars_follow_the_figures_and_a_suppressed_bar_is_empty() -> None:
    impact = samples.suppressed(samples.impact_report())
    hidden = [dataclasses.replace(row, households=None) for row in impact.by_household_size[:2]]
    impact = dataclasses.replace(
        impact,
        by_household_size=[*hidden, impact.by_household_size[2]],
        suppressed=[*impact.suppressed, "by_household_size:1", "by_household_size:2"],
    )
    report = layout(samples.funding_report(), impact, language="fr")
    charts = {chart.key: chart for chart in report_charts(report)}
    by_market = charts["by_market"]
    shares = {bar.key: by_market.share(bar) for bar in by_market.bars}
    assert shares["saint-casimir"] == 1.0
    assert shares["deschambault"] == pytest.approx(1234.5 / 1500)

    sizes = charts["by_household_size"]
    assert [bar.text for bar in sizes.bars] == ["< 5", "< 5", "100"]
    assert [sizes.share(bar) for bar in sizes.bars] == [0.0, 0.0, 1.0]
    assert 'class="chart__bar chart__bar--suppressed"' in str(chart_svg(sizes))

    funds = charts["funds"]
    assert sum(funds.share(bar) for bar in funds.bars) == pytest.approx(1.0)
