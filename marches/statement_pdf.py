"""A vendor's reimbursement statement as a PDF, in French and English.

Free of Django, like `coupons/pdf.py`: the caller turns a statement into a
:class:`PrintableStatement` (plain data) and gets the PDF as bytes from
:func:`render_statement_pdf`.

The document is bilingual because it goes to vendors and to whoever pays them: every label is
"français / English", amounts are written the fr-CA way (``1 234,50 $``), dates as ISO
(``2026-07-04``), which reads the same in both languages. It says the program, the vendor, the
period, the status (a draft says it is not approved), the lines (date, market, coupon, category,
value), the total in dollars and, for a vendor paid in the program's local currency, the rate and
the total in that currency, then the payment's reference once paid.

Only the PDF base-14 fonts (Helvetica) are used; they are WinAnsi-encoded, which covers French;
any character outside it is approximated before drawing, so it never prints as a black box.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

__all__ = [
    "STATUS_LABELS",
    "PrintableStatement",
    "StatementLine",
    "format_amount_fr",
    "render_statement_pdf",
]

STATUS_LABELS = {
    "draft": "Brouillon / Draft",
    "approved": "Approuvé / Approved",
    "paid": "Payé / Paid",
}

_FONT = "Helvetica"
_FONT_BOLD = "Helvetica-Bold"
_MARGIN = 0.6 * inch
_NBSP = "\u00a0"
_NARROW_NBSP = "\u202f"
_WINANSI_SUBSTITUTES = str.maketrans(
    {
        _NARROW_NBSP: _NBSP,
        "\u2009": " ",  # thin space
        "\u2007": _NBSP,  # figure space
        "\u2011": "-",  # non-breaking hyphen
        "\u2212": "-",  # minus sign
    }
)


@dataclass(frozen=True)
class StatementLine:
    """One redemption on the statement."""

    scanned_on: date
    market: str
    serial: str
    category_fr: str
    category_en: str
    value: Decimal
    honoured: bool = False  # a scan in conflict that the coordination chose to reimburse


@dataclass(frozen=True)
class PrintableStatement:
    """Everything printed on a statement; plain data, no model instances."""

    number: int
    program_name: str
    vendor_name: str
    period_start: date
    period_end: date
    status: str  # draft | approved | paid
    lines: Sequence[StatementLine]
    count: int
    total: Decimal
    generated_on: date
    local_currency: str = ""
    local_rate: Decimal | None = None
    local_total: Decimal | None = None
    approved_on: date | None = None
    paid_on: date | None = None
    paid_reference: str = ""


def format_amount_fr(value: Decimal) -> str:
    """An amount the fr-CA way without its currency: ``1 234,50`` (narrow no-break spaces)."""
    amount = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    units, cents = f"{abs(amount):.2f}".split(".")
    groups: list[str] = []
    while len(units) > 3:
        groups.insert(0, units[-3:])
        units = units[:-3]
    groups.insert(0, units)
    return f"{sign}{_NARROW_NBSP.join(groups)},{cents}"


def _dollars(value: Decimal) -> str:
    return f"{format_amount_fr(value)}{_NBSP}$"


def _local(value: Decimal, currency: str) -> str:
    return f"{format_amount_fr(value)}{_NBSP}{currency}"


def _rate(value: Decimal) -> str:
    return f"{value:.4f}".replace(".", ",")


def _drawable(text: str) -> str:
    """`text` made drawable with the WinAnsi-encoded base-14 fonts."""
    text = unicodedata.normalize("NFC", text).translate(_WINANSI_SUBSTITUTES)
    chars: list[str] = []
    for char in text:
        try:
            char.encode("cp1252")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", char).encode("cp1252", "ignore")
            chars.append(decomposed.decode("cp1252") or "?")
        else:
            chars.append(char)
    return "".join(chars)


def _markup(text: str) -> str:
    """Plain text as Paragraph markup: drawable and with <, > and & escaped."""
    return escape(_drawable(text))


_STYLES = {
    "title": ParagraphStyle("title", fontName=_FONT_BOLD, fontSize=16, leading=20, spaceAfter=4),
    "subtitle": ParagraphStyle("subtitle", fontName=_FONT, fontSize=10, leading=13),
    "warning": ParagraphStyle(
        "warning", fontName=_FONT_BOLD, fontSize=10, leading=13, textColor=colors.darkred
    ),
    "heading": ParagraphStyle(
        "heading", fontName=_FONT_BOLD, fontSize=11, leading=14, spaceBefore=10, spaceAfter=4
    ),
    "cell": ParagraphStyle("cell", fontName=_FONT, fontSize=8.5, leading=10.5),
    "cell_bold": ParagraphStyle("cell_bold", fontName=_FONT_BOLD, fontSize=8.5, leading=10.5),
    "fact": ParagraphStyle("fact", fontName=_FONT, fontSize=9.5, leading=12),
    "fact_label": ParagraphStyle("fact_label", fontName=_FONT_BOLD, fontSize=9.5, leading=12),
    "note": ParagraphStyle(
        "note", fontName=_FONT, fontSize=8, leading=10, textColor=colors.HexColor("#444444")
    ),
}


def _p(text: str, style: str = "cell") -> Paragraph:
    return Paragraph(_markup(text), _STYLES[style])


def _facts(statement: PrintableStatement) -> list[tuple[str, str]]:
    facts = [
        ("Programme / Program", statement.program_name),
        ("Marchand·e / Vendor", statement.vendor_name),
        (
            "Période / Period",
            f"{statement.period_start.isoformat()} – {statement.period_end.isoformat()}",
        ),
        ("Statut / Status", STATUS_LABELS.get(statement.status, statement.status)),
    ]
    if statement.approved_on:
        facts.append(("Approuvé le / Approved on", statement.approved_on.isoformat()))
    if statement.paid_on:
        facts.append(("Payé le / Paid on", statement.paid_on.isoformat()))
    if statement.paid_reference:
        facts.append(("Référence du paiement / Payment reference", statement.paid_reference))
    facts.append(("Échanges / Redemptions", str(statement.count)))
    facts.append(("Total (CAD)", _dollars(statement.total)))
    if statement.local_total is not None and statement.local_currency:
        if statement.local_rate is not None:
            facts.append(
                (
                    "Taux / Rate",
                    f"1{_NBSP}$ = {_rate(statement.local_rate)}{_NBSP}{statement.local_currency}",
                )
            )
        facts.append(
            (
                f"Total en monnaie locale / Total in local currency ({statement.local_currency})",
                _local(statement.local_total, statement.local_currency),
            )
        )
    return facts


def _facts_table(statement: PrintableStatement, width: float) -> Table:
    rows = [[_p(label, "fact_label"), _p(value, "fact")] for label, value in _facts(statement)]
    table = Table(rows, colWidths=[width * 0.42, width * 0.58], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def _lines_table(statement: PrintableStatement, width: float) -> Table:
    header = [
        _p("Date", "cell_bold"),
        _p("Marché / Market", "cell_bold"),
        _p("Coupon", "cell_bold"),
        _p("Catégorie / Category", "cell_bold"),
        Paragraph(
            "Valeur / Value",
            ParagraphStyle("value_head", parent=_STYLES["cell_bold"], alignment=2),
        ),
    ]
    right_bold = ParagraphStyle("right_bold", parent=_STYLES["cell_bold"], alignment=2)
    rows: list[list[Any]] = [header]
    for line in statement.lines:
        category = line.category_fr
        if line.category_en and line.category_en != line.category_fr:
            category = f"{line.category_fr} / {line.category_en}"
        if line.honoured:
            category = f"{category} (honoré / honoured)" if category else "honoré / honoured"
        # Plain strings (drawn as they are) where nothing needs to wrap: a season's statement
        # may have thousands of lines, and a Paragraph per cell is what costs the most.
        rows.append(
            [
                line.scanned_on.isoformat(),
                _p(line.market),
                _drawable(line.serial),
                _p(category or "—"),
                _drawable(_dollars(line.value)),
            ]
        )
    rows.append(
        [
            _p("Total", "cell_bold"),
            "",
            "",
            "",
            Paragraph(_markup(_dollars(statement.total)), right_bold),
        ]
    )
    widths = [0.14, 0.28, 0.18, 0.26, 0.14]
    table = Table(rows, colWidths=[width * w for w in widths], repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 1), (-1, -1), _FONT, 8.5, 10.5),
                ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return table


def render_statement_pdf(statement: PrintableStatement) -> bytes:
    """The statement as a PDF document (US Letter, portrait), as bytes."""
    buffer = io.BytesIO()
    title = f"Relevé de remboursement nº {statement.number} / Reimbursement statement"
    document = SimpleDocTemplate(
        buffer,
        pagesize=letter,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=_drawable(title),
        author=_drawable(statement.program_name),
        subject=_drawable(statement.vendor_name),
    )
    width = document.width
    story: list[Any] = [
        Paragraph(_markup(title), _STYLES["title"]),
        Paragraph(
            _markup(f"{statement.vendor_name} — {statement.program_name}"), _STYLES["subtitle"]
        ),
        Spacer(1, 6),
    ]
    if statement.status == "draft":
        story.append(
            Paragraph(
                _markup(
                    "Brouillon : ce relevé n'est pas encore approuvé. "
                    "/ Draft: this statement is not approved yet."
                ),
                _STYLES["warning"],
            )
        )
        story.append(Spacer(1, 6))
    story.append(_facts_table(statement, width))
    story.append(Paragraph(_markup("Échanges / Redemptions"), _STYLES["heading"]))
    if statement.lines:
        story.append(_lines_table(statement, width))
    else:
        story.append(Paragraph(_markup("Aucun échange. / No redemptions."), _STYLES["cell"]))
    story.append(Spacer(1, 10))
    story.append(
        Paragraph(
            _markup(
                "Coupons acceptés et scans en double honorés par la coordination, chacun "
                "remboursé une seule fois. / Accepted coupons and double scans honoured by the "
                f"coordination, each reimbursed once. — {statement.generated_on.isoformat()}"
            ),
            _STYLES["note"],
        )
    )

    def footer(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(_FONT, 7.5)
        canvas.drawRightString(
            letter[0] - _MARGIN,
            _MARGIN / 2,
            _drawable(f"Relevé nº {statement.number} / Statement #{statement.number} — {doc.page}"),
        )
        canvas.restoreState()

    document.build(story, onFirstPage=footer, onLaterPages=footer)
    return buffer.getvalue()
