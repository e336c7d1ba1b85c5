"""The report as a PDF a funder can forward as is (reportlab): a title page, the headline
figures, then each section with its chart and its table.

Text is real PDF text (extractable, searchable) in the PDF base-14 fonts (Helvetica), which
encode WinAnsi: it covers French; anything outside it is approximated before drawing. Charts are
drawn with `reportlab.graphics` from the same `rapports.charts.Chart`s the web page shows.
"""

from __future__ import annotations

import io
import unicodedata
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import (
    CondPageBreak,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from rapports.charts import BAR_FILL, EMPTY_FILL, SEGMENT_FILLS, Bar, Chart, report_charts
from rapports.report_sections import Layout, Section, in_report_language

PAGE_WIDTH, PAGE_HEIGHT = letter
MARGIN = 0.75 * inch
FRAME_WIDTH = PAGE_WIDTH - 2 * MARGIN
INK = colors.HexColor("#1b1f23")
MUTED = colors.HexColor("#4a5560")
WASH = colors.HexColor("#f4f6f3")
LINE = colors.HexColor("#c9d1d9")
BRAND = colors.HexColor("#1f5f3a")
FONT = "Helvetica"
BARS_PER_DRAWING = 30
BOLD = "Helvetica-Bold"

# Headline figures: (section, row, column index of the cell shown).
HEADLINES = [
    ("funding", "funds", 2),
    ("funding", "issued", 2),
    ("funding", "redeemed", 2),
    ("funding", "outstanding", 2),
    ("funding", "expired", 2),
    ("funding", "available", 2),
    ("funding", "reimbursed", 2),
    ("impact", "households", 1),
    ("impact", "people", 1),
    ("impact", "share_used", 2),
    ("impact", "spent_local", 2),
    ("impact", "vendors", 1),
    ("impact", "markets", 1),
]


def pdf_text(text: str) -> str:
    """`text` with every character outside WinAnsi (cp1252) approximated: the base-14 fonts
    would draw a black box instead."""
    out = []
    for char in text:
        if char in "\u202f\u2009":  # narrow and thin spaces (babel's French grouping)
            out.append("\xa0")
            continue
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char)
            ascii_ = decomposed.encode("ascii", "ignore").decode()
            out.append(ascii_ or "?")
    return "".join(out)


def _para_text(text: str) -> str:
    return escape(pdf_text(text))


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    return {
        "title": ParagraphStyle(
            "title", parent=base["Title"], fontName=BOLD, fontSize=26, leading=32, textColor=BRAND
        ),
        "subtitle": ParagraphStyle(
            "subtitle", parent=base["Normal"], fontName=BOLD, fontSize=16, leading=22
        ),
        "normal": ParagraphStyle(
            "normal", parent=base["Normal"], fontName=FONT, fontSize=10, leading=13
        ),
        "muted": ParagraphStyle(
            "muted", parent=base["Normal"], fontName=FONT, fontSize=9, leading=12, textColor=MUTED
        ),
        "h2": ParagraphStyle(
            "h2", parent=base["Heading2"], fontName=BOLD, fontSize=14, leading=18, textColor=BRAND
        ),
        "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=10.5),
        "cell_num": ParagraphStyle(
            "cell_num", fontName=FONT, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
        ),
        "head": ParagraphStyle("head", fontName=BOLD, fontSize=8.5, leading=10.5),
        "head_num": ParagraphStyle(
            "head_num", fontName=BOLD, fontSize=8.5, leading=10.5, alignment=TA_RIGHT
        ),
    }


# Charts ------------------------------------------------------------------------------------


def _fit(text: str, width: float, size: float) -> str:
    text = pdf_text(text)
    if stringWidth(text, FONT, size) <= width:
        return text
    while text and stringWidth(text + "…", FONT, size) > width:
        text = text[:-1]
    return text + "…"


