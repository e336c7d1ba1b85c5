"""The report as CSV and XLSX, from the same sections as the page and the PDF.

CSV: one "long" table that any tool reads back (one line per figure), UTF-8 with a byte order
mark so that spreadsheet software shows the accents: `section, row, label, measure, title, value,
unit, suppressed`. `value` is a plain number ("1234.50" dollars, "0.7850" for a share), or text,
empty when not applicable or suppressed (`suppressed` is then 1).

XLSX (openpyxl): a first sheet with the report's title, then one sheet per section, numbers as
numbers with a display format; a suppressed cell holds the text "< 5" and the sheet ends with
the note that explains it.

Text that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return first) is
neutralised with a leading apostrophe in both formats.
"""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from rapports.report_sections import Cell, Kind, Layout, Section, State, in_report_language

CSV_HEADER = ["section", "row", "label", "measure", "title", "value", "unit", "suppressed"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def neutralise(text: str) -> str:
    """Text a spreadsheet would not evaluate (OWASP's advice against CSV injection)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def _unit(cell: Cell, currency: str) -> str:
    return {
        Kind.MONEY: currency,
        Kind.COUNT: "count",
        Kind.SHARE: "share",
        Kind.SCORE: "score",
        Kind.TEXT: "text",
    }[cell.kind]


def _raw(cell: Cell) -> str:
    if cell.state is not State.VALUE or cell.value is None:
        return ""
    if isinstance(cell.value, str):
        return neutralise(cell.value)
    return str(cell.value)


def report_csv(layout: Layout) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for section in layout.sections:
        rows = [*section.rows, *([section.total] if section.total else [])]
        for row in rows:
            for column, cell in zip(section.columns[1:], row.cells[1:], strict=True):
                if cell.state is State.NOT_APPLICABLE and cell.kind is Kind.TEXT:
                    continue  # a blank filler cell, not a figure
                writer.writerow(
                    [
                        section.key,
                        row.key,
                        neutralise(row.label),
                        column.key,
                        neutralise(column.title),
                        _raw(cell),
                        _unit(cell, layout.currency),
                        "1" if cell.suppressed else "0",
                    ]
                )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# XLSX --------------------------------------------------------------------------------------


def _money_format(layout: Layout) -> str:
    return '"$"#,##0.00' if layout.language.startswith("en") else '#,##0.00\\ "$"'


def _number_format(cell: Cell, layout: Layout) -> str | None:
    return {
        Kind.MONEY: _money_format(layout),
        Kind.COUNT: "#,##0",
        Kind.SHARE: "0.0%",
        Kind.SCORE: "0.00",
    }.get(cell.kind)


def sheet_title(title: str, taken: set[str]) -> str:
    """A valid, unique sheet name (31 characters, none of []:*?/\\)."""
    base = SHEET_FORBIDDEN.sub(" ", title).strip()[:31] or "Section"
    name, n = base, 2
    while name.casefold() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.casefold())
    return name


def _xlsx_value(cell: Cell) -> str | int | float | Decimal | None:
    if cell.state is State.SUPPRESSED:
        return cell.text  # "< 5": never 0
    if cell.value is None:
        return None
    if isinstance(cell.value, str):
        return neutralise(cell.value)
    if isinstance(cell.value, Decimal):
        # openpyxl writes a Decimal as a number; a float would lose nothing at two places
        # either, but keeping Decimal avoids any binary rounding in the file.
        return cell.value
    return cell.value


def _write_section(workbook: Workbook, section: Section, layout: Layout, taken: set[str]) -> None:
    sheet = workbook.create_sheet(sheet_title(section.title, taken))
    sheet.append([neutralise(column.title) for column in section.columns])
    for header in sheet[1]:
        header.font = Font(bold=True)
    rows = [*section.rows, *([section.total] if section.total else [])]
    for row in rows:
        sheet.append([_xlsx_value(cell) for cell in row.cells])
        for target, cell in zip(sheet[sheet.max_row], row.cells, strict=True):
            number_format = _number_format(cell, layout)
            if number_format and cell.state is State.VALUE:
                target.number_format = number_format
            if cell.state is State.SUPPRESSED:
                target.alignment = Alignment(horizontal="right")
        if row is section.total:
            for target in sheet[sheet.max_row]:
                target.font = Font(bold=True)
    if section.has_suppressed:
        sheet.append([])
        sheet.append([layout.suppression_note])
    sheet.column_dimensions["A"].width = 42
    for index in range(2, len(section.columns) + 1):
        sheet.column_dimensions[get_column_letter(index)].width = 18
    sheet.freeze_panes = "B2"


def report_xlsx(layout: Layout) -> bytes:
    workbook = Workbook()
    cover = workbook.active
    assert cover is not None
    taken: set[str] = set()
    with in_report_language(layout.language):
        cover.title = sheet_title(_("Rapport"), taken)
        for line in (layout.title, layout.label, layout.scope_title, layout.as_of):
            cover.append([neutralise(line)])
        cover["A1"].font = Font(bold=True, size=14)
        if layout.suppressed:
            cover.append([])
            cover.append([layout.suppression_note])
        cover.column_dimensions["A"].width = 80
    for section in layout.sections:
        _write_section(workbook, section, layout, taken)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