def _bars_drawing(chart: Chart, bars: list[Bar]) -> Drawing:
    """Some of `chart`'s bars (a page holds about thirty), at the scale of the whole chart."""
    row, bar_h, size = 18.0, 11.0, 8.5
    label_w, value_w = 150.0, 80.0
    area = FRAME_WIDTH - label_w - value_w
    height = row * len(bars) + 4
    drawing = Drawing(FRAME_WIDTH, height)
    for i, bar in enumerate(bars):
        y = height - (i + 1) * row
        drawing.add(
            String(
                label_w - 6,
                y + 2,
                _fit(bar.label, label_w - 8, size),
                fontName=FONT,
                fontSize=size,
                textAnchor="end",
                fillColor=INK,
            )
        )
        fill = colors.HexColor(EMPTY_FILL)
        drawing.add(Rect(label_w, y, area, bar_h, fillColor=fill, strokeColor=None))
        length = area * chart.share(bar)
        if length > 0:
            drawing.add(
                Rect(
                    label_w, y, length, bar_h, fillColor=colors.HexColor(BAR_FILL), strokeColor=None
                )
            )
        drawing.add(
            String(
                label_w + area + 6,
                y + 2,
                pdf_text(bar.text),
                fontName=FONT,
                fontSize=size,
                fillColor=INK,
            )
        )
    return drawing


def _stacked_drawing(chart: Chart) -> Drawing:
    bar_h, row, size = 22.0, 15.0, 9.0
    legend = [*chart.bars, *([chart.total] if chart.total else [])]
    height = bar_h + 12 + row * len(legend)
    drawing = Drawing(FRAME_WIDTH, height)
    top = height - bar_h
    drawing.add(
        Rect(0, top, FRAME_WIDTH, bar_h, fillColor=colors.HexColor(EMPTY_FILL), strokeColor=None)
    )
    x = 0.0
    for bar in chart.bars:
        length = FRAME_WIDTH * chart.share(bar)
        fill = colors.HexColor(SEGMENT_FILLS.get(bar.key, BAR_FILL))
        if length > 0:
            drawing.add(Rect(x, top, length, bar_h, fillColor=fill, strokeColor=None))
        x += length
    for i, bar in enumerate(legend):
        y = top - 12 - (i + 1) * row + 4
        fill_hex = SEGMENT_FILLS.get(bar.key)
        drawing.add(
            Rect(
                0,
                y,
                9,
                9,
                fillColor=colors.HexColor(fill_hex) if fill_hex else colors.white,
                strokeColor=INK,
                strokeWidth=0.5,
            )
        )
        drawing.add(
            String(
                15,
                y + 1,
                pdf_text(f"{bar.label} : {bar.text}"),
                fontName=FONT,
                fontSize=size,
                fillColor=INK,
            )
        )
    return drawing


def chart_drawings(chart: Chart) -> list[Drawing]:
    if chart.kind == "stacked":
        return [_stacked_drawing(chart)]
    bars = chart.bars
    return [
        _bars_drawing(chart, bars[i : i + BARS_PER_DRAWING])
        for i in range(0, len(bars), BARS_PER_DRAWING)
    ]


# Tables ------------------------------------------------------------------------------------


def _cell_styles(styles: dict[str, ParagraphStyle], size: float) -> dict[str, ParagraphStyle]:
    if size == styles["cell"].fontSize:
        return styles
    return {
        key: ParagraphStyle(f"{key}_{size}", parent=styles[key], fontSize=size, leading=size + 1.5)
        for key in ("cell", "cell_num", "head", "head_num")
    }


def _section_table(section: Section, styles: dict[str, ParagraphStyle]) -> Table:
    numeric = [
        any(row.cells[i].numeric for row in section.rows) if i else False
        for i in range(len(section.columns))
    ]
    wide = len(section.columns) > 5  # the programs side by side: ten columns
    styles = _cell_styles(styles, 6.5 if wide else 8.5)
    header = [
        Paragraph(_para_text(column.title), styles["head_num" if numeric[i] else "head"])
        for i, column in enumerate(section.columns)
    ]
    body = []
    for row in [*section.rows, *([section.total] if section.total else [])]:
        body.append(
            [
                Paragraph(_para_text(cell.text), styles["cell_num" if numeric[i] else "cell"])
                for i, cell in enumerate(row.cells)
            ]
        )
    texts = [i for i in range(1, len(section.columns)) if not numeric[i]]
    first = FRAME_WIDTH * (0.17 if wide else 0.4)
    text_width = FRAME_WIDTH * (0.1 if wide else 0.15)
    rest = FRAME_WIDTH - first - text_width * len(texts)
    numbers = max(len(section.columns) - 1 - len(texts), 1)
    widths = [first] + [
        text_width if i in texts else rest / numbers for i in range(1, len(section.columns))
    ]
    table = Table([header, *body], colWidths=widths, repeatRows=1)
    padding = 2 if wide else 4
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), WASH),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), padding),
        ("RIGHTPADDING", (0, 0), (-1, -1), padding),
    ]
    if section.total:
        style.append(("LINEABOVE", (0, -1), (-1, -1), 1, INK))
    table.setStyle(TableStyle(style))
    return table


def _headline_table(layout: Layout, styles: dict[str, ParagraphStyle]) -> Table:
    rows = []
    for section_key, row_key, index in HEADLINES:
        section = layout.section(section_key)
        row = next((r for r in section.rows if r.key == row_key), None)
        if row is None:
            continue
        rows.append(
            [
                Paragraph(_para_text(row.label), styles["cell"]),
                Paragraph(_para_text(row.cells[index].text), styles["cell_num"]),
            ]
        )
    table = Table(rows, colWidths=[FRAME_WIDTH * 0.6, FRAME_WIDTH * 0.4])
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


# The document ------------------------------------------------------------------------------


def _story(layout: Layout, charts: list[Chart]) -> list[Flowable]:
    styles = _styles()
    funds = next((chart for chart in charts if chart.kind == "stacked"), None)
    by_section = {chart.section: chart for chart in charts if chart.kind == "bars"}
    # The title page tells the story at a glance: where the funds went.
    story: list[Flowable] = [
        Spacer(1, 0.8 * inch),
        Paragraph(_para_text(layout.title), styles["title"]),
        Spacer(1, 0.25 * inch),
        Paragraph(_para_text(layout.label), styles["subtitle"]),
        Paragraph(_para_text(layout.scope_title), styles["normal"]),
        Spacer(1, 0.15 * inch),
        Paragraph(_para_text(layout.as_of), styles["normal"]),
        Spacer(1, 0.4 * inch),
    ]
    if funds is not None:
        story += [
            Paragraph(_para_text(funds.title), styles["h2"]),
            *chart_drawings(funds),
            Spacer(1, 0.3 * inch),
        ]
    story.append(
        Paragraph(
            _para_text(
                _(
                    "Chiffres tirés directement du registre des fonds, des coupons et des "
                    "échanges : chaque total est la somme des écritures qu'il représente."
                )
            ),
            styles["muted"],
        )
    )
    if layout.suppressed:
        story += [
            Spacer(1, 0.15 * inch),
            Paragraph(_para_text(layout.suppression_note), styles["muted"]),
        ]
    story += [PageBreak(), Paragraph(_para_text(_("Faits saillants")), styles["h2"])]
    story.append(_headline_table(layout, styles))
    for section in layout.sections:
        story.append(CondPageBreak(1.5 * inch))
        story.append(Paragraph(_para_text(section.title), styles["h2"]))
        chart = by_section.get(section.key)
        if chart is not None:
            story += [*chart_drawings(chart), Spacer(1, 0.12 * inch)]
        if section.rows:
            story.append(_section_table(section, styles))
        else:
            story.append(Paragraph(_para_text(_("Aucune donnée pour l'instant.")), styles["muted"]))
        if section.has_suppressed:
            story += [Spacer(1, 4), Paragraph(_para_text(layout.suppression_note), styles["muted"])]
    return story


def render_report_pdf(layout: Layout) -> bytes:
    """The PDF of `layout` (already in its language), with its charts."""
    charts = report_charts(layout)
    with in_report_language(layout.language):
        story = _story(layout, charts)
        footer = pdf_text(f"{layout.title} · {layout.label}")
        page_word = _("Page {n}")

    def on_page(canvas, doc) -> None:  # type: ignore[no-untyped-def]
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, 0.5 * inch, footer)
        canvas.drawRightString(
            PAGE_WIDTH - MARGIN, 0.5 * inch, pdf_text(page_word.format(n=doc.page))
        )
        canvas.restoreState()

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=pdf_text(f"{layout.title} · {layout.label}"),
        author="Coupons nourriciers",
        lang="en-CA" if layout.language.startswith("en") else "fr-CA",
    )
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return buffer.getvalue()
